// The admin API's read models over the Store: pages of the ledger and events, and aggregates for
// stats, budgets' per-model breakdown and /metrics. Rows retention folded into daily totals count too.
// No SQL here: the store answers the sums; this file shapes them (local days, charts).
import { localDay, localTime, startOfLocalDay } from '../budgets/index.js';
import type { Nanos } from '../pricing/index.js';
import type { BudgetRecord, EventFilter, EventRecord, KeySession, MetricsRows, ModelSpend, SpendFilter, Store, StoredLedgerRow, UsageFilter } from '../store/index.js';

export type { EventFilter, KeySession, MetricsRows, ModelSpend, UsageFilter };

function filterOfBudget(b: Pick<BudgetRecord, 'scope' | 'keyId' | 'name'>): SpendFilter {
  if (b.scope === 'global') return 'all';
  if (b.scope === 'tag') return { tag: b.name };
  return { keyId: b.keyId ?? -1 };
}

/** What a budget's requests cost per model since `sinceMs` (its period start). */
export function budgetByModel(store: Store, b: Pick<BudgetRecord, 'scope' | 'keyId' | 'name'>, sinceMs: number): Promise<ModelSpend[]> {
  return store.ledger.byModel({ since: sinceMs, filter: filterOfBudget(b) });
}

/** Newest first. `total` counts every row the filter matches, for paging. */
export function usagePage(store: Store, f: UsageFilter): Promise<{ total: number; rows: StoredLedgerRow[] }> {
  return store.ledger.search(f);
}

export function eventsPage(store: Store, f: EventFilter): Promise<{ total: number; rows: EventRecord[] }> {
  return store.events.search(f);
}

export interface Stats {
  totals: { requests: number; costNanos: Nanos; inputTokens: number; outputTokens: number; byOutcome: Record<string, number> };
  byModel: ModelSpend[];
  byDay: Array<{ day: string; requests: number; costNanos: Nanos }>;
}

/** Every time-zone offset in use is a multiple of 15 minutes: a quarter-hour never straddles two local days. */
const QUARTER_MS = 15 * 60_000;

export async function stats(store: Store, f: { since: number; until: number; key?: string | undefined }, tz: string): Promise<Stats> {
  const w = { since: f.since, until: f.until, keyName: f.key };
  const [byOutcome, byModel, quarters, daily] = await Promise.all([store.ledger.outcomes(w), store.ledger.byModel(w), store.ledger.buckets(w, QUARTER_MS), store.daily.byDay(w)]);
  const days = new Map<string, { requests: number; costNanos: number }>();
  const addDay = (day: string, n: number, c: number) => {
    const d = days.get(day) ?? { requests: 0, costNanos: 0 };
    d.requests += n;
    d.costNanos += c;
    days.set(day, d);
  };
  // Quarters arrive per key and model: the local day is computed once per quarter.
  const dayOf = new Map<number, string>();
  for (const q of quarters) {
    let day = dayOf.get(q.start);
    if (day === undefined) {
      day = localDay(q.start, tz).day;
      dayOf.set(q.start, day);
    }
    addDay(day, q.requests, q.costNanos);
  }
  for (const d of daily) addDay(d.day, d.requests, d.costNanos);
  const totals = byModel.reduce(
    (t, m) => ({ ...t, requests: t.requests + m.requests, costNanos: t.costNanos + m.costNanos, inputTokens: t.inputTokens + m.inputTokens, outputTokens: t.outputTokens + m.outputTokens }),
    { requests: 0, costNanos: 0, inputTokens: 0, outputTokens: 0, byOutcome },
  );
  return { totals, byModel, byDay: [...days].sort(([a], [b]) => a.localeCompare(b)).map(([day, d]) => ({ day, ...d })) };
}

/** Ledger aggregates for /metrics: one pass per query, over the rows kept (retention resets the counters, as a restart would). */
export function metricsRows(store: Store, bucketsS: readonly number[]): Promise<MetricsRows> {
  return store.ledger.metrics(bucketsS);
}

/** Each distinct (provider, model) the ledger saw since `sinceMs`, most recently used first, at most `limit`. */
export function modelsInUse(store: Store, sinceMs: number, limit: number): Promise<Array<{ provider: string; model: string; lastTs: number }>> {
  return store.ledger.modelsInUse(sinceMs, limit);
}

/** A key's sessions whose last request is at or after `sinceMs`, most recent first: their whole spend (a session cap counts it all) and last outcome. */
export function keySessions(store: Store, keyId: number, sinceMs: number, limit: number): Promise<KeySession[]> {
  return store.ledger.keySessions(keyId, sinceMs, limit);
}

export interface Charts {
  byDayKey: Array<{ day: string; key: string; costNanos: Nanos }>;
  byDayModel: Array<{ day: string; model: string; costNanos: Nanos }>;
  byHour: Array<{ hour: string; costNanos: Nanos }>;
}

/**
 * The overview's charts, in the data dir's zone: spend per local day and key, and per day and model,
 * over the last `days` days (today included), and today's spend per local hour ("2026-03-01T13").
 * Grouped by quarter-hour in SQL (no zone offset splits a quarter), then bucketed by local time here.
 */
export async function charts(store: Store, f: { now: number; key?: string | undefined }, tz: string, days: number): Promise<Charts> {
  const t = localTime(f.now, tz);
  const from = startOfLocalDay(t.year, t.month, t.day - (days - 1), tz);
  const today = startOfLocalDay(t.year, t.month, t.day, tz);
  const w = { since: from, until: f.now + 1, keyName: f.key };
  const [rows, daily] = await Promise.all([store.ledger.buckets(w, QUARTER_MS), store.daily.byDay(w)]);
  const byKey = new Map<string, number>();
  const byModel = new Map<string, number>();
  const byHour = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, c: number) => m.set(k, (m.get(k) ?? 0) + c);
  const pad = (n: number) => String(n).padStart(2, '0');
  // Quarters arrive in any order: cache each quarter's local day and hour.
  const at = new Map<number, { day: string; hour: string | null }>();
  for (const r of rows) {
    let w = at.get(r.start);
    if (w === undefined) {
      const ms = r.start;
      const lt = localTime(ms, tz);
      const day = `${lt.year}-${pad(lt.month)}-${pad(lt.day)}`;
      w = { day, hour: ms >= today ? `${day}T${pad(lt.hour)}` : null };
      at.set(r.start, w);
    }
    add(byKey, `${w.day}\u0000${r.keyName}`, r.costNanos);
    add(byModel, `${w.day}\u0000${r.model}`, r.costNanos);
    if (w.hour !== null) add(byHour, w.hour, r.costNanos);
  }
  // Rows retention folded away still count, by day (their hour is gone; today is never folded).
  for (const d of daily) {
    add(byKey, `${d.day}\u0000${d.keyName}`, d.costNanos);
    add(byModel, `${d.day}\u0000${d.model}`, d.costNanos);
  }
  const split = (k: string): [string, string] => {
    const i = k.indexOf('\u0000');
    return [k.slice(0, i), k.slice(i + 1)];
  };
  const sorted = <T>(m: Map<string, number>, f: (k: string, c: number) => T): T[] => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, c]) => f(k, c));
  return {
    byDayKey: sorted(byKey, (k, c) => {
      const [day, key] = split(k);
      return { day, key, costNanos: c };
    }),
    byDayModel: sorted(byModel, (k, c) => {
      const [day, model] = split(k);
      return { day, model, costNanos: c };
    }),
    byHour: sorted(byHour, (hour, c) => ({ hour, costNanos: c })),
  };
}
