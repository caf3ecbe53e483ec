// The dispatcher against a real SQLite file and a real local webhook receiver, with a fake clock.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBudget } from '../budgets/index.js';
import { usdToNanos } from '../pricing/index.js';
import { loadOrCreateMasterKey } from '../secrets/index.js';
import { SqliteStore } from '../store/index.js';
import { saveChannel } from './config.js';
import { AlertService } from './dispatcher.js';

interface Rx {
  url: string;
  bodies: Array<Record<string, unknown>>;
  status: number;
  close(): Promise<void>;
}
async function receiver(): Promise<Rx> {
  const rx = { bodies: [] as Array<Record<string, unknown>>, status: 200 } as Rx;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (rx.status === 200) rx.bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      res.writeHead(rx.status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  rx.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  rx.close = () => new Promise((r) => server.close(() => r()));
  return rx;
}

describe('alert dispatcher', () => {
  let dir: string;
  let store: SqliteStore;
  let rx: Rx;
  let t: number;
  let service: AlertService;
  const key = () => loadOrCreateMasterKey(dir);
  const make = () => new AlertService({ store, masterKey: key(), dashboardUrl: () => 'http://127.0.0.1:8787/dashboard', now: () => t });
  const event = async (kind: string) => (await store.events.insert({ ts: t, kind, budget: 'team', channel: 'auto', capBeforeNanos: null, capAfterNanos: null, detail: null }));
  const spend = async (usd: number) =>
    await store.ledger.insert({ ts: t, requestId: String(Math.random()), keyId: 1, keyName: 'k', session: null, provider: 'anthropic', model: 'm', pricedAs: null, priceEstimated: false, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, costNanos: usdToNanos(usd), outcome: 'ok', usageSource: 'provider', status: 200, durationMs: 1, detail: null });
  const pass = async () => {
    await service.tick();
    await service.flush();
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'spendcap-alerts-'));
    store = new SqliteStore(dir);
    t = Date.now();
    await createBudget(store, { name: 'team', scope: 'global', capNanos: usdToNanos(10), period: 'day' }, 'cli');
    rx = await receiver();
    await saveChannel(store.alerts, key(), { name: 'hook', kind: 'webhook', budgets: [], events: [], settings: { url: rx.url, secret: 'x' } }, t);
    service = make();
    await service.start();
  });
  afterEach(async () => {
    await service.stop();
    await store.close();
    await rx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a storm of blocks is one message whose count grows: 5, then rewritten in place to 7', async () => {
    for (let i = 0; i < 5; i++) await event('block');
    await pass();
    assert.equal(rx.bodies.length, 1, 'one message for five blocks read in one pass');
    assert.equal(rx.bodies[0]!.kind, 'block');
    assert.equal(rx.bodies[0]!.count, 5);
    assert.match(String(rx.bodies[0]!.title), /5 requests were refused/);
    await event('block');
    await event('block');
    await pass();
    assert.equal(rx.bodies.length, 1, 'updates wait at least 15 s');
    t += 16_000;
    await pass();
    assert.equal(rx.bodies.length, 2);
    assert.equal(rx.bodies[1]!.update, true);
    assert.equal(rx.bodies[1]!.count, 7);
    assert.equal(rx.bodies[1]!.id, rx.bodies[0]!.id, 'the same alert, rewritten');
  });

  test('one 80% alert per budget per period, however often it is checked', async () => {
    await spend(8.5);
    await pass();
    await pass();
    t += 60_000;
    await pass();
    const th = rx.bodies.filter((b) => b.kind === 'threshold');
    assert.equal(th.length, 1);
    assert.equal(th[0]!.threshold, 80);
    await spend(1.5);
    await pass();
    assert.deepEqual(rx.bodies.filter((b) => b.kind === 'threshold').map((b) => b.threshold), [80, 100]);
  });

  test('a failing channel is retried with backoff, survives a restart, and a failure shows in the event log', async () => {
    rx.status = 500;
    await event('kill');
    await pass();
    const row = (await store.alerts.recentOutbox(10))[0]!;
    assert.equal(row.state, 'pending');
    assert.equal(row.attempts, 1);
    assert.equal(row.nextAttemptAt, t + 1000);
    t += 1000;
    await pass();
    t += 2000;
    await pass();
    assert.ok((await store.events.list(10)).some((e) => e.kind === 'alert-failed' && /failed 3 times: webhook answered HTTP 500; still retrying/.test(e.detail ?? '')), 'the third failure is in the event log');
    // Restart: a new dispatcher on the same file delivers what the old one could not.
    await service.stop();
    await store.close();
    store = new SqliteStore(dir);
    service = make();
    await service.start();
    rx.status = 200;
    t += 4000;
    await pass();
    assert.equal(rx.bodies.length, 1);
    assert.equal(rx.bodies[0]!.kind, 'kill');
    assert.equal((await store.alerts.recentOutbox(10))[0]!.state, 'sent');
  });

  test('a channel down for an hour gets the latest state when it comes back, not a flood', async () => {
    rx.status = 500;
    await spend(5);
    await pass();
    for (let minute = 0; minute < 60; minute += 5) {
      t += 5 * 60_000;
      if (minute === 10) await spend(3.5);
      if (minute === 20) await event('block');
      if (minute === 30) await event('cut');
      await pass();
    }
    rx.status = 200;
    t += 5 * 60_000;
    await pass();
    assert.equal(rx.bodies.length, 1, `one message, got ${rx.bodies.map((b) => b.kind).join(',')}`);
    assert.equal(rx.bodies[0]!.kind, 'cut', 'the newest state');
  });
});
