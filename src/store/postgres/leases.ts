import type pg from 'pg';
import type { HoldRecord, LedgerRow } from '../types.js';
import { SHORT_CHANNEL } from './migrations.js';

/** Anything that runs a query: the pool or one client. */
export type Queryable = Pick<pg.Pool, 'query'>;

/** Which room: one budget in one period. */
export interface Slot {
  budgetId: number;
  periodStart: number;
}

/** A budget's row after a grant or a flush, for the next fair-share decision. */
export interface RoomRow extends Slot {
  capNanos: number;
  spentNanos: number;
  leasedNanos: number;
  killed: boolean;
  mode: 'hard' | 'soft';
  activeInstances: number;
}

/** Every query this module sends counts here: the round-trip figures in docs/deploy.md come from it. */
export const roundTrips = { count: 0 };

async function run<T extends pg.QueryResultRow>(q: Queryable, sql: string, params: unknown[]): Promise<pg.QueryResult<T>> {
  roundTrips.count++;
  return q.query<T>(sql, params);
}

/** Creates the room row of a budget's period (spent 0) if no instance has yet. */
export async function ensureRoom(q: Queryable, slot: Slot): Promise<void> {
  await run(q, 'INSERT INTO budget_room (budget_id, period_start) VALUES ($1, $2) ON CONFLICT DO NOTHING', [slot.budgetId, slot.periodStart]);
}

/**
 * The atomic admission: takes up to `want` (at least `need`) of the room into this instance's lease.
 * The row is locked first (FOR UPDATE waits for a concurrent grant and then reads its result), and
 * the UPDATE's own WHERE re-checks spent + leased + grant <= cap, so two instances can never both
 * take the last room. Returns the grant (0 when refused) and the row as it is now. With `signal`, a
 * refusal also tells the other instances (NOTIFY on SHORT_CHANNEL, sent when the statement commits)
 * that this one is short, so they give back part of their free slices without waiting.
 */
export async function grantLease(
  q: Queryable,
  a: Slot & { instanceId: string; needNanos: number; wantNanos: number; expiresAt: number; activeSince: number; signal?: boolean },
): Promise<{ grantedNanos: number; room: RoomRow | null }> {
  const sql = `
WITH cur AS (
  SELECT r.budget_id, r.period_start, b.cap_nanos, b.killed, b.mode,
         GREATEST(0, LEAST($4::bigint, b.cap_nanos - r.spent_nanos - r.leased_nanos)) AS grant_nanos
    FROM budget_room r JOIN budgets b ON b.id = r.budget_id
   WHERE r.budget_id = $1 AND r.period_start = $2
     FOR UPDATE OF r
), g AS (
  UPDATE budget_room r SET leased_nanos = r.leased_nanos + cur.grant_nanos
    FROM cur
   WHERE r.budget_id = cur.budget_id AND r.period_start = cur.period_start
     AND NOT cur.killed AND cur.grant_nanos >= $3 AND cur.grant_nanos > 0
     AND r.spent_nanos + r.leased_nanos + cur.grant_nanos <= cur.cap_nanos
  RETURNING r.budget_id, r.period_start, r.spent_nanos, r.leased_nanos, cur.grant_nanos
), l AS (
  INSERT INTO leases (budget_id, period_start, instance_id, amount_nanos, expires_at)
  SELECT budget_id, period_start, $5, grant_nanos, $6 FROM g
  ON CONFLICT (budget_id, period_start, instance_id)
  DO UPDATE SET amount_nanos = leases.amount_nanos + EXCLUDED.amount_nanos, expires_at = EXCLUDED.expires_at
  RETURNING 1
), short AS (
  -- Refused while all the room is leased out: the others hear it and give part of theirs back.
  SELECT pg_notify('${SHORT_CHANNEL}', json_build_object('budgetId', cur.budget_id, 'periodStart', cur.period_start, 'instanceId', $5::text)::text)
    FROM cur WHERE $8::boolean AND NOT cur.killed AND NOT EXISTS (SELECT 1 FROM g)
)
SELECT COALESCE(g.grant_nanos, 0) AS granted, cur.budget_id, cur.period_start, cur.cap_nanos, cur.killed, cur.mode,
       COALESCE(g.spent_nanos, r.spent_nanos) AS spent_nanos,
       COALESCE(g.leased_nanos, r.leased_nanos) AS leased_nanos,
       (SELECT count(*)::int FROM instances WHERE heartbeat_at >= $7) AS active,
       (SELECT count(*)::int FROM short) AS signalled
  FROM cur LEFT JOIN g ON true JOIN budget_room r ON r.budget_id = cur.budget_id AND r.period_start = cur.period_start`;
  const res = await run<Record<string, number | boolean | string>>(q, sql, [a.budgetId, a.periodStart, a.needNanos, a.wantNanos, a.instanceId, a.expiresAt, a.activeSince, a.signal === true]);
  const row = res.rows[0];
  if (!row) return { grantedNanos: 0, room: null };
  return { grantedNanos: Number(row.granted), room: toRoom(row) };
}

function toRoom(row: Record<string, unknown>): RoomRow {
  return {
    budgetId: Number(row.budget_id ?? row.budgetId),
    periodStart: Number(row.period_start ?? row.periodStart),
    capNanos: Number(row.cap_nanos ?? row.capNanos),
    spentNanos: Number(row.spent_nanos ?? row.spentNanos),
    leasedNanos: Number(row.leased_nanos ?? row.leasedNanos),
    killed: Boolean(row.killed),
    mode: row.mode === 'soft' ? 'soft' : 'hard',
    activeInstances: Math.max(1, Number(row.active ?? row.activeInstances ?? 1)),
  };
}

/** A hold as written in a batch (new or grown). */
export type HoldWrite = HoldRecord;

/** A settled hold: its ledger row (ts, key, session filled in) replaces it. */
export interface SettledWrite {
  holdId: string;
  row: LedgerRow;
}

/** One slot's part of a flush: `spend` moves into spent, `dec` leaves this instance's lease (spend + given back, at most the lease). */
export interface RoomWrite extends Slot {
  spendNanos: number;
  decNanos: number;
}

export interface FlushBatch {
  instanceId: string;
  now: number;
  expiresAt: number;
  activeSince: number;
  holds: HoldWrite[];
  settled: SettledWrite[];
  rooms: RoomWrite[];
}

/**
 * Everything one instance has to tell the database, in ONE statement (one round trip, one
 * transaction): new and grown holds, settled holds as ledger rows, spent and given-back room,
 * renewed leases and the heartbeat. Returns the rooms as they are after it.
 */
export async function flushBatch(q: Queryable, b: FlushBatch): Promise<RoomRow[]> {
  const holds = b.holds.map((h) => ({ id: h.id, ts: h.ts, key_id: h.keyId, key_name: h.keyName, session: h.session, provider: h.provider, model: h.model, amount_nanos: h.amountNanos, tag: h.tag ?? null }));
  const ledger = b.settled.map(({ row: r }) => ({
    ts: r.ts,
    request_id: r.requestId,
    key_id: r.keyId,
    key_name: r.keyName,
    session: r.session,
    provider: r.provider,
    model: r.model,
    priced_as: r.pricedAs,
    price_estimated: r.priceEstimated,
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    cache_read_tokens: r.cacheReadTokens,
    cache_write_5m_tokens: r.cacheWrite5mTokens,
    cache_write_1h_tokens: r.cacheWrite1hTokens,
    cost_nanos: r.costNanos,
    outcome: r.outcome,
    usage_source: r.usageSource,
    status: r.status,
    duration_ms: r.durationMs,
    detail: r.detail,
    provider_cost_nanos: r.providerCostNanos ?? null,
    metered_cost_nanos: r.meteredCostNanos ?? null,
    tag: r.tag ?? null,
  }));
  const rooms = b.rooms.map((r) => ({ budget_id: r.budgetId, period_start: r.periodStart, spend: r.spendNanos, dec: r.decNanos }));
  const sql = `
WITH hb AS (
  INSERT INTO instances (id, started_at, heartbeat_at) VALUES ($1, $2, $2)
  ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at RETURNING 1
), hw AS (
  INSERT INTO holds (id, ts, key_id, key_name, session, provider, model, amount_nanos, tag, instance_id)
  SELECT x.id, x.ts, x.key_id, x.key_name, x.session, x.provider, x.model, x.amount_nanos, x.tag, $1
    FROM jsonb_to_recordset($4::jsonb) AS x(id text, ts bigint, key_id bigint, key_name text, session text, provider text, model text, amount_nanos bigint, tag text)
  ON CONFLICT (id) DO UPDATE SET amount_nanos = EXCLUDED.amount_nanos, model = EXCLUDED.model RETURNING 1
), hd AS (
  DELETE FROM holds WHERE instance_id = $1 AND id = ANY($5::text[]) RETURNING 1
), led AS (
  INSERT INTO ledger (ts, request_id, key_id, key_name, session, provider, model, priced_as, price_estimated, input_tokens, output_tokens,
                      cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cost_nanos, outcome, usage_source, status, duration_ms,
                      detail, provider_cost_nanos, metered_cost_nanos, tag, instance_id)
  SELECT x.ts, x.request_id, x.key_id, x.key_name, x.session, x.provider, x.model, x.priced_as, x.price_estimated, x.input_tokens, x.output_tokens,
         x.cache_read_tokens, x.cache_write_5m_tokens, x.cache_write_1h_tokens, x.cost_nanos, x.outcome, x.usage_source, x.status, x.duration_ms,
         x.detail, x.provider_cost_nanos, x.metered_cost_nanos, x.tag, $1
    FROM jsonb_to_recordset($6::jsonb) AS x(ts bigint, request_id text, key_id bigint, key_name text, session text, provider text, model text,
         priced_as text, price_estimated boolean, input_tokens bigint, output_tokens bigint, cache_read_tokens bigint, cache_write_5m_tokens bigint,
         cache_write_1h_tokens bigint, cost_nanos bigint, outcome text, usage_source text, status int, duration_ms bigint, detail text,
         provider_cost_nanos bigint, metered_cost_nanos bigint, tag text)
  RETURNING 1
), f AS (
  SELECT * FROM jsonb_to_recordset($7::jsonb) AS f(budget_id bigint, period_start bigint, spend bigint, dec bigint)
), room AS (
  UPDATE budget_room r SET spent_nanos = r.spent_nanos + f.spend, leased_nanos = GREATEST(0, r.leased_nanos - f.dec)
    FROM f WHERE r.budget_id = f.budget_id AND r.period_start = f.period_start
  RETURNING r.budget_id, r.period_start, r.spent_nanos, r.leased_nanos
), lease AS (
  UPDATE leases l SET expires_at = $3,
         amount_nanos = GREATEST(0, l.amount_nanos - COALESCE((SELECT f.dec FROM f WHERE f.budget_id = l.budget_id AND f.period_start = l.period_start), 0))
   WHERE l.instance_id = $1
  RETURNING 1
)
SELECT room.budget_id, room.period_start, room.spent_nanos, room.leased_nanos, b.cap_nanos, b.killed, b.mode,
       -- The heartbeat above is not visible to this snapshot: this instance is counted by hand.
       (SELECT count(*)::int FROM instances WHERE heartbeat_at >= $8 AND id <> $1) + 1 AS active
  FROM room JOIN budgets b ON b.id = room.budget_id`;
  const res = await run<Record<string, unknown>>(q, sql, [
    b.instanceId,
    b.now,
    b.expiresAt,
    JSON.stringify(holds),
    b.settled.map((s) => s.holdId),
    JSON.stringify(ledger),
    JSON.stringify(rooms),
    b.activeSince,
  ]);
  return res.rows.map(toRoom);
}

/** What a reclaim took: one instance's lease on one slot, charged as spent. */
export interface Reclaimed extends Slot {
  instanceId: string;
  amountNanos: number;
}

/**
 * Leases of dead instances (expired: not renewed for a TTL) or, with `own`, this instance's
 * own leases left by its previous run: each is charged in full as spent (the dead process may
 * have spent all of it) and leaves the leased sum. The holds of those instances become ledger rows
 * at their last written estimate, marked as such. A live instance's holds and leases are never touched.
 */
export async function reclaimLeases(
  q: Queryable,
  /** `staleBefore`: an instance whose heartbeat is older is dead, and its holds are settled. */
  a: { instanceId: string; now: number; staleBefore: number; own: boolean },
): Promise<{ leases: Reclaimed[]; holds: number }> {
  const sql = `
WITH dead AS (
  DELETE FROM leases
   WHERE CASE WHEN $4 THEN instance_id = $1 ELSE instance_id <> $1 AND expires_at < $2 END
  RETURNING budget_id, period_start, instance_id, amount_nanos
), agg AS (
  SELECT budget_id, period_start, sum(amount_nanos)::bigint AS amt FROM dead GROUP BY budget_id, period_start
), room AS (
  UPDATE budget_room r SET spent_nanos = r.spent_nanos + agg.amt, leased_nanos = GREATEST(0, r.leased_nanos - agg.amt)
    FROM agg WHERE r.budget_id = agg.budget_id AND r.period_start = agg.period_start RETURNING 1
), gone AS (
  DELETE FROM holds h
   WHERE CASE WHEN $4 THEN h.instance_id = $1
              ELSE h.instance_id <> $1 AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = h.instance_id AND i.heartbeat_at >= $3) END
  RETURNING h.*
), led AS (
  INSERT INTO ledger (ts, request_id, key_id, key_name, session, provider, model, cost_nanos, outcome, usage_source, duration_ms, detail, tag, instance_id)
  SELECT $2, id, key_id, key_name, session, provider, model, amount_nanos, 'error', 'estimate', GREATEST(0, $2 - ts),
         'spendcap instance ' || instance_id || ' stopped while this request was in flight; charged at its last hold (its lease was charged in full)', tag, instance_id
    FROM gone RETURNING 1
), ev AS (
  INSERT INTO events (ts, kind, budget, channel, detail)
  SELECT $2, 'lease-reclaimed', b.name, 'auto', 'instance ' || d.instance_id || ' left a lease of ' || d.amount_nanos || ' n$ unreturned; charged as spent'
    FROM dead d JOIN budgets b ON b.id = d.budget_id WHERE d.amount_nanos > 0 RETURNING 1
)
SELECT (SELECT json_agg(dead) FROM dead) AS leases, (SELECT count(*)::int FROM led) AS holds`;
  const res = await run<{ leases: { budget_id: number; period_start: number; instance_id: string; amount_nanos: number }[] | null; holds: number }>(q, sql, [
    a.instanceId,
    a.now,
    a.staleBefore,
    a.own,
  ]);
  const row = res.rows[0];
  const leases = (row?.leases ?? []).map((l) => ({ budgetId: Number(l.budget_id), periodStart: Number(l.period_start), instanceId: l.instance_id, amountNanos: Number(l.amount_nanos) }));
  return { leases, holds: row?.holds ?? 0 };
}
