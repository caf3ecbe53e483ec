// Team mode on a real Postgres (started by the test, see helpers/postgres.ts): several instances'
// lease ledgers on one budget. The provider's bill is counted by the simulated streams exactly as
// the mock providers do: a token is billed once it is handed out, and a token is handed out only
// once the stream's hold covers it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { clientConfig, grantLease, ensureRoom, migrate, MIGRATIONS, openPool, roundTrips, TeamLedger } from '../src/store/postgres/index.js';
import type { Slot } from '../src/store/postgres/index.js';
import type { LedgerRow } from '../src/store/types.js';
import type { LeasePolicy } from '../src/budgets/lease.js';
import { startPostgres } from './helpers/postgres.js';
import type { PgServer } from './helpers/postgres.js';

let server: PgServer;
/** Run after the file, also when a test failed half-way: nothing may keep the process alive. */
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  server = await startPostgres();
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await server.stop();
});

/** Sonnet: $3 / $15 per Mtok, in nanos per token. */
const INPUT_NANOS = 3_000;
const OUTPUT_NANOS = 15_000;
const CAP_NANOS = 100_000_000; // $0.10

async function freshDb(): Promise<{ url: string; pool: pg.Pool }> {
  const url = await server.createDatabase();
  const pool = openPool(url, 4);
  await migrate(pool);
  cleanups.push(() => pool.end());
  return { url, pool };
}

/** An instance's ledger on its own pool, stopped after the file whatever happened. */
function makeTeam(url: string, instanceId: string, extra: { policy?: LeasePolicy; pool?: pg.Pool; flushMs?: number } = {}): TeamLedger {
  const pool = extra.pool ?? openPool(url, 4);
  const t = new TeamLedger({ pool, url, instanceId, flushMs: extra.flushMs ?? 50, ...(extra.policy ? { policy: extra.policy } : {}) });
  cleanups.push(() => t.halt().then(() => pool.end()));
  return t;
}

async function seedBudget(pool: pg.Pool, name: string, capNanos: number): Promise<{ keyId: number; budgetId: number }> {
  const k = await pool.query<{ id: number }>(
    `INSERT INTO keys (name, provider, token_hash, token_hint, provider_key_enc, created_at) VALUES ($1, 'anthropic', $2, 'sc-', 'x', 0) RETURNING id`,
    [name, `hash-${name}`],
  );
  const keyId = k.rows[0]!.id;
  const b = await pool.query<{ id: number }>(`INSERT INTO budgets (name, scope, key_id, cap_nanos, period, updated_at) VALUES ($1, 'key', $2, $3, 'total', 0) RETURNING id`, [
    name,
    keyId,
    capNanos,
  ]);
  return { keyId, budgetId: b.rows[0]!.id };
}

function ledgerRow(keyId: number, id: string, cost: number, outcome: LedgerRow['outcome']): LedgerRow {
  return {
    ts: Date.now(),
    requestId: id,
    keyId,
    keyName: 'team',
    session: null,
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    pricedAs: null,
    priceEstimated: false,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    costNanos: cost,
    outcome,
    usageSource: 'provider',
    status: 200,
    durationMs: 0,
    detail: null,
  };
}

interface Bill {
  nanos: number;
}

/**
 * One stream on one instance: a hold for the prompt and a first chunk, then the hold grows by a
 * chunk ahead of the tokens handed out; a refused growth (cap, kill) cuts the stream. The bill
 * counts what was handed out. Returns how the stream ended.
 */
async function stream(
  team: TeamLedger,
  slot: Slot,
  keyId: number,
  id: string,
  bill: Bill,
  opts: { inputTokens: number; outputTokens: number; chunk: number; msPerChunk: number; alive?: () => boolean },
): Promise<'ok' | 'cut' | 'blocked' | 'dead'> {
  const start = opts.inputTokens * INPUT_NANOS + opts.chunk * OUTPUT_NANOS;
  if (!(await team.admit([slot], start))) return 'blocked';
  let held = start;
  team.writeHold({ id, ts: Date.now(), keyId, keyName: 'team', session: null, provider: 'anthropic', model: 'claude-sonnet-4-5', amountNanos: held });
  bill.nanos += opts.inputTokens * INPUT_NANOS;
  let sent = 0;
  let outcome: 'ok' | 'cut' = 'ok';
  while (sent < opts.outputTokens) {
    if (opts.alive && !opts.alive()) return 'dead';
    const n = Math.min(opts.chunk, opts.outputTokens - sent);
    const need = opts.inputTokens * INPUT_NANOS + (sent + n) * OUTPUT_NANOS;
    if (need > held) {
      const more = need - held + opts.chunk * OUTPUT_NANOS;
      if (team.killed(slot.budgetId) || !(await team.admit([slot], more))) {
        outcome = 'cut';
        break;
      }
      held += more;
      team.writeHold({ id, ts: Date.now(), keyId, keyName: 'team', session: null, provider: 'anthropic', model: 'claude-sonnet-4-5', amountNanos: held });
    }
    if (team.killed(slot.budgetId)) {
      outcome = 'cut';
      break;
    }
    sent += n;
    bill.nanos += n * OUTPUT_NANOS;
    await new Promise((r) => setTimeout(r, opts.msPerChunk));
  }
  const cost = opts.inputTokens * INPUT_NANOS + sent * OUTPUT_NANOS;
  team.settle([slot], held, cost);
  team.writeSettled(id, ledgerRow(keyId, id, cost, outcome));
  return outcome;
}

async function room(pool: pg.Pool, budgetId: number): Promise<{ spent: number; leased: number }> {
  const r = await pool.query<{ spent: number; leased: number }>('SELECT COALESCE(sum(spent_nanos),0)::bigint AS spent, COALESCE(sum(leased_nanos),0)::bigint AS leased FROM budget_room WHERE budget_id = $1', [budgetId]);
  return r.rows[0]!;
}

test('migrations run once when several instances start together, and again is a no-op', async () => {
  const url = await server.createDatabase();
  const pools = [openPool(url), openPool(url), openPool(url)];
  const applied = await Promise.all(pools.map((p) => migrate(p)));
  assert.deepEqual(applied.flat().sort((x, y) => x - y), MIGRATIONS.map((m) => m.version), 'each migration applied once, by one of them');
  assert.deepEqual(await migrate(pools[0]!), []);
  await Promise.all(pools.map((p) => p.end()));
});

test('grants racing from many connections never lease more than the cap', async () => {
  const { url, pool } = await freshDb();
  const { budgetId } = await seedBudget(pool, 'race', 1_000_000);
  const slot = { budgetId, periodStart: 0 };
  await ensureRoom(pool, slot);
  const pools = Array.from({ length: 8 }, () => openPool(url, 4));
  const grants = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      grantLease(pools[i % 8]!, { ...slot, instanceId: `i${i % 8}`, needNanos: 7_000, wantNanos: 13_000, expiresAt: Date.now() + 10_000, activeSince: 0 }),
    ),
  );
  const total = grants.reduce((s, g) => s + g.grantedNanos, 0);
  const r = await room(pool, budgetId);
  assert.equal(r.leased, total, 'the room counts exactly what was granted');
  assert.ok(total <= 1_000_000, `leased ${total} > cap`);
  assert.ok(total >= 1_000_000 - 13_000, `the room was used up (${total})`);
  assert.ok(grants.some((g) => g.grantedNanos === 0), 'late grants were refused');
  const leases = await pool.query<{ s: number }>('SELECT sum(amount_nanos)::bigint AS s FROM leases WHERE budget_id = $1', [budgetId]);
  assert.equal(leases.rows[0]!.s, total, 'per-instance leases add up to the room');
  // One grant alone, as a request whose slice ran out would wait for it (idle database, loopback).
  const big = await seedBudget(pool, 'timing', 1_000_000_000);
  await ensureRoom(pool, { budgetId: big.budgetId, periodStart: 0 });
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) await grantLease(pool, { budgetId: big.budgetId, periodStart: 0, instanceId: 'solo', needNanos: 1, wantNanos: 1, expiresAt: Date.now() + 10_000, activeSince: 0 });
  console.log(`# one lease grant: ${((performance.now() - t0) / 50).toFixed(2)} ms (sequential, idle)`);
  await Promise.all([...pools, pool].map((p) => p.end()));
});

test('three instances, 64 concurrent streams on $0.10: bill <= cap, billed/cap >= 0.85; a kill from A reaches B and C within 1 s', async () => {
  const { url, pool } = await freshDb();
  const { keyId, budgetId } = await seedBudget(pool, 'team', CAP_NANOS);
  const slot = { budgetId, periodStart: 0 };
  const teams = ['A', 'B', 'C'].map((id) => makeTeam(url, id));
  await Promise.all(teams.map((t) => t.start()));
  const bill: Bill = { nanos: 0 };
  const trips0 = roundTrips.count;
  const outcomes = await Promise.all(
    Array.from({ length: 64 }, (_, i) => stream(teams[i % 3]!, slot, keyId, `s${i}`, bill, { inputTokens: 200, outputTokens: 400, chunk: 8, msPerChunk: 4 })),
  );
  await Promise.all(teams.map((t) => t.flush()));
  const trips = roundTrips.count - trips0;
  const r = await room(pool, budgetId);
  const count = (o: string): number => outcomes.filter((x) => x === o).length;
  console.log(`# outcomes ok ${count('ok')} cut ${count('cut')} blocked ${count('blocked')}; spent ${r.spent} leased ${r.leased} billed ${bill.nanos}`);
  assert.ok(bill.nanos <= CAP_NANOS, `billed ${bill.nanos} > cap ${CAP_NANOS}`);
  assert.ok(bill.nanos / CAP_NANOS >= 0.85, `billed/cap ${(bill.nanos / CAP_NANOS).toFixed(3)} < 0.85`);
  assert.ok(outcomes.includes('cut'), 'the cap was reached mid-stream');
  assert.equal(r.spent, bill.nanos, 'the database spent is what the provider billed');
  assert.ok(r.spent + r.leased <= CAP_NANOS);
  const ledger = await pool.query<{ n: number; s: number }>('SELECT count(*)::int AS n, sum(cost_nanos)::bigint AS s FROM ledger');
  assert.equal(ledger.rows[0]!.s, bill.nanos, 'one ledger row per settled stream, adding up to the bill');
  const holds = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM holds');
  assert.equal(holds.rows[0]!.n, 0, 'every settled hold left the holds table');
  const st = teams.map((t) => t.stats).reduce((x, y) => ({ admits: x.admits + y.admits, waited: x.waited + y.waited, grants: x.grants + y.grants, grantMs: x.grantMs + y.grantMs, flushes: x.flushes + y.flushes, flushMs: x.flushMs + y.flushMs }));
  console.log(
    `# 64 streams / 3 instances: billed/cap ${(bill.nanos / CAP_NANOS).toFixed(3)}, ${trips} round trips for ${outcomes.filter((o) => o !== 'blocked').length} streams; ` +
      `${st.admits} admissions (open + grow), ${st.waited} waited on the database; grant ${(st.grantMs / Math.max(1, st.grants)).toFixed(2)} ms avg over ${st.grants}; flush ${(st.flushMs / Math.max(1, st.flushes)).toFixed(2)} ms avg over ${st.flushes}`,
  );

  // Kill from A's side (any connection): B and C hear it.
  const heard = teams.slice(1).map(
    (t) =>
      new Promise<number>((res) => {
        t.onBudgetChange = (c) => {
          if (c?.id === budgetId && c.killed) res(Date.now());
        };
      }),
  );
  const killedAt = Date.now();
  await teams[0]!.flush();
  await pool.query('UPDATE budgets SET killed = true, updated_at = $2 WHERE id = $1', [budgetId, killedAt]);
  const times = await Promise.all(heard);
  const worst = Math.max(...times) - killedAt;
  console.log(`# kill reached the other instances in ${worst} ms`);
  assert.ok(worst < 1000, `kill took ${worst} ms`);
  assert.equal(teams[1]!.tryAdmit([slot], 1), false, 'a killed budget admits nothing');
  await Promise.all(teams.map((t) => t.stop()));
  await pool.end();
});

test('an instance that finds the room all leased out is admitted within a round trip of the others: its refused grant tells them and they give back', async () => {
  const { url, pool } = await freshDb();
  const { budgetId } = await seedBudget(pool, 'short', CAP_NANOS);
  const slot = { budgetId, periodStart: 0 };
  // Flush rounds of 2 s: a give-back sooner than that can only be the one the short signal asked for.
  const holder = makeTeam(url, 'holder', { flushMs: 2000 });
  const short = makeTeam(url, 'short', { flushMs: 2000 });
  await Promise.all([holder.start(), short.start()]);
  // The holder leases the whole cap and keeps a small hold open (so its next flush keeps a fair share).
  assert.ok(await holder.admit([slot], CAP_NANOS));
  holder.release([slot], CAP_NANOS - 1_000_000);
  assert.equal((await room(pool, budgetId)).leased, CAP_NANOS, 'the holder leased the whole cap');
  const t0 = performance.now();
  const admitted = await short.admit([slot], 10_000_000);
  const ms = performance.now() - t0;
  console.log(`# a short instance was admitted ${ms.toFixed(0)} ms after asking, the room all leased to another`);
  assert.ok(admitted, 'admitted on room the other instance gave back');
  assert.ok(ms < 1500, `admitted after ${ms.toFixed(0)} ms: before the holder's own flush round, so by the short signal`);
  const r = await room(pool, budgetId);
  assert.ok(r.spent + r.leased <= CAP_NANOS, 'the leases never pass the cap');
  await Promise.all([holder.stop(), short.stop()]);
});

test('on a fresh budget, refills leave every instance a fair part: the first to refill does not take half the cap', async () => {
  const { url, pool } = await freshDb();
  const { budgetId } = await seedBudget(pool, 'fresh', CAP_NANOS);
  const slot = { budgetId, periodStart: 0 };
  // Flush rounds of 2 s: what each instance holds is what its grants and refills took.
  const teams = ['a', 'b', 'c'].map((id) => makeTeam(url, id, { flushMs: 2000 }));
  await Promise.all(teams.map((t) => t.start()));
  // A stream starts on each instance (its prompt and first step, $0.0017); then each instance in turn
  // refills its slice off the requests' path, as LeaseAllowance.room does at its low-water mark ($0.004).
  const firstHold = 1_700_000;
  assert.ok((await Promise.all(teams.map((t) => t.admit([slot], firstHold)))).every(Boolean));
  for (const t of teams) {
    t.prefetch([slot], 4_000_000);
    await new Promise((r) => setTimeout(r, 100));
  }
  const free = teams.map((t) => t.free(slot));
  const r = await room(pool, budgetId);
  console.log(`# fresh budget, a stream on each of three instances, then their refills: free slices ${free.map((f) => (f / 1e6).toFixed(1)).join(', ')} m$; leased ${(r.leased / 1e6).toFixed(1)} m$ of ${CAP_NANOS / 1e6}`);
  // A refill used to take its level (half a fair share) and a fair share on top: the first two took
  // nearly all of the cap, the third found it leased out and its streams' next growth a dry slice.
  for (const [i, f] of free.entries()) assert.ok(f >= 15_000_000, `instance ${i} has only ${f} n$ free for its streams' next steps`);
  assert.ok(r.spent + r.leased <= CAP_NANOS);
  await Promise.all(teams.map((t) => t.stop()));
});

test('a kill cuts running streams on the other instances within 1 s', async () => {
  const { url, pool } = await freshDb();
  const { keyId, budgetId } = await seedBudget(pool, 'killme', 10 * CAP_NANOS);
  const slot = { budgetId, periodStart: 0 };
  const teams = ['A', 'B', 'C'].map((id) => makeTeam(url, id));
  await Promise.all(teams.map((t) => t.start()));
  const bill: Bill = { nanos: 0 };
  const ended: number[] = [];
  const running = Array.from({ length: 12 }, (_, i) =>
    stream(teams[1 + (i % 2)]!, slot, keyId, `k${i}`, bill, { inputTokens: 10, outputTokens: 100_000, chunk: 4, msPerChunk: 10 }).then((o) => {
      ended.push(Date.now());
      return o;
    }),
  );
  await new Promise((r) => setTimeout(r, 300));
  const killedAt = Date.now();
  await teams[0]!.flush();
  await pool.query('UPDATE budgets SET killed = true WHERE id = $1', [budgetId]);
  const outcomes = await Promise.all(running);
  assert.deepEqual(new Set(outcomes), new Set(['cut']));
  const worst = Math.max(...ended) - killedAt;
  console.log(`# kill from A cut ${outcomes.length} streams on B and C within ${worst} ms`);
  assert.ok(worst < 1000, `streams ran ${worst} ms after the kill`);
  await Promise.all(teams.map((t) => t.stop()));
  await pool.end();
});

test('kill -9 of instance B mid-stream: A and C carry on, the cap holds, and B restarted recovers only its own holds', async () => {
  const { url, pool } = await freshDb();
  const { keyId, budgetId } = await seedBudget(pool, 'crash', CAP_NANOS);
  const slot = { budgetId, periodStart: 0 };
  const ttlMs = 600;
  const policy = { minChunkNanos: 1_000_000, maxChunkNanos: 20_000_000, ttlMs };
  const make = (id: string, p = openPool(url, 4)): TeamLedger => makeTeam(url, id, { policy, pool: p });
  const a = make('A');
  const bPool = openPool(url, 4);
  const b = make('B', bPool);
  const c = make('C');
  await Promise.all([a, b, c].map((t) => t.start()));
  const bill: Bill = { nanos: 0 };
  let bAlive = true;
  const opts = { inputTokens: 200, outputTokens: 300, chunk: 8, msPerChunk: 5 };
  const onB = Array.from({ length: 10 }, (_, i) => stream(b, slot, keyId, `b${i}`, bill, { ...opts, alive: () => bAlive }));
  const onAC = Array.from({ length: 40 }, (_, i) => stream(i % 2 ? a : c, slot, keyId, `ac${i}`, bill, { ...opts, msPerChunk: 15 }));
  await new Promise((r) => setTimeout(r, 150));
  // kill -9: B's process is gone — no last flush, no lease returned, its holds stay in the table.
  bAlive = false;
  await b.flush(); // what B had written before it died (its holds are on disk)
  await b.halt();
  await bPool.end();
  const bHolds = await pool.query<{ id: string }>("SELECT id FROM holds WHERE instance_id = 'B'");
  assert.ok(bHolds.rows.length > 0, 'B died with holds open');
  // A and C reclaim B's lease on their own once it expired, while their own streams keep going.
  const reclaimedBy = new Promise<string>((res) => {
    for (const t of [a, c]) {
      t.onReclaim = (r) => {
        if (r.leases.some((l) => l.instanceId === 'B')) res(t.instanceId);
      };
    }
  });
  const winner = await reclaimedBy;
  assert.ok(winner === 'A' || winner === 'C', 'a live instance reclaimed B’s lease');
  const bGone = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM holds WHERE instance_id = 'B'");
  assert.equal(bGone.rows[0]!.n, 0, 'B’s holds were settled by the reclaim');
  const reclaimedLive = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM ledger WHERE instance_id <> 'B' AND usage_source = 'estimate'");
  assert.equal(reclaimedLive.rows[0]!.n, 0, 'no live instance’s hold was settled by the reclaim');
  const outcomes = await Promise.all(onAC);
  await Promise.all(onB);
  assert.ok(outcomes.filter((o) => o === 'ok' || o === 'cut').length > 0, 'A and C carried on');
  await Promise.all([a, c].map((t) => t.flush()));
  const r = await room(pool, budgetId);
  assert.ok(bill.nanos <= CAP_NANOS, `billed ${bill.nanos} > cap`);
  assert.ok(r.spent >= bill.nanos, `the database counts at least the bill (${r.spent} < ${bill.nanos})`);
  assert.ok(r.spent + r.leased <= CAP_NANOS, 'reclaimed room stays within the cap');

  // B runs again, dies again with streams open, and restarts at once (before its lease expires)
  // while A has a live stream: the restart settles B's own holds and lease, never A's.
  // A lift (any connection) re-opens the budget for everyone: the room grows by $0.05.
  await pool.query('UPDATE budgets SET cap_nanos = cap_nanos + 50000000 WHERE id = $1', [budgetId]);
  const aLong = stream(a, slot, keyId, 'a-live', bill, { inputTokens: 1, outputTokens: 200, chunk: 1, msPerChunk: 5 });
  const b2Pool = openPool(url, 4);
  const b2 = make('B', b2Pool);
  await b2.start();
  let b2Alive = true;
  const onB2 = Array.from({ length: 3 }, (_, i) => stream(b2, slot, keyId, `b2-${i}`, bill, { inputTokens: 1, outputTokens: 400, chunk: 1, msPerChunk: 5, alive: () => b2Alive }));
  await new Promise((res) => setTimeout(res, 150));
  await Promise.all([a.flush(), b2.flush()]);
  b2Alive = false;
  await b2.halt();
  await b2Pool.end();
  await Promise.all(onB2);
  const aHold = await pool.query<{ id: string }>("SELECT id FROM holds WHERE instance_id = 'A'");
  const b2Holds = await pool.query<{ id: string }>("SELECT id FROM holds WHERE instance_id = 'B'");
  assert.ok(aHold.rows.some((h) => h.id === 'a-live'), 'A has a live hold');
  assert.ok(b2Holds.rows.length > 0, 'B died with holds open');
  const b3 = make('B');
  const rec = await b3.start();
  assert.equal(rec.holds, b2Holds.rows.length, 'the restart settled exactly B’s holds');
  const aHoldAfter = await pool.query<{ id: string }>("SELECT id FROM holds WHERE instance_id = 'A'");
  assert.ok(aHoldAfter.rows.some((h) => h.id === 'a-live'), 'A’s live hold is untouched by B’s restart');
  const recovered = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM ledger WHERE instance_id = 'B' AND usage_source = 'estimate'");
  assert.ok(recovered.rows[0]!.n >= b2Holds.rows.length, 'B’s holds became ledger rows charged at their last estimate');
  assert.equal(await aLong, 'ok', 'A’s stream ran to its end');
  await Promise.all([a, b3, c].map((t) => t.stop()));
  const end = await room(pool, budgetId);
  assert.ok(bill.nanos <= CAP_NANOS + 50_000_000, `billed ${bill.nanos} > cap`);
  assert.ok(end.spent + end.leased <= CAP_NANOS + 50_000_000);
  await pool.end();
});

test('a pool that cannot reach Postgres fails with an error a user can act on', async () => {
  const pool = new pg.Pool({ ...clientConfig('postgres://postgres@127.0.0.1:9/none'), connectionTimeoutMillis: 2000 });
  await assert.rejects(migrate(pool), /cannot reach Postgres.*--store/);
  await pool.end();
});
