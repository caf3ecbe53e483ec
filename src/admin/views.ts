// The JSON shapes the admin API answers with. Money is USD (numbers, like `spendcap status --json`);
// times are ISO 8601. No provider key, token or token hash ever appears here.
import type { BudgetStatus, Suggestion } from '../budgets/index.js';
import type { ResolvedPrice, UnknownModelError } from '../pricing/index.js';
import type { BudgetRecord, EventRecord, KeyRecord, PriceRecord, StoredLedgerRow } from '../store/index.js';
import type { ReconcileReport } from '../reconcile/index.js';
import type { LiveBudget } from './live.js';
import type { Charts, KeySession, ModelSpend, Stats } from './queries.js';

const usd = (nanos: number): number => nanos / 1e9;
const usdOrNull = (nanos: number | null | undefined): number | null => (nanos === null || nanos === undefined ? null : nanos / 1e9);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function liveBudget(s: BudgetStatus): LiveBudget {
  return {
    name: s.name,
    scope: s.scope,
    period: s.period,
    mode: s.mode,
    killed: s.killed,
    capUsd: usd(s.capNanos),
    spentUsd: usd(s.spentNanos),
    heldUsd: usd(s.heldNanos),
    remainingUsd: usd(s.remainingNanos),
  };
}

export function budgetView(s: BudgetStatus, r: BudgetRecord | undefined) {
  return {
    id: r?.id ?? null,
    ...liveBudget(s),
    ceilingUsd: usdOrNull(s.ceilingNanos),
    sessionCapUsd: usdOrNull(s.sessionCapNanos),
    clamp: r?.clamp ?? false,
    autotune: r?.autotune ?? 'off',
    periodStart: iso(s.periodStart),
    periodEnd: iso(s.periodEnd),
    estimatedPriceRequests: s.estimatedPriceRequests,
    updatedAt: iso(r?.updatedAt ?? null),
  };
}

export function modelView(m: ModelSpend) {
  return { provider: m.provider, model: m.model, requests: m.requests, inputTokens: m.inputTokens, outputTokens: m.outputTokens, costUsd: usd(m.costNanos) };
}

/** One of a key's sessions: `capUsd` is the session cap that applies (null: none), `open` whether a request of it is in flight. */
export function sessionView(x: KeySession, capNanos: number | null, open: boolean) {
  return { id: x.session, session: x.session, requests: x.requests, spentUsd: usd(x.spentNanos), capUsd: usdOrNull(capNanos), lastSeen: iso(x.lastTs), lastOutcome: x.lastOutcome, open };
}

export function suggestionView(s: Suggestion) {
  return { suggestedUsd: usdOrNull(s.suggestedNanos), reason: s.reason };
}

export function eventView(e: EventRecord) {
  return { id: e.id, ts: iso(e.ts), kind: e.kind, budget: e.budget, channel: e.channel, capBeforeUsd: usdOrNull(e.capBeforeNanos), capAfterUsd: usdOrNull(e.capAfterNanos), detail: e.detail };
}

export function usageView(r: StoredLedgerRow) {
  const { ts, costNanos, providerCostNanos, meteredCostNanos, ...rest } = r;
  return { ...rest, ts: iso(ts), costUsd: usd(costNanos), providerCostUsd: usdOrNull(providerCostNanos), meteredCostUsd: usdOrNull(meteredCostNanos) };
}

/** A key as listings show it: the hint of its token, never the token, its hash or the provider key. */
export function keyView(k: KeyRecord, b: BudgetRecord | undefined) {
  return {
    name: k.name,
    provider: k.provider,
    baseUrl: k.baseUrl,
    tokenHint: k.tokenHint,
    createdAt: iso(k.createdAt),
    budget: b === undefined ? null : { capUsd: usd(b.capNanos), period: b.period, mode: b.mode, killed: b.killed, ceilingUsd: usdOrNull(b.ceilingNanos), sessionCapUsd: usdOrNull(b.sessionCapNanos) },
  };
}

/** Prices in USD per million tokens, as `spendcap price set` takes them. */
export function priceView(p: PriceRecord) {
  return { model: p.model, input: usd(p.input), output: usd(p.output), cacheRead: usdOrNull(p.cacheRead), cacheWrite: usdOrNull(p.cacheWrite), updatedAt: iso(p.updatedAt) };
}

export function statsView(s: Stats, since: number, until: number | null) {
  return {
    since: iso(since),
    until: iso(until),
    totals: { requests: s.totals.requests, costUsd: usd(s.totals.costNanos), inputTokens: s.totals.inputTokens, outputTokens: s.totals.outputTokens, byOutcome: s.totals.byOutcome },
    byModel: s.byModel.map(modelView),
    byDay: s.byDay.map((d) => ({ day: d.day, requests: d.requests, costUsd: usd(d.costNanos) })),
  };
}

/** A model seen in the ledger with the rates it is charged at now (USD per Mtok); source "unknown" when nothing prices it. */
export function inUseView(provider: string, model: string, p: ResolvedPrice | UnknownModelError | null) {
  if (p === null || !('rates' in p)) return { provider, model, pricedAs: null, source: 'unknown' as const, estimated: false, inputUsd: null, outputUsd: null, cacheReadUsd: null, cacheWrite5mUsd: null, cacheWrite1hUsd: null };
  const r = p.rates;
  return { provider, model, pricedAs: p.pricedAs, source: p.source, estimated: p.estimated, inputUsd: usd(r.input), outputUsd: usd(r.output), cacheReadUsd: usd(r.cacheRead), cacheWrite5mUsd: usd(r.cacheWrite5m), cacheWrite1hUsd: usd(r.cacheWrite1h) };
}

export function chartsView(c: Charts) {
  return {
    byDayKey: c.byDayKey.map((d) => ({ day: d.day, key: d.key, costUsd: usd(d.costNanos) })),
    byDayModel: c.byDayModel.map((d) => ({ day: d.day, model: d.model, costUsd: usd(d.costNanos) })),
    byHour: c.byHour.map((d) => ({ hour: d.hour, costUsd: usd(d.costNanos) })),
  };
}

/** The last reconciliation (spendcap reconcile), in USD; null before the first. */
export function reconcileView(r: ReconcileReport | null) {
  if (r === null) return null;
  return {
    ranAt: r.ranAt,
    since: r.since,
    absDriftUsd: usd(r.absDriftNanos),
    correctedUsd: usd(r.correctedNanos),
    corrections: r.corrections.length,
    lines: r.lines.map((l) => ({ source: l.source, subject: l.subject, day: l.day, ledgerUsd: usd(l.ledgerNanos), providerUsd: usd(l.providerNanos), driftUsd: usd(l.driftNanos), rows: l.rows, missing: l.missing })),
    notes: r.notes,
  };
}
