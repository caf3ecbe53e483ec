import { providerKeyOpener } from '../src/keys/index.js';
// The budget model without a network: a Bank on a real store with a fake clock (period roll-over in
// a configured zone, thresholds once per period), actions and their event rows, retention that keeps
// daily totals, auto-tune, and the ledger exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Bank, createBudget, dailySpend, deleteBudget, killBudget, liftBudget, pruneLedger, runAutotune, setAutotune, setCap, unkillBudget, writeSettings, budgetReport } from '../src/budgets/index.js';
import type { Account, Hold, KeyEntry } from '../src/budgets/index.js';
import { loadOrCreateMasterKey } from '../src/secrets/index.js';
import { SqliteStore, StoreError } from '../src/store/index.js';
import type { LedgerRow } from '../src/store/index.js';
import { addKey, cli, tempDataDir } from './helpers/spendcap.js';

const TZ = 'Europe/Paris';

function row(over: Partial<LedgerRow> & { ts: number; keyId: number; costNanos: number }): LedgerRow {
  return {
    requestId: `r${Math.random()}`,
    keyName: 'k',
    session: null,
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    pricedAs: null,
    priceEstimated: false,
    inputTokens: 10,
    outputTokens: 20,
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    outcome: 'ok',
    usageSource: 'provider',
    status: 200,
    durationMs: 5,
    detail: null,
    ...over,
  };
}

async function setup(): Promise<{ dir: string; store: SqliteStore; keyId: number; clock: { now: number }; bank: Bank; close(): Promise<void> }> {
  const dir = tempDataDir();
  await addKey(dir, 'k', 100, ['--period', 'month']);
  const store = new SqliteStore(dir);
  await writeSettings(store, { timeZone: TZ }, 'cli');
  const clock = { now: Date.parse('2026-03-29T12:00:00Z') };
  const bank = new Bank(store, providerKeyOpener(loadOrCreateMasterKey(dir)), () => clock.now);
  return {
    dir,
    store,
    keyId: (await store.keys.byName('k'))!.id,
    clock,
    bank,
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const accountsOf = async (bank: Bank, key: KeyEntry, tag: string | null): Promise<Account[]> => {
  const a = await bank.accountsFor(key, null, tag);
  assert.ok(Array.isArray(a), 'accounts');
  return a;
};

test('each scope rolls over at midnight in the configured zone, across a DST change (fake clock)', async () => {
  const t = await setup();
  try {
    await createBudget(t.store, { name: 'all-day', scope: 'global', capNanos: 10_000_000, period: 'day' }, 'cli');
    await createBudget(t.store, { name: 'proj', scope: 'tag', capNanos: 10_000_000, period: 'week' }, 'cli');
    // Saturday 28 March (Paris) and Sunday 29 March, the short day; the tagged one on Sunday.
    await t.store.ledger.insert(row({ ts: Date.parse('2026-03-28T12:00:00Z'), keyId: t.keyId, costNanos: 1_000 }));
    await t.store.ledger.insert(row({ ts: Date.parse('2026-03-29T08:00:00Z'), keyId: t.keyId, costNanos: 20_000, tag: 'proj' }));
    await t.store.ledger.insert(row({ ts: Date.parse('2026-03-29T21:30:00Z'), keyId: t.keyId, costNanos: 300_000 }));
    t.clock.now = Date.parse('2026-03-29T21:59:00Z'); // 23:59 in Paris (UTC+2 since 02:00)
    await t.bank.refresh();
    const key = t.bank.keyByName('k')!;
    let [k, g, tag] = await accountsOf(t.bank, key, 'proj');
    assert.deepEqual([k!.spentNanos, g!.spentNanos, tag!.spentNanos], [321_000, 320_000, 20_000]);
    assert.equal(g!.periodEnd, Date.parse('2026-03-29T22:00:00Z'));

    t.clock.now = Date.parse('2026-03-29T22:00:00Z'); // Monday 00:00 Paris: new day and new week, same month
    [k, g, tag] = await accountsOf(t.bank, key, 'proj');
    assert.deepEqual([k!.spentNanos, g!.spentNanos, tag!.spentNanos], [321_000, 0, 0]);

    t.clock.now = Date.parse('2026-03-31T22:00:00Z'); // 1 April 00:00 Paris: the month budget resets
    [k] = await accountsOf(t.bank, key, null);
    assert.equal(k!.spentNanos, 0);

    // The same instants in UTC would still be 29 and 31 March: the zone decides.
    const report = await budgetReport(t.store, Date.parse('2026-03-29T22:30:00Z'));
    assert.equal(report.find((b) => b.name === 'all-day')!.spentNanos, 0);
    assert.match(JSON.stringify(report.find((b) => b.name === 'all-day')!.timeZone), /Europe\/Paris/);
  } finally {
    await t.close();
  }
});

test('thresholds fire once per budget per period, and again in the next period', async () => {
  const t = await setup();
  try {
    await setCap(t.store, 'k', { capNanos: 1_000_000, period: 'day' }, 'cli');
    await t.bank.refresh();
    const key = t.bank.keyByName('k')!;
    const spend = async (nanos: number) => {
      const accounts = await accountsOf(t.bank, key, null);
      const hold = t.bank.open(key, null, accounts, 'claude-sonnet-4-5', nanos, 'anthropic') as Hold;
      assert.ok('id' in hold);
      const { ts: _ts, keyId: _k, keyName: _n, session: _s, ...rest } = row({ ts: 0, keyId: t.keyId, costNanos: nanos });
      await t.bank.settle(hold, rest);
    };
    const fired = async () => (await t.store.events.list(100, { budget: 'k' })).filter((e) => e.kind === 'threshold').map((e) => Number(/reached (\d+)%/.exec(e.detail!)![1]));
    await spend(400_000);
    assert.deepEqual(await fired(), []);
    await spend(150_000);
    assert.deepEqual(await fired(), [50]);
    await spend(10_000);
    await spend(300_000);
    assert.deepEqual(await fired(), [80, 50]);
    await spend(100_000);
    await spend(40_000);
    assert.deepEqual(await fired(), [100, 80, 50], 'each once');
    // A server restarted in the same period does not fire them again.
    const again = new Bank(t.store, providerKeyOpener(loadOrCreateMasterKey(t.dir)), () => t.clock.now);
    await again.refresh();
    assert.equal(again.keyByName('k')!.account.thresholdFired, 100);
    t.clock.now += 24 * 3600_000;
    await spend(600_000);
    assert.deepEqual(await fired(), [50, 100, 80, 50], 'a new day fires again');
  } finally {
    await t.close();
  }
});

test('every action returns before/after and writes one event with its channel and the cap before and after', async () => {
  const t = await setup();
  try {
    const created = await createBudget(t.store, { name: 'team', scope: 'global', capNanos: 5_000_000_000, period: 'week', mode: 'soft', ceilingNanos: 20_000_000_000, clamp: true }, 'web');
    assert.equal(created.before, null);
    assert.deepEqual([created.after!.scope, created.after!.mode, created.after!.clamp, created.after!.period], ['global', 'soft', true, 'week']);
    const steps = [
      created,
      (await liftBudget(t.store, 'team', { add: 1_000_000_000 }, 'api')),
      (await liftBudget(t.store, 'team', { double: true }, 'slack')),
      (await liftBudget(t.store, 'team', { toCeiling: true }, 'telegram')),
      (await setCap(t.store, 'team', { capNanos: 3_000_000_000, mode: 'hard', clamp: false }, 'cli')),
      (await killBudget(t.store, 'team', 'api')),
      (await unkillBudget(t.store, 'team', 'web')),
      (await setAutotune(t.store, 'team', 'suggest', 'cli')),
      (await setCap(t.store, 'k', { sessionCapNanos: 500_000_000 }, 'api')),
      await deleteBudget(t.store, 'team', 'api'),
    ];
    const rows = (await t.store.events.list(100)).reverse().filter((e) => e.kind !== 'settings' && e.kind !== 'key-add');
    assert.deepEqual(
      rows.map((e) => [e.kind, e.budget, e.channel, e.capBeforeNanos, e.capAfterNanos]),
      [
        ['budget-add', 'team', 'web', null, 5_000_000_000],
        ['lift', 'team', 'api', 5_000_000_000, 6_000_000_000],
        ['lift', 'team', 'slack', 6_000_000_000, 12_000_000_000],
        ['lift', 'team', 'telegram', 12_000_000_000, 20_000_000_000],
        ['cap-set', 'team', 'cli', 20_000_000_000, 3_000_000_000],
        ['kill', 'team', 'api', 3_000_000_000, 3_000_000_000],
        ['unkill', 'team', 'web', 3_000_000_000, 3_000_000_000],
        ['autotune', 'team', 'cli', 3_000_000_000, 3_000_000_000],
        ['cap-set', 'k', 'api', 100_000_000_000, 100_000_000_000],
        ['budget-rm', 'team', 'api', 3_000_000_000, null],
      ],
    );
    assert.deepEqual(steps.map((s) => s.event.id), rows.map((r) => r.id));
    assert.match(rows[4]!.detail!, /cap \$20\.00 → \$3\.00; mode soft → hard; clamp on → off/);
    assert.equal(steps[9]!.after, null);

    const code = async (f: () => unknown) => {
      try {
        await f();
      } catch (err) {
        assert.ok(err instanceof StoreError);
        return err.code;
      }
      return 'ok';
    };
    assert.equal(await code(() => killBudget(t.store, 'ghost', 'api')), 'E_NOT_FOUND');
    assert.equal(await code(() => createBudget(t.store, { name: 'k', scope: 'tag', capNanos: 1 }, 'api')), 'E_EXISTS');
    assert.equal(await code(() => createBudget(t.store, { name: 'bad name!', scope: 'tag', capNanos: 1 }, 'api')), 'E_INVALID');
    assert.equal(await code(() => createBudget(t.store, { name: 'x', scope: 'key' as 'tag', capNanos: 1 }, 'api')), 'E_INVALID');
    assert.equal(await code(() => deleteBudget(t.store, 'k', 'api')), 'E_INVALID');
    assert.equal(await code(() => liftBudget(t.store, 'k', { toCeiling: true }, 'api')), 'E_INVALID');
    assert.equal(await code(() => setCap(t.store, 'k', { capNanos: -5 }, 'api')), 'E_INVALID');
    assert.equal(await code(() => setAutotune(t.store, 'k', 'creep', 'api')), 'E_INVALID', 'creep needs a ceiling');
  } finally {
    await t.close();
  }
});

test('retention prunes old ledger rows into daily totals; spent sums (a total budget too), auto-tune and exports stay right', async () => {
  const t = await setup();
  try {
    await setCap(t.store, 'k', { period: 'total' }, 'cli');
    await createBudget(t.store, { name: 'proj', scope: 'tag', capNanos: 10_000_000, period: 'total' }, 'cli');
    const now = Date.parse('2026-06-15T10:00:00Z');
    const day = 86_400_000;
    for (const daysAgo of [120, 100, 95, 30, 2]) {
      await t.store.ledger.insert(row({ ts: now - daysAgo * day, keyId: t.keyId, costNanos: 1_000 * daysAgo }));
      await t.store.ledger.insert(row({ ts: now - daysAgo * day + 60_000, keyId: t.keyId, costNanos: 7, tag: 'proj', model: 'other' }));
    }
    const spentBefore = (await budgetReport(t.store, now)).map((b) => [b.name, b.spentNanos]);
    t.clock.now = now;
    await t.bank.refresh();
    const result = (await t.bank.maintain(now));
    assert.equal(result.pruned, 6, 'the rows over 90 days old');
    assert.deepEqual((await budgetReport(t.store, now)).map((b) => [b.name, b.spentNanos]), spentBefore);
    assert.deepEqual(spentBefore, [['k', 347_035], ['proj', 35]]);
    const totals = (await t.store.daily.list());
    assert.equal(totals.length, 6);
    assert.deepEqual(totals.filter((d) => d.tag === 'proj').map((d) => [d.model, d.requests, d.costNanos]), [['other', 1, 7], ['other', 1, 7], ['other', 1, 7]]);
    // A server starting now reads the same spent from ledger + daily totals.
    const fresh = new Bank(t.store, providerKeyOpener(loadOrCreateMasterKey(t.dir)), () => now);
    await fresh.refresh();
    assert.equal(fresh.keyByName('k')!.account.spentNanos, 347_035);
    // Pruning again changes nothing; the ledger export no longer has the old rows.
    assert.equal((await t.bank.maintain(now)).pruned, 0);
    const jsonl = (await cli(t.dir, ['log', '--jsonl'])).out.trim().split('\n');
    assert.equal(jsonl.length, 4);
    // Auto-tune sees pruned days through the daily totals.
    await t.store.ledger.insert(row({ ts: now - 5 * day, keyId: t.keyId, costNanos: 50_000 }));
    await t.store.ledger.insert(row({ ts: now - 4 * day, keyId: t.keyId, costNanos: 60_000 }));
    const beforePrune = await dailySpend(t.store, { keyId: t.keyId }, now, TZ);
    await pruneLedger(t.store, now, 3, TZ);
    assert.deepEqual((await dailySpend(t.store, { keyId: t.keyId }, now, TZ)), beforePrune);
    assert.equal(beforePrune.reduce((a, b) => a + b, 0), 50_000 + 60_000 + 2_000 + 7);
  } finally {
    await t.close();
  }
});

test('auto-tune: suggest shows a cap with its reason; creep applies it as an auto event, never above the ceiling, once', async () => {
  const t = await setup();
  try {
    const now = Date.parse('2026-06-15T10:00:00Z');
    const day = 86_400_000;
    // 14 days of $1..$14 a day.
    for (let d = 1; d <= 14; d++) (await t.store.ledger.insert(row({ ts: now - d * day, keyId: t.keyId, costNanos: d * 1_000_000_000 })));
    await setCap(t.store, 'k', { capNanos: 5_000_000_000, period: 'day', ceilingNanos: 16_000_000_000 }, 'cli');
    await setAutotune(t.store, 'k', 'suggest', 'cli');
    const suggestion = (await budgetReport(t.store, now))[0]!.suggestion!;
    assert.equal(suggestion.suggestedNanos, 15_600_000_000);
    assert.match(suggestion.reason, /p90 of daily spend over the last 14 days is \$13\.00; × 1\.2 headroom = \$15\.60 per day/);
    assert.deepEqual((await runAutotune(t.store, now, TZ)), [], 'suggest never changes the cap');
    await setCap(t.store, 'k', { ceilingNanos: 12_000_000_000, autotune: 'creep' }, 'cli');
    const applied = await runAutotune(t.store, now, TZ);
    assert.equal(applied.length, 1);
    assert.deepEqual([applied[0]!.kind, applied[0]!.channel, applied[0]!.capBeforeNanos, applied[0]!.capAfterNanos], ['autotune-creep', 'auto', 5_000_000_000, 12_000_000_000]);
    assert.match(applied[0]!.detail!, /held at the ceiling \$12\.00/);
    assert.equal((await t.store.budgets.byName('k'))!.capNanos, 12_000_000_000);
    assert.deepEqual((await runAutotune(t.store, now, TZ)), [], 'nothing more to apply');
    const listed = JSON.parse((await cli(t.dir, ['budget', 'list', '--json'])).out) as Array<{ autotune: string; suggestion: { capUsd: number; reason: string } | null }>;
    assert.equal(listed[0]!.autotune, 'creep');
    assert.ok(listed[0]!.suggestion !== null);
  } finally {
    await t.close();
  }
});

test('log exports: --csv with a header and quoting, --jsonl one row a line oldest first, --json, --since', async () => {
  const t = await setup();
  try {
    const now = Date.now();
    await t.store.ledger.insert(row({ ts: now - 3 * 86_400_000, keyId: t.keyId, costNanos: 1_500_000, detail: 'old, "quoted"' }));
    await t.store.ledger.insert(row({ ts: now - 60_000, keyId: t.keyId, costNanos: 2_500_000, tag: 'proj' }));
    const csv = (await cli(t.dir, ['log', '--csv'])).out.trim().split('\n');
    assert.equal(csv.length, 3);
    assert.match(csv[0]!, /^ts,requestId,keyName,session,tag,provider,model,.*costUsd,costNanos,.*detail$/);
    assert.match(csv[1]!, /,0\.0015,1500000,.*,"old, ""quoted"""$/);
    assert.match(csv[2]!, /,proj,anthropic,/);
    const jsonl = (await cli(t.dir, ['log', '--jsonl'])).out.trim().split('\n').map((l) => JSON.parse(l) as { costNanos: number; tag: string | null });
    assert.deepEqual(jsonl.map((r) => [r.costNanos, r.tag]), [[1_500_000, null], [2_500_000, 'proj']]);
    const since = (await cli(t.dir, ['log', '--jsonl', '--since', '1d'])).out.trim().split('\n');
    assert.equal(since.length, 1);
    const json = JSON.parse((await cli(t.dir, ['log', '--json', '--since', '7d'])).out) as Array<{ costNanos: number }>;
    assert.deepEqual(json.map((r) => r.costNanos), [2_500_000, 1_500_000], '--json stays newest first');
    assert.equal((await cli(t.dir, ['log', '--csv', '--since', 'yesterday-ish'])).code, 2);
    assert.equal((await cli(t.dir, ['log', '--csv', '--jsonl'])).code, 2);
  } finally {
    await t.close();
  }
});
