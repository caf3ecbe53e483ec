// Machinery nothing else asserted: migration from the first release's database, the WAL checkpoint
// worker, one block event per budget per minute, the admin API's 413, and opencode's session header.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encryptSecret, hashToken, loadOrCreateMasterKey, newSpendcapToken } from '../src/secrets/index.js';
import { SqliteStore } from '../src/store/index.js';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic } from './helpers/mock-anthropic.js';
import { addKey, cli, ledgerRows, startSpendcap, tempDataDir } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const usd = (n: number): number => Math.round(n * 1_000_000);

const message = (key: string, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'x-api-key': key, 'content-type': 'application/json', ...headers },
  body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
});

let mock: MockAnthropic;
before(async () => {
  mock = await startMockAnthropic({ outputTokens: 5 });
});
after(async () => {
  await mock.close();
});

test('a database of the first release (schema 1, test/fixtures/schema-v1.sql) opens, keeps its keys, budgets and spend, and meters on', async () => {
  const dir = tempDataDir();
  try {
    const token = newSpendcapToken();
    const db = new Database(join(dir, 'spendcap.db'));
    db.exec(readFileSync(join(FIXTURES, 'schema-v1.sql'), 'utf8'));
    db.prepare("INSERT INTO meta (k, v) VALUES ('schema_version', '1')").run();
    const now = Date.now();
    db.prepare('INSERT INTO keys (id, name, provider, token_hash, token_hint, provider_key_enc, created_at) VALUES (1, ?, ?, ?, ?, ?, ?)').run('old', 'anthropic', hashToken(token), token.slice(0, 7), encryptSecret(loadOrCreateMasterKey(dir), 'sk-ant-old'), now);
    db.prepare("INSERT INTO budgets (id, name, scope, key_id, cap_micros, period, mode, killed, updated_at) VALUES (1, 'old', 'key', 1, ?, 'total', 'hard', 0, ?)").run(usd(2), now);
    db.prepare("INSERT INTO ledger (ts, request_id, key_id, key_name, provider, model, input_tokens, output_tokens, cost_micros, outcome, usage_source, status, duration_ms) VALUES (?, 'r1', 1, 'old', 'anthropic', 'claude-sonnet-4-5', 10, 10, ?, 'ok', 'reported', 200, 5)").run(now - 1000, usd(0.5));
    db.close();

    const sc = await startSpendcap(mock.url, { dataDir: dir });
    try {
      const status = await cli(dir, ['status', '--json']);
      assert.equal(status.code, 0, status.err);
      const old = (JSON.parse(status.out) as Array<{ name: string; capUsd: number; spentUsd: number }>).find((b) => b.name === 'old')!;
      assert.deepEqual([old.capUsd, old.spentUsd], [2, 0.5], 'the cap and the spend of the old release');
      const r = await fetch(`${sc.url}/v1/messages`, message(token));
      assert.equal(r.status, 200, await r.text());
      const rows = await ledgerRows<{ requestId: string; keyName: string }>(sc);
      assert.equal(rows.length, 2, 'the old row and the new one');
      const store = new SqliteStore(dir, { readonly: true });
      try {
        assert.equal((await store.settings.getMeta('schema_version')), String(Number((await store.settings.getMeta('schema_version')))), 'a number');
        assert.ok(Number((await store.settings.getMeta('schema_version'))) > 1, 'the schema was brought up to date');
      } finally {
        await store.close();
      }
    } finally {
      await sc.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the WAL checkpoint worker folds the write-ahead log back into the database while the server runs', async () => {
  const dir = tempDataDir();
  const store = new SqliteStore(dir);
  const checkpointer = store.checkpointInBackground();
  try {
    const dbFile = join(dir, 'spendcap.db');
    const dbSize = statSync(dbFile).size;
    for (let i = 0; i < 2000; i++) (await store.settings.setMeta(`filler-${i}`, 'x'.repeat(500)));
    // The serving connection does not checkpoint by itself below MAX_WAL_BYTES (about 1 MB was
    // written here): only the worker can have copied the pages into the database file.
    const until = Date.now() + 10_000;
    while (statSync(dbFile).size <= dbSize + 500_000 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.ok(statSync(dbFile).size > dbSize + 500_000, `the worker copied the WAL into the database file (${dbSize} → ${statSync(dbFile).size} bytes)`);
  } finally {
    await checkpointer.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('on a running server', () => {
  let sc: TestSpendcap;
  before(async () => {
    sc = await startSpendcap(mock.url);
  });
  after(async () => {
    await sc.close();
  });

  test('a burst of blocked requests on one budget writes one block event, not one per request', async () => {
    const key = await addKey(sc.dataDir, 'tiny', 0.000001);
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${sc.url}/v1/messages`, message(key));
      await r.text();
      assert.notEqual(r.status, 200);
    }
    const events = JSON.parse((await cli(sc.dataDir, ['events', '--json', '--budget', 'tiny'])).out) as Array<{ kind: string }>;
    assert.equal(events.filter((e) => e.kind === 'block').length, 1, JSON.stringify(events));
    assert.equal((await ledgerRows<{ keyName: string; outcome: string }>(sc)).filter((r) => r.keyName === 'tiny').length, 5, 'every refusal still has its ledger row');
  });

  test('the admin API answers a body over its limit with 413, and goes on serving', async () => {
    const admin = readFileSync(join(sc.dataDir, 'admin-token'), 'utf8').trim();
    const big = JSON.stringify({ name: 'x'.repeat(2_000_000) });
    const r = await fetch(`${sc.url}/api/budgets`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: big });
    assert.equal(r.status, 413);
    assert.match(((await r.json()) as { error: { message: string } }).error.message, /larger than/);
    assert.equal((await fetch(`${sc.url}/api/budgets`, { headers: { authorization: `Bearer ${admin}` } })).status, 200);
  });

  test("opencode's x-session-id header names the request's session in the ledger", async () => {
    const key = await addKey(sc.dataDir, 'opencode', 5);
    const r = await fetch(`${sc.url}/v1/messages`, message(key, { 'x-session-id': 'ses_opencode_123' }));
    assert.equal(r.status, 200, await r.text());
    const row = (await ledgerRows<{ keyName: string; session: string | null }>(sc)).find((x) => x.keyName === 'opencode')!;
    assert.equal(row.session, 'ses_opencode_123');
  });
});
