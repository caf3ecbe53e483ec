import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DB_FILE, SqliteStore } from './sqlite.js';
import { SCHEMA_VERSION } from './migrations.js';

// The schema-3 file layout (money in integer micro-dollars, *_micros columns), as spendcap ≤ 0.1 wrote it.
const SCHEMA_3 = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  provider TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  token_hint TEXT NOT NULL,
  provider_key_enc TEXT NOT NULL,
  base_url TEXT,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS budgets (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  scope TEXT NOT NULL CHECK (scope IN ('key','global','tag')),
  key_id INTEGER REFERENCES keys(id) ON DELETE CASCADE,
  cap_micros INTEGER NOT NULL CHECK (cap_micros >= 0),
  period TEXT NOT NULL CHECK (period IN ('day','week','month','total')),
  session_cap_micros INTEGER,
  ceiling_micros INTEGER,
  mode TEXT NOT NULL DEFAULT 'hard' CHECK (mode IN ('hard','soft')),
  killed INTEGER NOT NULL DEFAULT 0,
  clamp INTEGER NOT NULL DEFAULT 0,
  autotune TEXT NOT NULL DEFAULT 'off',
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  key_id INTEGER NOT NULL,
  key_name TEXT NOT NULL,
  session TEXT,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  priced_as TEXT,
  price_estimated INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cache_read_tokens INTEGER NOT NULL DEFAULT 0,
  cache_write_5m_tokens INTEGER NOT NULL DEFAULT 0,
  cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,
  cost_micros INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  usage_source TEXT NOT NULL,
  status INTEGER,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  detail TEXT,
  provider_cost_micros INTEGER,
  metered_cost_micros INTEGER,
  tag TEXT
);
CREATE INDEX IF NOT EXISTS ledger_key_ts ON ledger (key_id, ts);
CREATE INDEX IF NOT EXISTS ledger_key_session ON ledger (key_id, session, ts);
CREATE INDEX IF NOT EXISTS ledger_ts ON ledger (ts);
CREATE TABLE IF NOT EXISTS holds (
  id TEXT PRIMARY KEY,
  ts INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  key_name TEXT NOT NULL,
  session TEXT,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  amount_micros INTEGER NOT NULL,
  tag TEXT
);
CREATE TABLE IF NOT EXISTS prices (
  model TEXT PRIMARY KEY,
  input INTEGER NOT NULL,
  output INTEGER NOT NULL,
  cache_read INTEGER,
  cache_write INTEGER,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  budget TEXT,
  channel TEXT NOT NULL,
  cap_before_micros INTEGER,
  cap_after_micros INTEGER,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
-- What ledger rows pruned by retention added up to, per local day: budgets' sums, charts and auto-tune still see them.
CREATE TABLE IF NOT EXISTS daily_totals (
  day TEXT NOT NULL,
  day_start INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  key_name TEXT NOT NULL,
  tag TEXT NOT NULL DEFAULT '',
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  requests INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost_micros INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, key_id, tag, model)
);
CREATE INDEX IF NOT EXISTS daily_totals_start ON daily_totals (day_start);
-- A threshold event fires once per budget per period: this row is the "already fired" mark.
CREATE TABLE IF NOT EXISTS threshold_marks (
  budget_id INTEGER NOT NULL,
  period_start INTEGER NOT NULL,
  pct INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (budget_id, period_start, pct)
);
-- Dashboard sign-in: one-time links and browser sessions, both kept as SHA-256 of their secret.
CREATE TABLE IF NOT EXISTS dashboard_links (
  token_hash TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dashboard_sessions (
  id_hash TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
`;

function oldDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-migrate-'));
  const db = new Database(join(dir, DB_FILE));
  db.exec(SCHEMA_3);
  db.prepare("INSERT INTO meta (k, v) VALUES ('schema_version', '3'), ('setting:default_session_cap_micros', '250000'), ('setting:tz', 'UTC')").run();
  db.prepare("INSERT INTO keys (id, name, provider, token_hash, token_hint, provider_key_enc, created_at) VALUES (1, 'work', 'anthropic', 'h', 'sc-…1', 'enc', 1)").run();
  db.prepare(`INSERT INTO budgets (name, scope, key_id, cap_micros, period, session_cap_micros, ceiling_micros, mode, killed, updated_at)
              VALUES ('work', 'key', 1, 5000000, 'day', 500000, 20000000, 'hard', 0, 1)`).run();
  db.prepare(`INSERT INTO ledger (ts, request_id, key_id, key_name, provider, model, cost_micros, outcome, usage_source, provider_cost_micros, metered_cost_micros)
              VALUES (10, 'r1', 1, 'work', 'anthropic', 'claude-sonnet-4-5', 33, 'ok', 'provider', 33, NULL),
                     (11, 'r2', 1, 'work', 'anthropic', 'claude-sonnet-4-5', 724, 'cut', 'estimate', NULL, 700)`).run();
  db.prepare("INSERT INTO holds (id, ts, key_id, key_name, provider, model, amount_micros) VALUES ('h1', 12, 1, 'work', 'anthropic', 'm', 1234)").run();
  db.prepare("INSERT INTO prices (model, input, output, cache_read, cache_write, updated_at) VALUES ('my-model', 3000000, 15000000, 300000, NULL, 1)").run();
  db.prepare("INSERT INTO events (ts, kind, budget, channel, cap_before_micros, cap_after_micros) VALUES (13, 'lift', 'work', 'cli', 1000000, 2000000), (14, 'budget-rm', 'x', 'cli', 7, NULL)").run();
  db.prepare(`INSERT INTO daily_totals (day, day_start, key_id, key_name, tag, provider, model, requests, input_tokens, output_tokens, cost_micros)
              VALUES ('2026-01-01', 0, 1, 'work', '', 'anthropic', 'm', 2, 10, 20, 777)`).run();
  db.close();
  return dir;
}

test('a schema-3 data dir (micro-dollars) migrates in place: every money figure ×1000, once', async () => {
  const dir = oldDataDir();
  try {
    for (let open = 0; open < 2; open++) {
      const s = new SqliteStore(dir);
      try {
        const b = (await s.budgets.byName('work'))!;
        assert.deepEqual([b.capNanos, b.sessionCapNanos, b.ceilingNanos], [5_000_000_000, 500_000_000, 20_000_000_000], `open ${open}`);
        const rows = await s.ledger.page(10);
        assert.deepEqual(rows.map((r) => [r.requestId, r.costNanos, r.providerCostNanos, r.meteredCostNanos]), [['r2', 724_000, null, 700_000], ['r1', 33_000, 33_000, null]]);
        assert.deepEqual((await s.holds.list()).map((h) => h.amountNanos), [1_234_000]);
        const p = (await s.prices.list())[0]!;
        assert.deepEqual([p.input, p.output, p.cacheRead, p.cacheWrite], [3_000_000_000, 15_000_000_000, 300_000_000, null]);
        assert.deepEqual((await s.events.list(10)).map((e) => [e.capBeforeNanos, e.capAfterNanos]), [[7000, null], [1_000_000_000, 2_000_000_000]]);
        assert.deepEqual((await s.daily.list()).map((d) => d.costNanos), [777_000]);
        assert.equal(await s.settings.get('default_session_cap_nanos'), '250000000');
        assert.equal(await s.settings.get('default_session_cap_micros'), null);
        assert.equal(await s.settings.getMeta('schema_version'), String(SCHEMA_VERSION));
      } finally {
        await s.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a data dir from a newer spendcap is refused untouched', () => {
  const dir = oldDataDir();
  try {
    const db = new Database(join(dir, DB_FILE));
    db.prepare("UPDATE meta SET v = '99' WHERE k = 'schema_version'").run();
    db.close();
    assert.throws(() => new SqliteStore(dir), /newer spendcap \(schema 99\)/);
    const again = new Database(join(dir, DB_FILE));
    const cols = (again.prepare('PRAGMA table_info(ledger)').all() as { name: string }[]).map((c) => c.name);
    again.close();
    assert.ok(cols.includes('cost_micros'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
