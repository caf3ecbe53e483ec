// The contract every Store keeps, as one suite any implementation runs unchanged:
//   storeContract('sqlite', async () => ({ store, open: () => another Store on the same place, cleanup }))
// Nothing here knows SQL or SQLite: only the Store interface and its promises.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreError } from './errors.js';
import type { NewKeyBudget, Store } from './store.js';
import type { HoldRecord, KeyRecord, LedgerRow } from './types.js';

export interface ContractFixture {
  store: Store;
  /** Another Store over the same data (a second process, a restart): what it sees is what is durable. */
  open: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

export type StoreFactory = () => Promise<ContractFixture>;

const T0 = Date.UTC(2026, 2, 10, 12, 0, 0);
const DAY = 86_400_000;

const budget = (capNanos = 5_000_000_000): NewKeyBudget => ({ capNanos, period: 'month', sessionCapNanos: null, ceilingNanos: null, mode: 'hard', updatedAt: T0 });
const keyOf = (name: string, n = 1): Omit<KeyRecord, 'id'> => ({
  name,
  provider: 'openai',
  tokenHash: `hash-${name}-${n}`,
  tokenHint: 'sc-abc…',
  providerKeyEnc: 'enc',
  baseUrl: null,
  createdAt: T0,
});
function row(k: KeyRecord, over: Partial<LedgerRow> = {}): LedgerRow {
  return {
    ts: T0,
    requestId: `req-${Math.random()}`,
    keyId: k.id,
    keyName: k.name,
    session: null,
    provider: 'openai',
    model: 'gpt-4o-mini',
    pricedAs: null,
    priceEstimated: false,
    inputTokens: 10,
    outputTokens: 5,
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
    costNanos: 1_000,
    outcome: 'ok',
    usageSource: 'provider',
    status: 200,
    durationMs: 12,
    detail: null,
    tag: null,
    ...over,
  };
}
const hold = (k: KeyRecord, id: string, amountNanos: number, over: Partial<HoldRecord> = {}): HoldRecord => ({ id, ts: T0, keyId: k.id, keyName: k.name, session: null, provider: 'openai', model: 'gpt-4o-mini', amountNanos, tag: null, ...over });

async function rejectsWith(p: Promise<unknown>, code: StoreError['code']): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof StoreError && err.code === code);
}

/** Runs every behaviour of the Store interface against stores made by `factory`, one fresh store per test. */
export function storeContract(name: string, factory: StoreFactory): void {
  const it = (title: string, body: (f: ContractFixture) => Promise<void>): void =>
    void test(title, async () => {
      const f = await factory();
      try {
        await body(f);
      } finally {
        await f.store.close();
        await f.cleanup();
      }
    });

  void describe(`Store contract: ${name}`, () => {
    void describe('keys', () => {
      it('a key is created with its own budget, found by name, listed by name', async ({ store }) => {
        const b = await store.keys.create(keyOf('zeta'), budget());
        const a = await store.keys.create(keyOf('alpha'), budget(7));
        assert.ok(a.id !== b.id);
        assert.equal((await store.keys.byName('zeta'))?.tokenHash, 'hash-zeta-1');
        assert.equal(await store.keys.byName('nobody'), undefined);
        assert.deepEqual((await store.keys.list()).map((k) => k.name), ['alpha', 'zeta']);
        const kb = await store.budgets.byName('alpha');
        assert.equal(kb?.scope, 'key');
        assert.equal(kb?.keyId, a.id);
        assert.equal(kb?.capNanos, 7);
        assert.equal(kb?.killed, false);
      });
      it('a taken name is E_EXISTS and leaves nothing behind', async ({ store }) => {
        await store.keys.create(keyOf('dup'), budget());
        await rejectsWith(store.keys.create(keyOf('dup', 2), budget()), 'E_EXISTS');
        assert.equal((await store.keys.list()).length, 1);
      });
      it('a failing write fails alone: writes queued beside it still land', async ({ store }) => {
        const results = await Promise.allSettled([store.keys.create(keyOf('one'), budget()), store.keys.create(keyOf('one', 2), budget()), store.keys.create(keyOf('two'), budget())]);
        // Which of the two same-named creates lands first is the store's (a pooled store may run them in any order); exactly one does.
        assert.deepEqual([results[0].status, results[1].status].sort(), ['fulfilled', 'rejected']);
        assert.equal(results[2].status, 'fulfilled');
        assert.deepEqual((await store.keys.list()).map((k) => k.name), ['one', 'two']);
      });
      it('remove deletes the key and its budget, keeps its ledger rows, records the event', async ({ store }) => {
        const k = await store.keys.create(keyOf('gone'), budget(), { ts: T0, kind: 'key-add', budget: 'gone', channel: 'cli', capBeforeNanos: null, capAfterNanos: 5, detail: null });
        await store.ledger.insert(row(k));
        await store.keys.remove('gone', { ts: T0 + 1, kind: 'key-rm', budget: 'gone', channel: 'cli', capBeforeNanos: null, capAfterNanos: null, detail: null });
        assert.equal(await store.keys.byName('gone'), undefined);
        assert.equal(await store.budgets.byName('gone'), undefined);
        assert.equal((await store.ledger.page(10)).length, 1);
        assert.deepEqual((await store.events.list(10)).map((e) => e.kind), ['key-rm', 'key-add']);
        await rejectsWith(store.keys.remove('gone'), 'E_NOT_FOUND');
      });
    });

    void describe('budgets', () => {
      it('create, change and remove a shared budget, each with its event', async ({ store }) => {
        const { after, event } = await store.budgets.create({ name: 'team', scope: 'global', keyId: null, capNanos: 100, period: 'day', sessionCapNanos: null, ceilingNanos: null, mode: 'soft', clamp: true, autotune: 'suggest' }, { channel: 'api', ts: T0 });
        assert.equal(after.name, 'team');
        assert.equal(after.mode, 'soft');
        assert.equal(after.clamp, true);
        assert.equal(after.autotune, 'suggest');
        assert.equal(event.kind, 'budget-add');
        assert.equal(event.capAfterNanos, 100);
        const ch = await store.budgets.change('team', (b) => ({ ...b, capNanos: 250, killed: true }), { kind: 'lift', channel: 'cli', ts: T0 + 5, detail: (b, a) => `${b.capNanos}→${a.capNanos}` });
        assert.equal(ch.before.capNanos, 100);
        assert.equal(ch.after.capNanos, 250);
        assert.equal(ch.event.detail, '100→250');
        const now = await store.budgets.byName('team');
        assert.equal(now?.killed, true);
        assert.equal(now?.updatedAt, T0 + 5);
        await rejectsWith(store.budgets.create({ name: 'team', scope: 'tag', keyId: null, capNanos: 1, period: 'day', sessionCapNanos: null, ceilingNanos: null, mode: 'hard', clamp: false, autotune: 'off' }, { channel: 'cli' }), 'E_EXISTS');
        const rm = await store.budgets.remove('team', { channel: 'cli', ts: T0 + 9 });
        assert.equal(rm.event.kind, 'budget-rm');
        assert.equal(await store.budgets.byName('team'), undefined);
        await rejectsWith(store.budgets.remove('team', { channel: 'cli' }), 'E_NOT_FOUND');
        await rejectsWith(store.budgets.change('team', (b) => b, { kind: 'x', channel: 'cli' }), 'E_NOT_FOUND');
      });
      it("a key's budget cannot be removed as a budget; a key's name is taken for budgets", async ({ store }) => {
        await store.keys.create(keyOf('k1'), budget());
        await rejectsWith(store.budgets.remove('k1', { channel: 'cli' }), 'E_INVALID');
        await rejectsWith(store.budgets.create({ name: 'k1', scope: 'tag', keyId: null, capNanos: 1, period: 'day', sessionCapNanos: null, ceilingNanos: null, mode: 'hard', clamp: false, autotune: 'off' }, { channel: 'cli' }), 'E_EXISTS');
      });
    });

    void describe('holds and settle', () => {
      it('a hold is listed, updated, and settled into exactly one ledger row', async ({ store }) => {
        const k = await store.keys.create(keyOf('h'), budget());
        await store.holds.insert(hold(k, 'h1', 500, { session: 's1', tag: 't' }));
        await store.holds.update('h1', 800, 'gpt-4o');
        const [h] = await store.holds.list();
        assert.equal(h?.amountNanos, 800);
        assert.equal(h?.model, 'gpt-4o');
        assert.equal(h?.session, 's1');
        assert.equal(h?.tag, 't');
        const id = await store.holds.settle('h1', row(k, { requestId: 'h1', costNanos: 640 }));
        assert.ok(id > 0);
        assert.deepEqual(await store.holds.list(), []);
        const rows = await store.ledger.page(10);
        assert.equal(rows.length, 1);
        assert.equal(rows[0]?.costNanos, 640);
        assert.equal(rows[0]?.id, id);
      });
      it('a write is durable once its promise resolves: another store sees holds and settled rows', async ({ store, open }) => {
        const k = await store.keys.create(keyOf('d'), budget());
        await Promise.all([store.holds.insert(hold(k, 'a', 1)), store.holds.insert(hold(k, 'b', 2)), store.holds.insert(hold(k, 'c', 3))]);
        await store.holds.settle('b', row(k, { requestId: 'b', costNanos: 2 }));
        const other = await open();
        try {
          assert.deepEqual((await other.holds.list()).map((h) => h.id).sort(), ['a', 'c']);
          assert.deepEqual((await other.ledger.page(10)).map((r) => r.requestId), ['b']);
        } finally {
          await other.close();
        }
      });
      it('flush resolves after every write queued before it', async ({ store, open }) => {
        const k = await store.keys.create(keyOf('f'), budget());
        void store.holds.insert(hold(k, 'x', 9));
        void store.ledger.insert(row(k, { outcome: 'blocked', costNanos: 0 }));
        await store.flush();
        const other = await open();
        try {
          assert.equal((await other.holds.list()).length, 1);
          assert.equal((await other.ledger.page(10)).length, 1);
        } finally {
          await other.close();
        }
      });
    });

    void describe('ledger', () => {
      it('rows round-trip with every field', async ({ store }) => {
        const k = await store.keys.create(keyOf('r'), budget());
        const r = row(k, { session: 'sess', pricedAs: 'gpt-4o', priceEstimated: true, cacheReadTokens: 3, cacheWrite5mTokens: 4, cacheWrite1hTokens: 5, providerCostNanos: 77, meteredCostNanos: 66, tag: 'tg', outcome: 'cut', usageSource: 'estimate', status: null, detail: 'why' });
        await store.ledger.insert(r);
        const [got] = await store.ledger.page(1);
        const { id, ...rest } = got!;
        assert.ok(id > 0);
        assert.deepEqual(rest, r);
      });
      it('spentSince by key, tag and all; by session; sessions of a key', async ({ store }) => {
        const a = await store.keys.create(keyOf('a'), budget());
        const b = await store.keys.create(keyOf('b'), budget());
        await store.ledger.insert(row(a, { ts: T0 - DAY, costNanos: 100 }));
        await store.ledger.insert(row(a, { ts: T0, costNanos: 10, session: 's1', tag: 'x' }));
        await store.ledger.insert(row(b, { ts: T0 + 1, costNanos: 1, session: 's1' }));
        await store.ledger.insert(row(a, { ts: T0 + 2, costNanos: 1000, session: 's2' }));
        assert.equal(await store.ledger.spentSince({ keyId: a.id }, T0), 1010);
        assert.equal(await store.ledger.spentSince({ keyId: a.id }, 0), 1110);
        assert.equal(await store.ledger.spentSince({ tag: 'x' }, 0), 10);
        assert.equal(await store.ledger.spentSince('all', T0), 1011);
        assert.equal(await store.ledger.spentBySession(a.id, 's1'), 10);
        assert.deepEqual(await store.ledger.sessionsOfKey(a.id, 10), [
          { session: 's2', spentNanos: 1000, lastTs: T0 + 2 },
          { session: 's1', spentNanos: 10, lastTs: T0 },
        ]);
        const ks = await store.ledger.keySessions(a.id, 0, 10);
        assert.deepEqual(ks.map((s) => [s.session, s.requests, s.spentNanos, s.lastOutcome]), [
          ['s2', 1, 1000, 'ok'],
          ['s1', 1, 10, 'ok'],
        ]);
        assert.deepEqual(await store.ledger.costRows({ keyId: a.id }, T0 - DAY, T0 + 1), [
          { ts: T0 - DAY, costNanos: 100 },
          { ts: T0, costNanos: 10 },
        ]);
      });
      it('page, search and since give rows in the promised order and filter', async ({ store }) => {
        const a = await store.keys.create(keyOf('a'), budget());
        for (let i = 0; i < 5; i++) await store.ledger.insert(row(a, { ts: T0 + i, requestId: `r${i}`, outcome: i % 2 ? 'blocked' : 'ok' }));
        assert.deepEqual((await store.ledger.page(2, 1)).map((r) => r.requestId), ['r3', 'r2']);
        const s = await store.ledger.search({ limit: 10, offset: 0, outcome: 'blocked' });
        assert.equal(s.total, 2);
        assert.deepEqual(s.rows.map((r) => r.requestId), ['r3', 'r1']);
        assert.equal((await store.ledger.search({ limit: 1, offset: 0, key: 'a', since: T0 + 1, until: T0 + 4 })).total, 3);
        assert.deepEqual((await store.ledger.since(T0 + 3)).map((r) => r.requestId), ['r3', 'r4']);
      });
      it('aggregates: by model, outcomes, buckets, models in use, metrics, estimated count, provider rows', async ({ store }) => {
        const a = await store.keys.create(keyOf('a'), budget());
        await store.ledger.insert(row(a, { ts: T0, model: 'm1', costNanos: 5, inputTokens: 1, outputTokens: 2 }));
        await store.ledger.insert(row(a, { ts: T0 + 1, model: 'm1', costNanos: 7, inputTokens: 1, outputTokens: 2, priceEstimated: true }));
        await store.ledger.insert(row(a, { ts: T0 + 2, model: 'm2', costNanos: 100, outcome: 'blocked', durationMs: 0 }));
        const bm = await store.ledger.byModel({ since: 0 });
        assert.deepEqual(bm.map((m) => [m.model, m.requests, m.costNanos, m.inputTokens, m.outputTokens]), [
          ['m2', 1, 100, 10, 5],
          ['m1', 2, 12, 2, 4],
        ]);
        assert.deepEqual(await store.ledger.outcomes({ since: 0 }), { ok: 2, blocked: 1 });
        const buckets = await store.ledger.buckets({ since: 0 }, 60_000);
        assert.equal(buckets.reduce((s, b) => s + b.costNanos, 0), 112);
        assert.ok(buckets.every((b) => b.start % 60_000 === 0 && b.keyName === 'a'));
        assert.deepEqual((await store.ledger.modelsInUse(0, 10)).map((m) => m.model), ['m2', 'm1']);
        const m = await store.ledger.metrics([0.01, 1]);
        assert.equal(m.duration.count, 2);
        assert.deepEqual(m.duration.buckets, [0, 2]);
        assert.equal(m.requests.reduce((s, r) => s + r.count, 0), 3);
        assert.equal(await store.ledger.estimatedCount({ keyId: a.id }, 0), 1);
        assert.deepEqual((await store.ledger.providerRows('openai', 0)).map((r) => r.model), ['m1', 'm1']);
        assert.equal(await store.ledger.maxId(), (await store.ledger.page(1))[0]!.id);
        assert.deepEqual((await store.ledger.estimatedAfter(0, 10)).map((r) => r.model), ['m1']);
      });
      it('correct sets rows to the provider figure only when unchanged, with events and a meta mark', async ({ store }) => {
        const a = await store.keys.create(keyOf('a'), budget());
        const id1 = await store.ledger.insert(row(a, { costNanos: 100 }));
        const id2 = await store.ledger.insert(row(a, { costNanos: 200 }));
        const applied = await store.ledger.correct(
          [
            { rowId: id1, fromNanos: 100, toNanos: 150 },
            { rowId: id2, fromNanos: 999, toNanos: 1 },
          ],
          (ids) => [{ ts: T0, kind: 'reconcile', budget: 'a', channel: 'cli', capBeforeNanos: null, capAfterNanos: null, detail: `${ids.length}` }],
          { key: 'ledger_corrected_at', value: String(T0) },
        );
        assert.deepEqual(applied, [id1]);
        const rows = await store.ledger.page(10);
        const r1 = rows.find((r) => r.id === id1)!;
        assert.equal(r1.costNanos, 150);
        assert.equal(r1.providerCostNanos, 150);
        assert.equal(r1.meteredCostNanos, 100);
        assert.equal(rows.find((r) => r.id === id2)!.costNanos, 200);
        assert.equal((await store.events.list(5))[0]?.detail, '1');
        assert.equal(await store.settings.getMeta('ledger_corrected_at'), String(T0));
      });
    });

    void describe('daily totals and retention', () => {
      it('prune folds old rows into daily totals; every sum still counts them, once', async ({ store }) => {
        const a = await store.keys.create(keyOf('a'), budget());
        const dayOf = (ts: number) => {
          const start = Math.floor(ts / DAY) * DAY;
          return { day: new Date(start).toISOString().slice(0, 10), dayStart: start };
        };
        await store.ledger.insert(row(a, { ts: T0 - 3 * DAY, costNanos: 30, tag: 'x' }));
        await store.ledger.insert(row(a, { ts: T0 - 3 * DAY + 5, costNanos: 3 }));
        await store.ledger.insert(row(a, { ts: T0, costNanos: 1 }));
        assert.equal(await store.daily.prunedBefore(), 0);
        assert.equal(await store.daily.prune(T0 - DAY, dayOf), 2);
        assert.equal(await store.daily.prune(T0 - DAY, dayOf), 0);
        assert.equal(await store.daily.prunedBefore(), T0 - DAY);
        assert.equal((await store.ledger.page(10)).length, 1);
        assert.equal(await store.ledger.spentSince({ keyId: a.id }, 0), 34);
        assert.equal(await store.ledger.spentSince('all', 0), 34);
        assert.equal(await store.ledger.spentSince({ tag: 'x' }, 0), 30);
        const totals = await store.daily.list();
        assert.equal(totals.length, 2);
        assert.equal(totals.reduce((s, t) => s + t.requests, 0), 2);
        assert.deepEqual(await store.daily.totals({ keyId: a.id }, 0, T0), [{ day: dayOf(T0 - 3 * DAY).day, dayStart: dayOf(T0 - 3 * DAY).dayStart, costNanos: 33 }]);
        assert.equal((await store.daily.byDay({ since: 0 })).reduce((s, d) => s + d.costNanos, 0), 33);
        assert.equal((await store.ledger.byModel({ since: 0 }))[0]?.costNanos, 34);
      });
    });

    void describe('events', () => {
      it('insert returns the stored event; list, search and after filter and order', async ({ store }) => {
        const e1 = await store.events.insert({ ts: T0, kind: 'lift', budget: 'a', channel: 'cli', capBeforeNanos: 1, capAfterNanos: 2, detail: null });
        await store.events.insert({ ts: T0 + 1, kind: 'kill', budget: 'b', channel: 'web', capBeforeNanos: null, capAfterNanos: null, detail: 'd' });
        await store.events.insert({ ts: T0 + 2, kind: 'lift', budget: 'b', channel: 'api', capBeforeNanos: 2, capAfterNanos: 3, detail: null });
        assert.ok(e1.id > 0);
        assert.equal(e1.capAfterNanos, 2);
        assert.deepEqual((await store.events.list(10)).map((e) => e.ts), [T0 + 2, T0 + 1, T0]);
        assert.deepEqual((await store.events.list(10, { budget: 'b', sinceMs: T0 + 2 })).map((e) => e.kind), ['lift']);
        const s = await store.events.search({ limit: 1, offset: 0, kind: 'lift' });
        assert.equal(s.total, 2);
        assert.equal(s.rows[0]?.channel, 'api');
        assert.deepEqual((await store.events.after(e1.id, 10)).map((e) => e.kind), ['kill', 'lift']);
        assert.equal(await store.events.maxId(), e1.id + 2);
      });
    });

    void describe('thresholds', () => {
      it('a mark is true once per budget, period and pct; its event lands only then', async ({ store }) => {
        const ev = { ts: T0, kind: 'threshold', budget: 'a', channel: 'auto' as const, capBeforeNanos: null, capAfterNanos: null, detail: '80%' };
        assert.equal(await store.thresholds.mark(1, T0, 80, T0, ev), true);
        assert.equal(await store.thresholds.mark(1, T0, 80, T0 + 1, ev), false);
        assert.equal(await store.thresholds.mark(1, T0 + DAY, 80, T0, ev), true);
        assert.equal(await store.thresholds.mark(1, T0, 50, T0), true);
        assert.equal(await store.thresholds.maxFired(1, T0), 80);
        assert.equal(await store.thresholds.maxFired(2, T0), 0);
        assert.equal((await store.events.list(10)).length, 2);
      });
    });

    void describe('settings, meta, prices', () => {
      it('settings set together with their event, read one or all, deleted by null', async ({ store }) => {
        const e = await store.settings.set({ tz: 'Europe/Paris', retain_days: '30' }, { ts: T0, kind: 'settings', budget: null, channel: 'cli', capBeforeNanos: null, capAfterNanos: null, detail: 'x' });
        assert.equal(e?.kind, 'settings');
        assert.equal(await store.settings.get('tz'), 'Europe/Paris');
        assert.deepEqual(await store.settings.all(), { tz: 'Europe/Paris', retain_days: '30' });
        assert.equal(await store.settings.set({ tz: null }), null);
        assert.equal(await store.settings.get('tz'), null);
        await store.settings.setMeta('m', 'v1');
        await store.settings.setMeta('m', 'v2');
        assert.equal(await store.settings.getMeta('m'), 'v2');
        assert.equal(await store.settings.getMeta('none'), null);
        assert.deepEqual(await store.settings.all(), { retain_days: '30' });
      });
      it('prices: upsert, list by model, remove says whether there was one', async ({ store }) => {
        await store.prices.set({ model: 'b', input: 1, output: 2, cacheRead: null, cacheWrite: 4 });
        await store.prices.set({ model: 'a', input: 5, output: 6, cacheRead: 7, cacheWrite: null }, { ts: T0, kind: 'price-set', budget: null, channel: 'cli', capBeforeNanos: null, capAfterNanos: null, detail: null });
        await store.prices.set({ model: 'b', input: 10, output: 20, cacheRead: null, cacheWrite: null });
        const list = await store.prices.list();
        assert.deepEqual(list.map((p) => [p.model, p.input, p.output, p.cacheRead, p.cacheWrite]), [
          ['a', 5, 6, 7, null],
          ['b', 10, 20, null, null],
        ]);
        assert.equal(await store.prices.remove('a'), true);
        assert.equal(await store.prices.remove('a'), false);
        assert.equal((await store.events.list(10)).length, 1);
      });
    });

    void describe('dashboard sessions', () => {
      it('a link works once and only before it expires; sessions expire and can be removed', async ({ store }) => {
        await store.sessions.insertLink('L1', T0, T0 + 1000);
        await store.sessions.insertLink('L2', T0, T0 + 10);
        assert.equal(await store.sessions.consumeLink('L1', T0 + 1), true);
        assert.equal(await store.sessions.consumeLink('L1', T0 + 2), false);
        assert.equal(await store.sessions.consumeLink('L2', T0 + 20), false);
        await store.sessions.insertSession('S1', T0, T0 + 100);
        assert.equal(await store.sessions.session('S1', T0 + 1), T0 + 100);
        assert.equal(await store.sessions.session('S1', T0 + 100), null);
        assert.equal(await store.sessions.removeSession('S1'), true);
        assert.equal(await store.sessions.removeSession('S1'), false);
      });
    });

    void describe('tokens and agent connections', () => {
      it("a key's own token authenticates; extra tokens are listed, bound, revoked one at a time", async ({ store }) => {
        const k = await store.keys.create(keyOf('t'), budget());
        assert.deepEqual(await store.tokens.live(), [{ keyId: k.id, tokenHash: 'hash-t-1', session: null, budget: null }]);
        const extra = await store.tokens.insert({ keyId: k.id, label: 'codex', tokenHash: 'h2', tokenHint: 'sc-x…', createdAt: T0, session: 'run1', budget: 'tagb' });
        assert.equal(extra.label, 'codex');
        const live = await store.tokens.live();
        assert.deepEqual(live.map((t) => t.tokenHash).sort(), ['h2', 'hash-t-1']);
        assert.deepEqual(live.find((t) => t.tokenHash === 'h2'), { keyId: k.id, tokenHash: 'h2', session: 'run1', budget: 'tagb' });
        assert.deepEqual((await store.tokens.list(k.id)).map((t) => t.label), ['primary', 'codex']);
        const revoked = await store.tokens.revoke(k.id, 'primary', T0 + 5);
        assert.equal(revoked.revokedAt, T0 + 5);
        assert.deepEqual((await store.tokens.live()).map((t) => t.tokenHash), ['h2']);
        await rejectsWith(store.tokens.revoke(k.id, 'nope', T0), 'E_NOT_FOUND');
        await store.tokens.revokeId(extra.id, T0 + 6);
        assert.deepEqual(await store.tokens.live(), []);
      });
      it('connections are saved, replaced, listed and removed', async ({ store }) => {
        const c = { agent: 'codex', keyName: 'k', tokenId: 3, url: 'http://127.0.0.1:8787', files: [{ path: '/x', backup: null, writtenSha256: 'ab' }], connectedAt: T0 };
        await store.connections.save(c);
        await store.connections.save({ ...c, tokenId: 4 });
        await store.connections.save({ ...c, agent: 'claude' });
        assert.equal((await store.connections.get('codex'))?.tokenId, 4);
        assert.deepEqual((await store.connections.get('codex'))?.files, c.files);
        assert.deepEqual((await store.connections.list()).map((x) => x.agent), ['claude', 'codex']);
        await store.connections.remove('codex');
        assert.equal(await store.connections.get('codex'), undefined);
      });
    });

    void describe('alerts', () => {
      it('channels, outbox dedupe and delivery states, budget settings, asks', async ({ store }) => {
        await store.alerts.insertChannel({ name: 'ops', kind: 'slack', budgets: ['a'], events: ['threshold'], settings: { url: 'u' }, secretsEnc: null, createdAt: T0 });
        await rejectsWith(store.alerts.insertChannel({ name: 'ops', kind: 'slack', budgets: [], events: [], settings: {}, secretsEnc: null, createdAt: T0 }), 'E_EXISTS');
        const v1 = await store.alerts.channelsVersion();
        await store.alerts.recordTest('ops', true, 'ok', T0 + 1);
        assert.equal((await store.alerts.channel('ops'))?.testOk, true);
        const base = { id: 'o1', channel: 'ops', dedupeKey: 'd', kind: 'block', budget: 'a', alert: '{}', now: T0 };
        assert.equal(await store.alerts.enqueue(base, 'once'), 'new');
        assert.equal(await store.alerts.enqueue({ ...base, id: 'o2' }, 'once'), 'kept');
        assert.equal(await store.alerts.enqueue({ ...base, id: 'o3', alert: '{"n":2}' }, 'update'), 'updated');
        const o = await store.alerts.outboxRow('o1');
        assert.equal(o?.count, 2);
        assert.equal(o?.alert, '{"n":2}');
        assert.deepEqual((await store.alerts.dueRows(T0, 10)).map((r) => r.id), ['o1']);
        await store.alerts.markSent('o1', 'ref', T0 + 1, T0 + 100);
        assert.equal((await store.alerts.outboxRow('o1'))?.state, 'sent');
        assert.deepEqual(await store.alerts.dueRows(T0 + 2, 10), []);
        assert.equal((await store.alerts.recentOutbox(10, 'ops')).length, 1);
        const s = await store.alerts.setBudgetSettings('a', { ask: true, thresholds: [50] });
        assert.deepEqual(s, { budget: 'a', ask: true, askTimeoutS: null, thresholds: [50] });
        assert.deepEqual(await store.alerts.budgetSettings('a'), s);
        await store.alerts.insertAsk({ id: 'q1', budget: 'a', keyName: 'k', addNanos: 5, createdAt: T0, expiresAt: T0 + 60_000 });
        assert.deepEqual((await store.alerts.pendingAsks(T0 + 1)).map((x) => x.id), ['q1']);
        assert.equal(await store.alerts.decideAsk('q1', 'approved', 'me', T0 + 2), true);
        assert.equal(await store.alerts.decideAsk('q1', 'denied', 'you', T0 + 3), false);
        assert.equal((await store.alerts.ask('q1'))?.state, 'approved');
        assert.equal(await store.alerts.deleteChannel('ops'), true);
        assert.equal(await store.alerts.outboxRow('o1'), undefined);
        assert.notEqual(await store.alerts.channelsVersion(), v1);
      });
    });

    void describe('provider keys', () => {
      it('admin keys upsert per provider; a link follows its spendcap key', async ({ store }) => {
        await store.providerKeys.saveAdmin('openrouter', 'enc1', 'sk-or…1', T0);
        await store.providerKeys.saveAdmin('openrouter', 'enc2', 'sk-or…2', T0 + 1);
        assert.equal(await store.providerKeys.adminEnc('openrouter'), 'enc2');
        assert.equal(await store.providerKeys.adminEnc('openai'), null);
        assert.deepEqual(await store.providerKeys.listAdmin(), [{ provider: 'openrouter', hint: 'sk-or…2', createdAt: T0 + 1 }]);
        const k = await store.keys.create(keyOf('p'), budget());
        await store.providerKeys.link({ keyId: k.id, provider: 'openrouter', hash: 'hh', label: 'spendcap-p', createdAt: T0 });
        assert.equal((await store.providerKeys.linkOf(k.id))?.hash, 'hh');
        assert.equal((await store.providerKeys.links()).length, 1);
        await store.keys.remove('p');
        assert.equal(await store.providerKeys.linkOf(k.id), null);
        assert.equal(await store.providerKeys.removeAdmin('openrouter'), true);
        assert.equal(await store.providerKeys.removeAdmin('openrouter'), false);
      });
    });

    void describe('change feed', () => {
      it("another store's commit moves the version; nothing committed leaves it", async ({ store, open }) => {
        const v0 = await store.changes.version();
        assert.equal(await store.changes.version(), v0);
        const other = await open();
        try {
          await other.keys.create(keyOf('cli-added'), budget());
        } finally {
          await other.close();
        }
        assert.notEqual(await store.changes.version(), v0);
        assert.equal((await store.keys.byName('cli-added'))?.name, 'cli-added');
      });
    });
  });
}
