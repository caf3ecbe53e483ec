// Pure: what an alert says, which buttons it carries, which channels it goes to, and the burn-rate
// forecast. No I/O here; the dispatcher feeds it live figures.
import { formatUsd, usdToNanos } from '../pricing/index.js';
import type { Nanos } from '../pricing/index.js';
import type { Alert, AlertButton, AlertKind, ChannelConfig } from './types.js';

/** Events a channel gets when it names none: everything a person would act on. */
export const DEFAULT_EVENTS: readonly AlertKind[] = ['threshold', 'block', 'cut', 'kill', 'lift', 'forecast', 'unknown-price', 'ask'];
/** The names `--events` accepts. */
export const EVENT_NAMES: readonly AlertKind[] = ['threshold', 'block', 'cut', 'kill', 'lift', 'forecast', 'unknown-price', 'ask'];

/** "$5.00" → "$5", "$1.50" stays: button labels are short. */
export function shortUsd(m: Nanos): string {
  return formatUsd(m).replace(/\.00$/, '');
}

/** The one-tap raises every alert about a reached cap carries. */
export function bumpButtons(): AlertButton[] {
  return [
    ...[1, 5, 10].map((usd) => ({ action: 'add' as const, label: `+${shortUsd(usdToNanos(usd))}`, addNanos: usdToNanos(usd) })),
    { action: 'kill', label: 'Kill' },
  ];
}

export interface AlertFacts {
  kind: AlertKind;
  budget: string;
  scope: Alert['scope'];
  spentNanos: Nanos;
  capNanos: Nanos;
  periodStart: number | null;
  periodEnd: number | null;
  thresholdPct?: number;
  /** forecast: when the cap is reached at the current burn rate. */
  reachAt?: number;
  /** block/cut: how many so far in this period. */
  count?: number;
  /** ask: the held request's id and the raise it asks for. */
  askId?: string;
  askAddNanos?: Nanos;
  keyName?: string | null;
  model?: string;
  /** lift/kill: who did it, from the event row. */
  by?: string;
  detail?: string | null;
}

/** The subject a person reads: `key "work"` for a key's budget, `budget "team"` otherwise. */
export function subject(scope: Alert['scope'], budget: string): string {
  return scope === 'key' ? `key "${budget}"` : scope === 'session' ? `session of key "${budget}"` : `budget "${budget}"`;
}

/** Clock time in the budget's zone, "15:40". */
export function clock(ms: number, tz: string): string {
  return new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', hour12: false, timeZone: tz }).format(new Date(ms));
}

/** Dedupe keys: one row per fact worth one message. Thresholds and forecasts: once per period; blocks and cuts: one per period whose count grows. */
export function dedupeKeyOf(f: AlertFacts, eventId?: number): string {
  const p = f.periodStart ?? 0;
  switch (f.kind) {
    case 'threshold':
      return `threshold:${f.budget}:${f.thresholdPct ?? 0}:${p}`;
    case 'forecast':
      return `forecast:${f.budget}:${p}`;
    case 'block':
    case 'cut':
      // A block after a raise is news again: the cap is part of the key.
      return `${f.kind}:${f.budget}:${p}:${f.capNanos}`;
    case 'unknown-price':
      return `unknown-price:${f.model ?? ''}`;
    case 'ask':
      return `ask:${f.askId ?? ''}`;
    default:
      return `${f.kind}:${f.budget}:${eventId ?? Date.now()}`;
  }
}

export function buildAlert(f: AlertFacts, opts: { id: string; dashboardUrl: string; tz: string; now: number; eventId?: number }): Alert {
  const who = subject(f.scope, f.budget);
  const money = `${formatUsd(f.spentNanos)} of ${formatUsd(f.capNanos)}`;
  const resets = f.periodEnd === null ? '' : `resets ${clock(f.periodEnd, opts.tz)}${f.periodEnd - opts.now > 24 * 3600_000 ? ` on ${new Date(f.periodEnd).toISOString().slice(0, 10)}` : ''}`;
  const count = f.count ?? 1;
  let title: string;
  let lines: string[] = [];
  let buttons: AlertButton[] = [];
  switch (f.kind) {
    case 'threshold':
      title = (f.thresholdPct ?? 0) >= 100 ? `${who} reached ${money}` : `${who} is at ${f.thresholdPct}%: ${money}`;
      if ((f.thresholdPct ?? 0) >= 80) buttons = bumpButtons();
      break;
    case 'block':
      title = `${who} reached ${money}: ${count === 1 ? 'a request was' : `${count} requests were`} refused`;
      buttons = bumpButtons();
      break;
    case 'cut':
      title = `${who} reached ${money}: ${count === 1 ? 'a stream was' : `${count} streams were`} cut`;
      buttons = bumpButtons();
      break;
    case 'kill':
      title = `${who} was killed${f.by ? ` (${f.by})` : ''}: ${money}`;
      break;
    case 'lift':
      title = `${who} was raised: cap is now ${formatUsd(f.capNanos)}${f.by ? ` (${f.by})` : ''}`;
      break;
    case 'forecast':
      title = `${who}: at this rate the cap is reached at ${clock(f.reachAt ?? opts.now, opts.tz)}`;
      lines.push(`Spent ${money} so far; the last 15 minutes' burn rate reaches the cap before the period ends.`);
      buttons = bumpButtons();
      break;
    case 'unknown-price':
      title = `model "${f.model ?? '?'}" is priced as an estimate (${who})`;
      lines.push('spendcap does not know its price; set one with: spendcap price set MODEL --input USD --output USD');
      break;
    case 'ask': {
      const add = shortUsd(f.askAddNanos ?? 0);
      title = `Allow +${add} for ${who}?`;
      lines.push(`A request${f.model ? ` (${f.model})` : ''} is waiting: ${money} spent. Allow raises the cap by ${add}; Deny refuses it.`);
      buttons = [
        { action: 'approve', label: `Allow +${add}`, addNanos: f.askAddNanos ?? 0, askId: f.askId ?? '' },
        { action: 'deny', label: 'Deny', askId: f.askId ?? '' },
      ];
      break;
    }
    case 'test':
      title = `spendcap test alert for ${who}`;
      lines.push('If you can read this, alerts reach you here.');
      break;
  }
  if (f.kind !== 'test' && f.kind !== 'ask') lines = [`Spent ${money}${resets ? `, ${resets}` : ''}.`, ...lines];
  if (f.detail) lines.push(f.detail);
  return {
    id: opts.id,
    dedupeKey: dedupeKeyOf(f, opts.eventId),
    kind: f.kind,
    budget: f.budget,
    scope: f.scope,
    ...(f.thresholdPct !== undefined ? { thresholdPct: f.thresholdPct } : {}),
    spentNanos: f.spentNanos,
    capNanos: f.capNanos,
    ...(f.periodEnd !== null ? { periodEnd: new Date(f.periodEnd).toISOString() } : {}),
    count,
    title,
    text: [...lines, `Dashboard: ${opts.dashboardUrl}`].join('\n'),
    dashboardUrl: opts.dashboardUrl,
    buttons,
    ts: new Date(opts.now).toISOString(),
  };
}

/** Whether a channel wants this alert: its budgets (none = every budget) and its events (none = the defaults). Tests always go. */
export function routes(cfg: Pick<ChannelConfig, 'budgets' | 'events'>, alert: Pick<Alert, 'kind' | 'budget'>): boolean {
  if (alert.kind === 'test') return true;
  if (cfg.budgets.length > 0 && !cfg.budgets.includes(alert.budget)) return false;
  const events = cfg.events.length > 0 ? cfg.events : DEFAULT_EVENTS;
  // A held request is a question, not news: every channel routed to the budget that can answer gets it.
  if (alert.kind === 'ask') return true;
  return events.includes(alert.kind);
}

/** "threshold,block" → kinds; unknown names are an error the user can fix. */
export function parseEvents(text: string): AlertKind[] {
  const out: AlertKind[] = [];
  for (const raw of text.split(',')) {
    const e = raw.trim();
    if (e === '') continue;
    if (!(EVENT_NAMES as readonly string[]).includes(e)) throw new Error(`unknown event "${e}"; use any of ${EVENT_NAMES.join(',')}`);
    if (!out.includes(e as AlertKind)) out.push(e as AlertKind);
  }
  return out;
}

/** The highest threshold crossed, or null: jumping from 0 to 100% sends one alert, not three. */
export function crossedThreshold(spentNanos: Nanos, capNanos: Nanos, thresholds: readonly number[]): number | null {
  let hit: number | null = null;
  for (const pct of thresholds) if (capNanos > 0 && spentNanos * 100 >= capNanos * pct) hit = pct;
  return hit;
}

export const FORECAST_WINDOW_MS = 15 * 60_000;

/**
 * When the cap is reached at the burn rate of the last 15 minutes, if before the period ends; else null.
 * Needs spend spread over at least a minute, so one expensive request does not predict the day.
 */
export function forecastReach(input: { spentNanos: Nanos; capNanos: Nanos; periodEnd: number | null; now: number; recent: ReadonlyArray<{ ts: number; costNanos: Nanos }> }): number | null {
  const { spentNanos, capNanos, periodEnd, now, recent } = input;
  if (periodEnd === null || capNanos <= 0 || spentNanos >= capNanos || recent.length < 2) return null;
  const first = recent[0]!.ts;
  if (now - first < 60_000) return null;
  const burned = recent.reduce((s, r) => s + r.costNanos, 0);
  if (burned <= 0) return null;
  const window = Math.min(FORECAST_WINDOW_MS, now - first);
  const perMs = burned / window;
  const reach = now + (capNanos - spentNanos) / perMs;
  return reach < periodEnd ? Math.round(reach) : null;
}

/** Retry delay after `attempts` failures: 1 s, 2 s, 4 s … capped at 5 minutes, so a channel down for an hour is tried about every 5 minutes. */
export function backoffMs(attempts: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, attempts - 1));
}

/**
 * A channel that was down has several pending rows: it gets the newest per budget, and the rows it
 * already failed to take are superseded (the latest state, not a flood). Rows not tried yet are
 * news, never a backlog: a cut and a threshold queued in the same tick both go out. Questions
 * (ask) are never superseded nor supersede.
 */
export function supersededBy<T extends { id: string; budget: string; kind: string; updatedAt: number; attempts: number }>(pending: readonly T[]): string[] {
  const newest = new Map<string, T>();
  for (const r of pending) {
    if (r.kind === 'ask' || r.kind === 'test') continue;
    const n = newest.get(r.budget);
    if (n === undefined || r.updatedAt >= n.updatedAt) newest.set(r.budget, r);
  }
  return pending.filter((r) => r.kind !== 'ask' && r.kind !== 'test' && r.attempts > 0 && newest.get(r.budget) !== r).map((r) => r.id);
}
