// Read-only aggregates over the ledger and daily totals (admin API, dashboard, /metrics, reconcile).
// Pure SQL over one connection; the shaping (local days, charts) stays with the callers.
import type Database from 'better-sqlite3';
import type { KeySession, LedgerWindow, MetricsRows, ModelSpend, UsageFilter, EventFilter } from './store.js';
import type { EventChannel, EventRecord, SpendFilter, StoredLedgerRow } from './types.js';

type Params = Record<string, string | number | null>;

const camel = (col: string): string => col.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A ledger row with the store's field names (camelCase of the columns). */
export function ledgerRowOf(r: Record<string, unknown>): StoredLedgerRow {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) out[camel(k)] = v;
  out.priceEstimated = r.price_estimated === 1;
  return out as unknown as StoredLedgerRow;
}

function filterWhere(f: SpendFilter | undefined, params: Params): string {
  if (f === undefined || f === 'all') return '';
  if ('keyId' in f) {
    params.key_id = f.keyId;
    return ' AND key_id = @key_id';
  }
  params.tag = f.tag;
  return ' AND tag = @tag';
}

/** WHERE for ledger (ts) or daily totals (day_start) over a window. */
function windowWhere(w: LedgerWindow, column: 'ts' | 'day_start', params: Params): string {
  params.since = w.since;
  params.until = w.until ?? Number.MAX_SAFE_INTEGER;
  let where = `${column} >= @since AND ${column} < @until`;
  if (w.keyName !== undefined) {
    where += ' AND key_name = @key_name';
    params.key_name = w.keyName;
  }
  return where + filterWhere(w.filter, params);
}

export function mergeModels(rows: ModelSpend[]): ModelSpend[] {
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

export class SqliteReports {
  readonly #db: Database.Database;
  constructor(db: Database.Database) {
    this.#db = db;
  }

  byModel(w: LedgerWindow): ModelSpend[] {
    const p: Params = {};
    const rows = this.#db
      .prepare(`SELECT provider, model, COUNT(*) AS requests, SUM(input_tokens) AS inputTokens, SUM(output_tokens) AS outputTokens, SUM(cost_nanos) AS costNanos FROM ledger WHERE ${windowWhere(w, 'ts', p)} GROUP BY provider, model`)
      .all(p) as ModelSpend[];
    const q: Params = {};
    rows.push(
      ...(this.#db
        .prepare(`SELECT provider, model, SUM(requests) AS requests, SUM(input_tokens) AS inputTokens, SUM(output_tokens) AS outputTokens, SUM(cost_nanos) AS costNanos FROM daily_totals WHERE ${windowWhere(w, 'day_start', q)} GROUP BY provider, model`)
        .all(q) as ModelSpend[]),
    );
    return mergeModels(rows);
  }

  outcomes(w: LedgerWindow): Record<string, number> {
    const p: Params = {};
    const out: Record<string, number> = {};
    for (const r of this.#db.prepare(`SELECT outcome, COUNT(*) AS n FROM ledger WHERE ${windowWhere(w, 'ts', p)} GROUP BY outcome`).all(p) as Array<{ outcome: string; n: number }>) out[r.outcome] = r.n;
    return out;
  }

  buckets(w: LedgerWindow, bucketMs: number): Array<{ start: number; keyName: string; model: string; requests: number; costNanos: number }> {
    const p: Params = { bucket: bucketMs };
    return (
      this.#db
        .prepare(`SELECT ts / @bucket AS q, COALESCE(key_name, '') AS k, model AS m, COUNT(*) AS n, SUM(cost_nanos) AS c FROM ledger WHERE ${windowWhere(w, 'ts', p)} GROUP BY q, k, m`)
        .all(p) as Array<{ q: number; k: string; m: string; n: number; c: number }>
    ).map((r) => ({ start: Math.floor(r.q) * bucketMs, keyName: r.k, model: r.m, requests: r.n, costNanos: r.c }));
  }

  dailyByDay(w: LedgerWindow): Array<{ day: string; keyName: string; model: string; requests: number; costNanos: number }> {
    const p: Params = {};
    return (
      this.#db.prepare(`SELECT day, key_name AS k, model AS m, SUM(requests) AS n, SUM(cost_nanos) AS c FROM daily_totals WHERE ${windowWhere(w, 'day_start', p)} GROUP BY day, k, m ORDER BY day`).all(p) as Array<{
        day: string;
        k: string;
        m: string;
        n: number;
        c: number;
      }>
    ).map((r) => ({ day: r.day, keyName: r.k, model: r.m, requests: r.n, costNanos: r.c }));
  }

  usagePage(f: UsageFilter): { total: number; rows: StoredLedgerRow[] } {
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
    const total = this.#db.prepare(`SELECT COUNT(*) FROM ledger WHERE ${where}`).pluck(true).get(params) as number;
    const rows = (this.#db.prepare(`SELECT * FROM ledger WHERE ${where} ORDER BY id DESC LIMIT @limit OFFSET @offset`).all(params) as Array<Record<string, unknown>>).map(ledgerRowOf);
    return { total, rows };
  }

  eventsPage(f: EventFilter): { total: number; rows: EventRecord[] } {
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
    const total = this.#db.prepare(`SELECT COUNT(*) FROM events WHERE ${where}`).pluck(true).get(params) as number;
    const rows = this.#db.prepare(`SELECT * FROM events WHERE ${where} ORDER BY id DESC LIMIT @limit OFFSET @offset`).all(params) as EventDbRow[];
    return { total, rows: rows.map(toEvent) };
  }

  metrics(bucketsS: readonly number[]): MetricsRows {
    const requests = this.#db
      .prepare('SELECT key_name AS key, provider, outcome, COUNT(*) AS count, SUM(cost_nanos) AS costNanos FROM ledger GROUP BY key_name, provider, outcome ORDER BY key_name, provider, outcome')
      .all() as MetricsRows['requests'];
    const cols = bucketsS.map((s, i) => `SUM(CASE WHEN duration_ms <= ${Math.round(s * 1000)} THEN 1 ELSE 0 END) AS b${i}`).join(', ');
    // Blocked requests never went upstream: their 0 ms would flatten the histogram.
    const row = this.#db.prepare(`SELECT ${cols}${cols ? ',' : ''} COUNT(*) AS n, COALESCE(SUM(duration_ms), 0) AS s FROM ledger WHERE outcome != 'blocked'`).get() as Record<string, number | null>;
    return { requests, duration: { buckets: bucketsS.map((_, i) => row[`b${i}`] ?? 0), count: row.n ?? 0, sumMs: row.s ?? 0 } };
  }

  modelsInUse(sinceMs: number, limit: number): Array<{ provider: string; model: string; lastTs: number }> {
    const rows = this.#db
      .prepare('SELECT provider, model, MAX(ts) AS lastTs FROM ledger WHERE ts >= @since GROUP BY provider, model ORDER BY lastTs DESC LIMIT @limit')
      .all({ since: sinceMs, limit }) as Array<{ provider: string; model: string; lastTs: number }>;
    if (rows.length < limit) {
      // Rows retention folded away still name models the user ran in the window.
      const seen = new Set(rows.map((r) => `${r.provider}\u0000${r.model}`));
      const folded = this.#db
        .prepare('SELECT provider, model, MAX(day_start) AS lastTs FROM daily_totals WHERE day_start >= @since GROUP BY provider, model ORDER BY lastTs DESC LIMIT @limit')
        .all({ since: sinceMs, limit }) as Array<{ provider: string; model: string; lastTs: number }>;
      for (const r of folded) if (rows.length < limit && !seen.has(`${r.provider}\u0000${r.model}`)) rows.push(r);
    }
    return rows;
  }

  keySessions(keyId: number, sinceMs: number, limit: number): KeySession[] {
    // With a single MAX() in the query, SQLite takes the bare `outcome` from the row holding the max id: the last request's.
    return this.#db
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

  estimatedCount(filter: SpendFilter, sinceMs: number): number {
    const p: Params = { since: sinceMs };
    return this.#db.prepare(`SELECT COUNT(*) FROM ledger WHERE ts >= @since AND price_estimated = 1${filterWhere(filter, p)}`).pluck(true).get(p) as number;
  }

  providerRows(provider: string, sinceMs: number): StoredLedgerRow[] {
    return (this.#db.prepare("SELECT * FROM ledger WHERE provider = ? AND ts >= ? AND outcome != 'blocked' ORDER BY id").all(provider, sinceMs) as Array<Record<string, unknown>>).map(ledgerRowOf);
  }
}

interface EventDbRow {
  id: number;
  ts: number;
  kind: string;
  budget: string | null;
  channel: string;
  cap_before_nanos: number | null;
  cap_after_nanos: number | null;
  detail: string | null;
}

export const toEvent = (r: EventDbRow): EventRecord => ({
  id: r.id,
  ts: r.ts,
  kind: r.kind,
  budget: r.budget,
  channel: r.channel as EventChannel,
  capBeforeNanos: r.cap_before_nanos,
  capAfterNanos: r.cap_after_nanos,
  detail: r.detail,
});
