// Read-only SQL for the admin API: pages of the ledger and events, and aggregates for stats,
// budgets' per-model breakdown and /metrics. Rows retention folded into daily totals count too.
import { localDay, localTime, startOfLocalDay } from '../budgets/index.js';
import type { Nanos } from '../pricing/index.js';
import type { BudgetRecord, EventRecord, EventChannel, SqliteStore, StoredLedgerRow } from '../store/index.js';

type Params = Record<string, string | number | null>;

/** Which ledger rows a budget counts: its key's, its tag's, or all (global). */
function budgetWhere(b: Pick<BudgetRecord, 'scope' | 'keyId' | 'name'>, params: Params): string {
  if (b.scope === 'global') return '';
  if (b.scope === 'tag') {
    params.tag = b.name;
    return 'AND tag = @tag';
  }
  params.key = b.keyId ?? -1;
  return 'AND key_id = @key';
}

export interface ModelSpend {
  provider: string;
  model: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costNanos: Nanos;
}

function mergeModels(rows: ModelSpend[]): ModelSpend[] {
  const by = new Map<string, ModelSpend>();
  for (const r of rows) {
    const k = `${r.provider}\u0000${r.model}`;
    const m = by.get(k);
    if (m === undefined) by.set(k, { ...r });
    else {
      m.requests += r.requests;
      m.inputTokens += r.inputTokens;
      m.outputTokens += r.outputTokens;
      m.costNanos += r.costNanos;
    }
  }
  return [...by.values()].sort((a, b) => b.costNanos - a.costNanos || a.model.localeCompare(b.model));
}

const MODEL_COLUMNS = 'provider, model, COUNT(*) AS requests, SUM(input_tokens) AS inputTokens, SUM(output_tokens) AS outputTokens, SUM(cost_nanos) AS costNanos';
const DAILY_MODEL_COLUMNS = 'provider, model, SUM(requests) AS requests, SUM(input_tokens) AS inputTokens, SUM(output_tokens) AS outputTokens, SUM(cost_nanos) AS costNanos';

/** What a budget's requests cost per model since `sinceMs` (its period start). */
export function budgetByModel(store: SqliteStore, b: Pick<BudgetRecord, 'scope' | 'keyId' | 'name'>, sinceMs: number): ModelSpend[] {
  const params: Params = { since: sinceMs };
  const where = budgetWhere(b, params);
  const rows = store.db.prepare(`SELECT ${MODEL_COLUMNS} FROM ledger WHERE ts >= @since ${where} GROUP BY provider, model`).all(params) as ModelSpend[];
  rows.push(...(store.db.prepare(`SELECT ${DAILY_MODEL_COLUMNS} FROM daily_totals WHERE day_start >= @since ${where} GROUP BY provider, model`).all(params) as ModelSpend[]));
  return mergeModels(rows);
}

export interface UsageFilter {
  limit: number;
  offset: number;
  since?: number | undefined;
  until?: number | undefined;
  key?: string | undefined;
  outcome?: string | undefined;
}

/** Newest first. `total` counts every row the filter matches, for paging. */
const camel = (col: string): string => col.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A ledger row with the store's field names (camelCase of the columns), so new columns show up without a change here. */
export function ledgerRow(r: Record<string, unknown>): StoredLedgerRow {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) out[camel(k)] = v;
  out.priceEstimated = r.price_estimated === 1;
  return out as unknown as StoredLedgerRow;
}

export function usagePage(store: SqliteStore, f: UsageFilter): { total: number; rows: StoredLedgerRow[] } {
  const params: Params = { since: f.since ?? 0, until: f.until ?? Number.MAX_SAFE_INTEGER, limit: f.limit, offset: f.offset };
  let where = 'ts >= @since AND ts < @until';
  if (f.key !== undefined) {
    where += ' AND key_name = @key';
    params.key = f.key;
  }
  if (f.outcome !== undefined) {
    where += ' AND outcome = @outcome';
    params.outcome = f.outcome;
  }
  const total = store.db.prepare(`SELECT COUNT(*) FROM ledger WHERE ${where}`).pluck(true).get(params) as number;
  const rows = (store.db.prepare(`SELECT * FROM ledger WHERE ${where} ORDER BY id DESC LIMIT @limit OFFSET @offset`).all(params) as Array<Record<string, unknown>>).map(ledgerRow);
  return { total, rows };
}

export interface EventFilter {
  limit: number;
  offset: number;
  since?: number | undefined;
  until?: number | undefined;
  budget?: string | undefined;
  kind?: string | undefined;
  channel?: string | undefined;
}

export function eventsPage(store: SqliteStore, f: EventFilter): { total: number; rows: EventRecord[] } {
  const params: Params = { since: f.since ?? 0, until: f.until ?? Number.MAX_SAFE_INTEGER, limit: f.limit, offset: f.offset };
  let where = 'ts >= @since AND ts < @until';
  if (f.budget !== undefined) {
    where += ' AND budget = @budget';
    params.budget = f.budget;
  }
  if (f.kind !== undefined) {
    where += ' AND kind = @kind';
    params.kind = f.kind;
  }
  if (f.channel !== undefined) {
    where += ' AND channel = @channel';
    params.channel = f.channel;
  }
  const total = store.db.prepare(`SELECT COUNT(*) FROM events WHERE ${where}`).pluck(true).get(params) as number;
  const rows = store.db.prepare(`SELECT * FROM events WHERE ${where} ORDER BY id DESC LIMIT @limit OFFSET @offset`).all(params) as Array<{
    id: number;
    ts: number;
    kind: string;
    budget: string | null;
    channel: string;
    cap_before_nanos: number | null;
    cap_after_nanos: number | null;
    detail: string | null;
  }>;
  return {
    total,
    rows: rows.map((r) => ({ id: r.id, ts: r.ts, kind: r.kind, budget: r.budget, channel: r.channel as EventChannel, capBeforeNanos: r.cap_before_nanos, capAfterNanos: r.cap_after_nanos, detail: r.detail })),
  };
}

export interface Stats {
  totals: { requests: number; costNanos: Nanos; inputTokens: number; outputTokens: number; byOutcome: Record<string, number> };
  byModel: ModelSpend[];
  byDay: Array<{ day: string; requests: number; costNanos: Nanos }>;
}

/** Every time-zone offset in use is a multiple of 15 minutes: a quarter-hour never straddles two local days. */
const QUARTER_MS = 15 * 60_000;

export function stats(store: SqliteStore, f: { since: number; until: number; key?: string | undefined }, tz: string): Stats {
  const params: Params = { since: f.since, until: f.until };
  let where = 'ts >= @since AND ts < @until';
  let dailyWhere = 'day_start >= @since AND day_start < @until';
  if (f.key !== undefined) {
    where += ' AND key_name = @key';
    dailyWhere += ' AND key_name = @key';
    params.key = f.key;
  }
  const outcomes = store.db.prepare(`SELECT outcome, COUNT(*) AS n FROM ledger WHERE ${where} GROUP BY outcome`).all(params) as Array<{ outcome: string; n: number }>;
  const models = store.db.prepare(`SELECT ${MODEL_COLUMNS} FROM ledger WHERE ${where} GROUP BY provider, model`).all(params) as ModelSpend[];
  const quarters = store.db.prepare(`SELECT ts / ${QUARTER_MS} AS q, COUNT(*) AS n, SUM(cost_nanos) AS c FROM ledger WHERE ${where} GROUP BY q`).all(params) as Array<{ q: number; n: number; c: number }>;
  const days = new Map<string, { requests: number; costNanos: number }>();
  const addDay = (day: string, n: number, c: number) => {
    const d = days.get(day) ?? { requests: 0, costNanos: 0 };
    d.requests += n;
    d.costNanos += c;
    days.set(day, d);
  };
  for (const q of quarters) addDay(localDay(q.q * QUARTER_MS, tz).day, q.n, q.c);
  const byOutcome: Record<string, number> = {};
  for (const o of outcomes) byOutcome[o.outcome] = o.n;
  models.push(...(store.db.prepare(`SELECT ${DAILY_MODEL_COLUMNS} FROM daily_totals WHERE ${dailyWhere} GROUP BY provider, model`).all(params) as ModelSpend[]));
  for (const d of store.db.prepare(`SELECT day, SUM(requests) AS n, SUM(cost_nanos) AS c FROM daily_totals WHERE ${dailyWhere} GROUP BY day`).all(params) as Array<{ day: string; n: number; c: number }>) {
    addDay(d.day, d.n, d.c);
  }
  const byModel = mergeModels(models);
  const totals = byModel.reduce(
    (t, m) => ({ ...t, requests: t.requests + m.requests, costNanos: t.costNanos + m.costNanos, inputTokens: t.inputTokens + m.inputTokens, outputTokens: t.outputTokens + m.outputTokens }),
    { requests: 0, costNanos: 0, inputTokens: 0, outputTokens: 0, byOutcome },
  );
  return { totals, byModel, byDay: [...days].sort(([a], [b]) => a.localeCompare(b)).map(([day, d]) => ({ day, ...d })) };
}

export interface MetricsRows {
  requests: Array<{ key: string; provider: string; outcome: string; count: number; costNanos: number }>;
  duration: { buckets: number[]; count: number; sumMs: number };
}

/** Ledger aggregates for /metrics: one pass per query, over the rows kept (retention resets the counters, as a restart would). */
export function metricsRows(store: SqliteStore, bucketsS: readonly number[]): MetricsRows {
  const requests = store.db.prepare('SELECT key_name AS key, provider, outcome, COUNT(*) AS count, SUM(cost_nanos) AS costNanos FROM ledger GROUP BY key_name, provider, outcome ORDER BY key_name, provider, outcome').all() as MetricsRows['requests'];
  const cols = bucketsS.map((s, i) => `SUM(CASE WHEN duration_ms <= ${Math.round(s * 1000)} THEN 1 ELSE 0 END) AS b${i}`).join(', ');
  // Blocked requests never went upstream: their 0 ms would flatten the histogram.
  const row = store.db.prepare(`SELECT ${cols}${cols ? ',' : ''} COUNT(*) AS n, COALESCE(SUM(duration_ms), 0) AS s FROM ledger WHERE outcome != 'blocked'`).get() as Record<string, number | null>;
  return { requests, duration: { buckets: bucketsS.map((_, i) => row[`b${i}`] ?? 0), count: row.n ?? 0, sumMs: row.s ?? 0 } };
}

/** Each distinct (provider, model) the ledger saw since `sinceMs`, most recently used first, at most `limit`. */
export function modelsInUse(store: SqliteStore, sinceMs: number, limit: number): Array<{ provider: string; model: string; lastTs: number }> {
  const rows = store.db.prepare('SELECT provider, model, MAX(ts) AS lastTs FROM ledger WHERE ts >= @since GROUP BY provider, model ORDER BY lastTs DESC LIMIT @limit').all({ since: sinceMs, limit }) as Array<{ provider: string; model: string; lastTs: number }>;
  if (rows.length < limit) {
    // Rows retention folded away still name models the user ran in the window.
    const seen = new Set(rows.map((r) => `${r.provider}\u0000${r.model}`));
    const folded = store.db.prepare('SELECT provider, model, MAX(day_start) AS lastTs FROM daily_totals WHERE day_start >= @since GROUP BY provider, model ORDER BY lastTs DESC LIMIT @limit').all({ since: sinceMs, limit }) as Array<{ provider: string; model: string; lastTs: number }>;
    for (const r of folded) if (rows.length < limit && !seen.has(`${r.provider}\u0000${r.model}`)) rows.push(r);
  }
  return rows;
}

export interface KeySession {
  session: string;
  requests: number;
  spentNanos: Nanos;
  lastTs: number;
  /** null for a session whose first request is still in flight. */
  lastOutcome: string | null;
}

/** A key's sessions whose last request is at or after `sinceMs`, most recent first: their whole spend (a session cap counts it all) and last outcome. */
export function keySessions(store: SqliteStore, keyId: number, sinceMs: number, limit: number): KeySession[] {
  // With a single MAX() in the query, SQLite takes the bare `outcome` from the row holding the max id: the last request's.
  return store.db
    .prepare(
      `SELECT session, COUNT(*) AS requests, COALESCE(SUM(cost_nanos), 0) AS spentNanos, MAX(id) AS lastId, ts AS lastTs, outcome AS lastOutcome
       FROM ledger WHERE key_id = @key AND session IS NOT NULL GROUP BY session HAVING lastTs >= @since ORDER BY lastId DESC LIMIT @limit`,
    )
    .all({ key: keyId, since: sinceMs, limit })
    .map((r) => {
      const x = r as KeySession & { lastId: number };
      return { session: x.session, requests: x.requests, spentNanos: x.spentNanos, lastTs: x.lastTs, lastOutcome: x.lastOutcome };
    });
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
export function charts(store: SqliteStore, f: { now: number; key?: string | undefined }, tz: string, days: number): Charts {
  const t = localTime(f.now, tz);
  const from = startOfLocalDay(t.year, t.month, t.day - (days - 1), tz);
  const today = startOfLocalDay(t.year, t.month, t.day, tz);
  const params: Params = { since: from, until: f.now + 1 };
  let where = 'ts >= @since AND ts < @until';
  let dailyWhere = 'day_start >= @since AND day_start < @until';
  if (f.key !== undefined) {
    where += ' AND key_name = @key';
    dailyWhere += ' AND key_name = @key';
    params.key = f.key;
  }
  const rows = store.db.prepare(`SELECT ts / ${QUARTER_MS} AS q, COALESCE(key_name, '') AS k, model AS m, SUM(cost_nanos) AS c FROM ledger WHERE ${where} GROUP BY q, k, m`).all(params) as Array<{ q: number; k: string; m: string; c: number }>;
  const byKey = new Map<string, number>();
  const byModel = new Map<string, number>();
  const byHour = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, c: number) => m.set(k, (m.get(k) ?? 0) + c);
  const pad = (n: number) => String(n).padStart(2, '0');
  // Quarters arrive in any order: cache each quarter's local day and hour.
  const at = new Map<number, { day: string; hour: string | null }>();
  for (const r of rows) {
    let w = at.get(r.q);
    if (w === undefined) {
      const ms = r.q * QUARTER_MS;
      const lt = localTime(ms, tz);
      const day = `${lt.year}-${pad(lt.month)}-${pad(lt.day)}`;
      w = { day, hour: ms >= today ? `${day}T${pad(lt.hour)}` : null };
      at.set(r.q, w);
    }
    add(byKey, `${w.day}\u0000${r.k}`, r.c);
    add(byModel, `${w.day}\u0000${r.m}`, r.c);
    if (w.hour !== null) add(byHour, w.hour, r.c);
  }
  // Rows retention folded away still count, by day (their hour is gone; today is never folded).
  for (const d of store.db.prepare(`SELECT day, key_name AS k, model AS m, SUM(cost_nanos) AS c FROM daily_totals WHERE ${dailyWhere} GROUP BY day, k, m`).all(params) as Array<{ day: string; k: string; m: string; c: number }>) {
    add(byKey, `${d.day}\u0000${d.k}`, d.c);
    add(byModel, `${d.day}\u0000${d.m}`, d.c);
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
