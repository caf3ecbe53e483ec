import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, MIGRATIONS, SCHEMA_VERSION, schemaVersion } from './migrations.js';
import { DB_FILE, SqliteStore } from './sqlite.js';

const tables = (db: Database.Database): string[] => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((t) => t.name);

test('migrations are numbered 1..N with a name each, in order', () => {
  assert.deepEqual(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1));
  assert.ok(MIGRATIONS.every((m) => m.name.length > 0));
  assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
});

test('a schema-4 data dir (side tables made on first use, or never) migrates to the current schema in place, data kept', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-migrate-'));
  try {
    // The file as spendcap at schema 4 left it: core tables only, a key, a ledger row, a hold in flight.
    const db = new Database(join(dir, DB_FILE));
    assert.deepEqual(migrate(db, 4).map((m) => m.version), [1, 2, 3, 4]);
    assert.equal(schemaVersion(db), 4);
    assert.ok(!tables(db).includes('key_tokens') && !tables(db).includes('alert_outbox') && !tables(db).includes('provider_keys'));
    db.prepare("INSERT INTO keys (id, name, provider, token_hash, token_hint, provider_key_enc, created_at) VALUES (1, 'work', 'openai', 'h', 'sc-x', 'enc', 1)").run();
    db.prepare("INSERT INTO budgets (name, scope, key_id, cap_nanos, period, updated_at) VALUES ('work', 'key', 1, 5000, 'month', 1)").run();
    db.prepare("INSERT INTO ledger (ts, request_id, key_id, key_name, provider, model, cost_nanos, outcome, usage_source) VALUES (10, 'r1', 1, 'work', 'openai', 'gpt-4o', 42, 'ok', 'provider')").run();
    db.prepare("INSERT INTO holds (id, ts, key_id, key_name, provider, model, amount_nanos) VALUES ('h1', 11, 1, 'work', 'openai', 'gpt-4o', 99)").run();
    db.close();

    const store = new SqliteStore(dir);
    try {
      assert.equal(await store.settings.getMeta('schema_version'), String(SCHEMA_VERSION));
      assert.equal((await store.keys.byName('work'))?.tokenHash, 'h');
      assert.equal(await store.ledger.spentSince({ keyId: 1 }, 0), 42);
      assert.deepEqual((await store.holds.list()).map((h) => [h.id, h.amountNanos]), [['h1', 99]]);
      // The tables step 5 brought in work at once.
      assert.deepEqual((await store.tokens.live()).map((t) => t.tokenHash), ['h']);
      await store.providerKeys.link({ keyId: 1, provider: 'openrouter', hash: 'x', label: 'l', createdAt: 1 });
      assert.equal((await store.providerKeys.linkOf(1))?.hash, 'x');
    } finally {
      await store.close();
    }
    const again = new Database(join(dir, DB_FILE), { readonly: true });
    assert.ok(['key_tokens', 'agent_connections', 'alert_outbox', 'alert_channels', 'provider_keys', 'provider_admin_keys'].every((t) => tables(again).includes(t)));
    again.close();
    // Opening a current file runs nothing.
    const cur = new Database(join(dir, DB_FILE));
    assert.deepEqual(migrate(cur), []);
    cur.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('step 6: a schema-5 file keeps its holds in flight, now one B-tree keyed by id (WITHOUT ROWID), ids still unique', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-migrate-'));
  try {
    const db = new Database(join(dir, DB_FILE));
    migrate(db, 5);
    assert.equal(schemaVersion(db), 5);
    db.prepare("INSERT INTO keys (id, name, provider, token_hash, token_hint, provider_key_enc, created_at) VALUES (1, 'work', 'openai', 'h', 'sc-x', 'enc', 1)").run();
    db.prepare("INSERT INTO holds (id, ts, key_id, key_name, session, provider, model, amount_nanos, tag) VALUES ('h1', 11, 1, 'work', 's1', 'openai', 'gpt-4o', 99, 'proj')").run();
    db.close();

    const store = new SqliteStore(dir);
    try {
      assert.equal(await store.settings.getMeta('schema_version'), String(SCHEMA_VERSION));
      assert.deepEqual(
        (await store.holds.list()).map((h) => [h.id, h.ts, h.keyId, h.keyName, h.session, h.provider, h.model, h.amountNanos, h.tag]),
        [['h1', 11, 1, 'work', 's1', 'openai', 'gpt-4o', 99, 'proj']],
      );
      // A hold still settles into a ledger row and leaves nothing behind.
      await store.holds.settle('h1', { ts: 12, requestId: 'r1', keyId: 1, keyName: 'work', session: 's1', provider: 'openai', model: 'gpt-4o', pricedAs: 'gpt-4o', priceEstimated: false, inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, costNanos: 42, outcome: 'ok', usageSource: 'provider', status: 200, durationMs: 1, detail: null, providerCostNanos: null, meteredCostNanos: null, tag: 'proj' });
      assert.deepEqual(await store.holds.list(), []);
      assert.equal(await store.ledger.spentSince({ keyId: 1 }, 0), 42);
    } finally {
      await store.close();
    }
    const after = new Database(join(dir, DB_FILE));
    assert.match((after.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'holds'").get() as { sql: string }).sql, /WITHOUT ROWID/);
    after.prepare("INSERT INTO holds (id, ts, key_id, key_name, provider, model, amount_nanos) VALUES ('h2', 1, 1, 'work', 'openai', 'gpt-4o', 1)").run();
    assert.throws(() => after.prepare("INSERT INTO holds (id, ts, key_id, key_name, provider, model, amount_nanos) VALUES ('h2', 2, 1, 'work', 'openai', 'gpt-4o', 2)").run(), /UNIQUE|PRIMARY KEY/);
    after.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
