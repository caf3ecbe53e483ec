// The versioned schema: numbered migrations, each a named step run once, in order, in one
// transaction with the version bump. Steps 1–4 predate the numbering (a file at 1–3 may be in any
// state they left), so each of them checks what is there before it changes anything.
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';
import { ALERT_SCHEMA } from './alerts.js';
import { TOKEN_SCHEMA } from './tokens.js';

export const DB_FILE = 'spendcap.db';


/**
 * Schema 4: money went from integer micro-dollars to integer nano-dollars. Each old column is
 * renamed and its values multiplied by 1000 (exact), in one transaction with the version bump.
 */
const NANOS_MIGRATION: readonly [table: string, from: string, to: string][] = [
  ['budgets', 'cap_micros', 'cap_nanos'],
  ['budgets', 'session_cap_micros', 'session_cap_nanos'],
  ['budgets', 'ceiling_micros', 'ceiling_nanos'],
  ['ledger', 'cost_micros', 'cost_nanos'],
  ['ledger', 'provider_cost_micros', 'provider_cost_nanos'],
  ['ledger', 'metered_cost_micros', 'metered_cost_nanos'],
  ['holds', 'amount_micros', 'amount_nanos'],
  ['events', 'cap_before_micros', 'cap_before_nanos'],
  ['events', 'cap_after_micros', 'cap_after_nanos'],
  ['daily_totals', 'cost_micros', 'cost_nanos'],
];
/** Price overrides are per-Mtok rates in the money unit (µ$/Mtok → n$/Mtok): same ×1000, names unchanged. */
const NANOS_RATE_COLUMNS: readonly string[] = ['input', 'output', 'cache_read', 'cache_write'];

/** Columns added after schema 1, added in place to an older file. */
const ADDED_COLUMNS: readonly [table: string, column: string, type: string][] = [
  ['keys', 'base_url', 'TEXT'],
  ['ledger', 'provider_cost_nanos', 'INTEGER'],
  ['ledger', 'metered_cost_nanos', 'INTEGER'],
  // schema 3: scopes (tag), clamp, auto-tune
  ['ledger', 'tag', 'TEXT'],
  ['holds', 'tag', 'TEXT'],
  ['budgets', 'clamp', 'INTEGER NOT NULL DEFAULT 0'],
  ['budgets', 'autotune', "TEXT NOT NULL DEFAULT 'off'"],
];

/** Indexes on columns that ADDED_COLUMNS may have just added: created after them. */
const LATE_INDEXES = `
CREATE INDEX IF NOT EXISTS ledger_tag_ts ON ledger (tag, ts);
`;

/** Schema 1 as it stands today: every core table, created when missing (columns of later steps included, so a new file is born current). */
const SCHEMA = `
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
  cap_nanos INTEGER NOT NULL CHECK (cap_nanos >= 0),
  period TEXT NOT NULL CHECK (period IN ('day','week','month','total')),
  session_cap_nanos INTEGER,
  ceiling_nanos INTEGER,
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
  cost_nanos INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  usage_source TEXT NOT NULL,
  status INTEGER,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  detail TEXT,
  provider_cost_nanos INTEGER,
  metered_cost_nanos INTEGER,
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
  amount_nanos INTEGER NOT NULL,
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
  cap_before_nanos INTEGER,
  cap_after_nanos INTEGER,
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
  cost_nanos INTEGER NOT NULL DEFAULT 0,
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


/** Provider-side keys (src/provider-keys): admin keys and the spendcap-key → provider-key link. */
const PROVIDER_KEY_TABLES = `
CREATE TABLE IF NOT EXISTS provider_admin_keys (
  provider TEXT PRIMARY KEY,
  key_enc TEXT NOT NULL,
  hint TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS provider_keys (
  key_id INTEGER PRIMARY KEY REFERENCES keys(id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  hash TEXT NOT NULL,
  label TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly up: (db: Database.Database) => void;
}

function hasColumn(db: Database.Database, table: string, column: string): boolean {
  return (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).some((c) => c.name === column);
}

/** Adds the columns when missing; a *_nanos column whose *_micros ancestor is still there is left for step 4 to rename. */
function addColumns(db: Database.Database, columns: readonly (readonly [string, string, string])[]): void {
  for (const [table, column, type] of columns) {
    if (hasColumn(db, table, column)) continue;
    if (column.endsWith('_nanos') && hasColumn(db, table, column.replace(/_nanos$/, '_micros'))) continue;
    db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
}

/**
 * Step 6: every request inserts and deletes one hold, so the hold's B-trees are written twice per
 * request. With a rowid, a hold is a row plus an entry in the id's index (two B-trees, two WAL pages
 * per write); WITHOUT ROWID it is one B-tree keyed by id (in-process, batch of one: insert 21 → 15 µs,
 * settle 49 → 42 µs, measured 2026-12-02). The holds in flight are copied over unchanged.
 */
function holdsWithoutRowid(db: Database.Database): void {
  db.exec(`
CREATE TABLE holds_v6 (
  id TEXT PRIMARY KEY,
  ts INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  key_name TEXT NOT NULL,
  session TEXT,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  amount_nanos INTEGER NOT NULL,
  tag TEXT
) WITHOUT ROWID;
INSERT INTO holds_v6 (id, ts, key_id, key_name, session, provider, model, amount_nanos, tag)
  SELECT id, ts, key_id, key_name, session, provider, model, amount_nanos, tag FROM holds;
DROP TABLE holds;
ALTER TABLE holds_v6 RENAME TO holds;
`);
}

/** Every step, in order. Append only: a shipped step never changes (a file at its version has run it). */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'core tables', up: (db) => db.exec(SCHEMA) },
  { version: 2, name: 'key base URL, provider and metered cost', up: (db) => addColumns(db, ADDED_COLUMNS.slice(0, 3)) },
  {
    version: 3,
    name: 'tag scopes, clamp, auto-tune',
    up: (db) => {
      addColumns(db, ADDED_COLUMNS.slice(3));
      db.exec(LATE_INDEXES);
    },
  },
  {
    version: 4,
    name: 'money in nano-dollars',
    up: (db) => {
      if (hasColumn(db, 'ledger', 'cost_micros') || hasColumn(db, 'budgets', 'cap_micros')) microsToNanos(db);
      // A file from before step 2/3 may have skipped a *_nanos column that had no micros ancestor either.
      addColumns(db, ADDED_COLUMNS);
    },
  },
  {
    version: 5,
    name: 'key tokens, agent connections, alerts and provider keys in the versioned schema',
    up: (db) => {
      db.exec(TOKEN_SCHEMA);
      db.exec(ALERT_SCHEMA);
      db.exec(PROVIDER_KEY_TABLES);
    },
  },
  { version: 6, name: 'holds keyed by their id alone (WITHOUT ROWID)', up: holdsWithoutRowid },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
/** The last version written before migrations were numbered steps. */
const PRE_NUMBERED = 4;

/** The file's schema version; null for a new (empty) file. */
export function schemaVersion(db: Database.Database): number | null {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
  if (!hasMeta) return null;
  const row = db.prepare('SELECT v FROM meta WHERE k = ?').get('schema_version') as { v: string } | undefined;
  return row === undefined ? null : Number(row.v);
}

/**
 * Runs every step past the file's version, each in its own transaction with its version bump: a crash
 * mid-way leaves the file at the last finished step, never a step half done (values ×1000 twice).
 * Returns the steps run. `target` stops early (tests build old files with it).
 */
export function migrate(db: Database.Database, target: number = SCHEMA_VERSION): Migration[] {
  const before = schemaVersion(db);
  if (before !== null && before > SCHEMA_VERSION) {
    throw new StoreError('E_INVALID', `the data dir was written by a newer spendcap (schema ${before}); upgrade spendcap`);
  }
  // Before the numbering (schema ≤ 3) a version did not say which tables existed: such a file, or one
  // with no version, runs steps 1–4 again; each checks before it changes anything.
  const from = before === null || before < PRE_NUMBERED ? 0 : before;
  const ran: Migration[] = [];
  for (const m of MIGRATIONS) {
    if (m.version <= from || m.version > target) continue;
    // IMMEDIATE: a step writes; a deferred transaction that reads first cannot upgrade while a running
    // server writes (SQLITE_BUSY at once, busy_timeout or not). Inside the lock, the version is read
    // again: another process (a CLI command started beside the server) may have run the step already.
    const step = db.transaction((): boolean => {
      const now = schemaVersion(db);
      if (now !== null && now >= PRE_NUMBERED && now >= m.version) return false;
      if (m.version > 1 && now === null) db.exec(SCHEMA);
      m.up(db);
      db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v').run('schema_version', String(m.version));
      return true;
    });
    if (step.immediate()) ran.push(m);
  }
  return ran;
}

/** Schema ≤ 3 → 4: every money figure ×1000, each *_micros column renamed *_nanos (see NANOS_MIGRATION). */
function microsToNanos(db: Database.Database): void {
  for (const [table, from, to] of NANOS_MIGRATION) {
    if (!hasColumn(db, table, from)) continue;
    db.exec(`ALTER TABLE ${table} RENAME COLUMN ${from} TO ${to}`);
    db.exec(`UPDATE ${table} SET ${to} = ${to} * 1000 WHERE ${to} IS NOT NULL`);
  }
  db.exec(`UPDATE prices SET ${NANOS_RATE_COLUMNS.map((c) => `${c} = ${c} * 1000`).join(', ')}`);
  db.exec(`UPDATE meta SET k = 'setting:default_session_cap_nanos', v = CAST(CAST(v AS INTEGER) * 1000 AS TEXT)
                WHERE k = 'setting:default_session_cap_micros'`);
}
