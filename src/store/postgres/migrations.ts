/**
 * Numbered Postgres migrations. Each runs once, in its own transaction, under an advisory lock so
 * that several instances starting at once against one database migrate it exactly once. Never edit
 * a released migration: add the next number. Money columns are BIGINT nano-dollars, like SQLite's
 * INTEGER *_nanos; times are epoch ms.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The channel every instance LISTENs on: budget changes (cap, kill, lift) as JSON payloads. */
export const NOTIFY_CHANNEL = 'spendcap_budgets';

/**
 * The channel a refused grant speaks on: `{budgetId, periodStart, instanceId}` of an instance that
 * found the budget's room all leased out while it had a request or a stream short. The others give
 * part of their free slice back at once instead of at their next fair-share flush.
 */
export const SHORT_CHANNEL = 'spendcap_short';

/**
 * Migration 3: every change to a budget row (CLI, admin API, any instance) tells every
 * listening instance at once, so a kill, a lift or a cap change reaches running streams everywhere.
 */
export const NOTIFY_TRIGGER_SQL = `
CREATE OR REPLACE FUNCTION spendcap_budget_notify() RETURNS trigger AS $$
DECLARE r RECORD;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  PERFORM pg_notify('${NOTIFY_CHANNEL}', json_build_object('op', lower(TG_OP), 'id', r.id, 'name', r.name,
    'capNanos', r.cap_nanos, 'killed', r.killed, 'mode', r.mode)::text);
  RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER budgets_notify AFTER INSERT OR UPDATE OR DELETE ON budgets
  FOR EACH ROW EXECUTE FUNCTION spendcap_budget_notify();
`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core tables (the SQLite schema 4, in Postgres types)',
    sql: `
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE keys (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  provider TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  token_hint TEXT NOT NULL,
  provider_key_enc TEXT NOT NULL,
  base_url TEXT,
  created_at BIGINT NOT NULL
);
CREATE TABLE budgets (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  scope TEXT NOT NULL CHECK (scope IN ('key','global','tag')),
  key_id BIGINT REFERENCES keys(id) ON DELETE CASCADE,
  cap_nanos BIGINT NOT NULL CHECK (cap_nanos >= 0),
  period TEXT NOT NULL CHECK (period IN ('day','week','month','total')),
  session_cap_nanos BIGINT,
  ceiling_nanos BIGINT,
  mode TEXT NOT NULL DEFAULT 'hard' CHECK (mode IN ('hard','soft')),
  killed BOOLEAN NOT NULL DEFAULT false,
  clamp BOOLEAN NOT NULL DEFAULT false,
  autotune TEXT NOT NULL DEFAULT 'off',
  updated_at BIGINT NOT NULL
);
CREATE TABLE ledger (
  id BIGSERIAL PRIMARY KEY,
  ts BIGINT NOT NULL,
  request_id TEXT NOT NULL,
  key_id BIGINT NOT NULL,
  key_name TEXT NOT NULL,
  session TEXT,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  priced_as TEXT,
  price_estimated BOOLEAN NOT NULL DEFAULT false,
  input_tokens BIGINT NOT NULL DEFAULT 0,
  output_tokens BIGINT NOT NULL DEFAULT 0,
  cache_read_tokens BIGINT NOT NULL DEFAULT 0,
  cache_write_5m_tokens BIGINT NOT NULL DEFAULT 0,
  cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,
  cost_nanos BIGINT NOT NULL,
  outcome TEXT NOT NULL,
  usage_source TEXT NOT NULL,
  status INTEGER,
  duration_ms BIGINT NOT NULL DEFAULT 0,
  detail TEXT,
  provider_cost_nanos BIGINT,
  metered_cost_nanos BIGINT,
  tag TEXT,
  -- The instance that served the request (team mode); null for rows written by the CLI.
  instance_id TEXT
);
CREATE INDEX ledger_key_ts ON ledger (key_id, ts);
CREATE INDEX ledger_key_session ON ledger (key_id, session, ts);
CREATE INDEX ledger_ts ON ledger (ts);
CREATE INDEX ledger_tag_ts ON ledger (tag, ts);
CREATE TABLE holds (
  id TEXT PRIMARY KEY,
  ts BIGINT NOT NULL,
  key_id BIGINT NOT NULL,
  key_name TEXT NOT NULL,
  session TEXT,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  amount_nanos BIGINT NOT NULL,
  tag TEXT,
  -- Whose request this is: a restarted instance settles its own holds and no one else's.
  instance_id TEXT NOT NULL
);
CREATE INDEX holds_instance ON holds (instance_id);
CREATE TABLE prices (
  model TEXT PRIMARY KEY,
  input BIGINT NOT NULL,
  output BIGINT NOT NULL,
  cache_read BIGINT,
  cache_write BIGINT,
  updated_at BIGINT NOT NULL
);
CREATE TABLE events (
  id BIGSERIAL PRIMARY KEY,
  ts BIGINT NOT NULL,
  kind TEXT NOT NULL,
  budget TEXT,
  channel TEXT NOT NULL,
  cap_before_nanos BIGINT,
  cap_after_nanos BIGINT,
  detail TEXT
);
CREATE INDEX events_ts ON events (ts);
CREATE TABLE daily_totals (
  day TEXT NOT NULL,
  day_start BIGINT NOT NULL,
  key_id BIGINT NOT NULL,
  key_name TEXT NOT NULL,
  tag TEXT NOT NULL DEFAULT '',
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  requests BIGINT NOT NULL DEFAULT 0,
  input_tokens BIGINT NOT NULL DEFAULT 0,
  output_tokens BIGINT NOT NULL DEFAULT 0,
  cost_nanos BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (day, key_id, tag, model)
);
CREATE INDEX daily_totals_start ON daily_totals (day_start);
CREATE TABLE threshold_marks (
  budget_id BIGINT NOT NULL,
  period_start BIGINT NOT NULL,
  pct INTEGER NOT NULL,
  ts BIGINT NOT NULL,
  PRIMARY KEY (budget_id, period_start, pct)
);
CREATE TABLE dashboard_links (token_hash TEXT PRIMARY KEY, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
CREATE TABLE dashboard_sessions (id_hash TEXT PRIMARY KEY, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
CREATE TABLE key_tokens (
  id BIGSERIAL PRIMARY KEY,
  key_id BIGINT NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
  label TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  token_hint TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT,
  session TEXT,
  budget TEXT
);
CREATE INDEX key_tokens_key ON key_tokens (key_id);
CREATE TABLE agent_connections (
  agent TEXT PRIMARY KEY,
  key_name TEXT NOT NULL,
  token_id BIGINT,
  url TEXT NOT NULL,
  files TEXT NOT NULL,
  connected_at BIGINT NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'team mode: instances, budget room per period, leases',
    sql: `
-- Every running instance beats here; the active count sets the fair share of a lease.
CREATE TABLE instances (
  id TEXT PRIMARY KEY,
  started_at BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL
);
-- One budget's money in one period, across every instance. spent + leased <= cap is kept by the
-- conditional UPDATE that grants leases (leases.ts); spent may pass the cap only by a late usage report.
CREATE TABLE budget_room (
  budget_id BIGINT NOT NULL REFERENCES budgets(id) ON DELETE CASCADE,
  period_start BIGINT NOT NULL,
  spent_nanos BIGINT NOT NULL DEFAULT 0,
  leased_nanos BIGINT NOT NULL DEFAULT 0 CHECK (leased_nanos >= 0),
  PRIMARY KEY (budget_id, period_start)
);
-- One instance's slice of one budget's room. Until expires_at it counts against the cap whatever
-- the instance did with it; after that, another instance reclaims it (charged as spent: the dead
-- instance may have spent all of it).
CREATE TABLE leases (
  budget_id BIGINT NOT NULL,
  period_start BIGINT NOT NULL,
  instance_id TEXT NOT NULL,
  amount_nanos BIGINT NOT NULL CHECK (amount_nanos >= 0),
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (budget_id, period_start, instance_id),
  FOREIGN KEY (budget_id, period_start) REFERENCES budget_room (budget_id, period_start) ON DELETE CASCADE
);
CREATE INDEX leases_expiry ON leases (expires_at);
`,
  },
  { version: 3, name: 'budget changes NOTIFY every instance', sql: NOTIFY_TRIGGER_SQL },
  {
    version: 4,
    name: 'alerts, provider keys, and the change feed',
    sql: `
CREATE TABLE alert_channels (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  budgets TEXT NOT NULL DEFAULT '[]',
  events TEXT NOT NULL DEFAULT '[]',
  settings TEXT NOT NULL DEFAULT '{}',
  secrets_enc TEXT,
  created_at BIGINT NOT NULL,
  tested_at BIGINT,
  test_ok BOOLEAN,
  test_detail TEXT
);
CREATE TABLE alert_outbox (
  id TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  dedupe_key TEXT NOT NULL,
  kind TEXT NOT NULL,
  budget TEXT NOT NULL,
  alert TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 1,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  last_error TEXT,
  message_ref TEXT,
  needs_update BOOLEAN NOT NULL DEFAULT false,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  sent_at BIGINT,
  UNIQUE (channel, dedupe_key)
);
CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt_at);
CREATE TABLE alert_budget (budget TEXT PRIMARY KEY, ask BOOLEAN NOT NULL DEFAULT false, ask_timeout_s INTEGER, thresholds TEXT);
CREATE TABLE alert_asks (
  id TEXT PRIMARY KEY,
  budget TEXT NOT NULL,
  key_name TEXT,
  add_nanos BIGINT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  decided_by TEXT,
  decided_at BIGINT
);
CREATE INDEX alert_asks_budget ON alert_asks (budget, state);
CREATE TABLE provider_admin_keys (provider TEXT PRIMARY KEY, key_enc TEXT NOT NULL, hint TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE provider_keys (
  key_id BIGINT PRIMARY KEY REFERENCES keys(id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  hash TEXT NOT NULL,
  label TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
-- What SQLite's data_version gives for free: a number every config write moves, read once per request.
CREATE TABLE change_feed (one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), v BIGINT NOT NULL);
INSERT INTO change_feed (v) VALUES (0);
CREATE FUNCTION spendcap_bump_changes() RETURNS trigger AS $$
BEGIN UPDATE change_feed SET v = v + 1; RETURN NULL; END $$ LANGUAGE plpgsql;
CREATE TRIGGER keys_changes AFTER INSERT OR UPDATE OR DELETE ON keys FOR EACH STATEMENT EXECUTE FUNCTION spendcap_bump_changes();
CREATE TRIGGER budgets_changes AFTER INSERT OR UPDATE OR DELETE ON budgets FOR EACH STATEMENT EXECUTE FUNCTION spendcap_bump_changes();
CREATE TRIGGER tokens_changes AFTER INSERT OR UPDATE OR DELETE ON key_tokens FOR EACH STATEMENT EXECUTE FUNCTION spendcap_bump_changes();
CREATE TRIGGER meta_changes AFTER INSERT OR UPDATE OR DELETE ON meta FOR EACH STATEMENT EXECUTE FUNCTION spendcap_bump_changes();
CREATE TRIGGER prices_changes AFTER INSERT OR UPDATE OR DELETE ON prices FOR EACH STATEMENT EXECUTE FUNCTION spendcap_bump_changes();
CREATE TRIGGER channels_changes AFTER INSERT OR UPDATE OR DELETE ON alert_channels FOR EACH STATEMENT EXECUTE FUNCTION spendcap_bump_changes();
`,
  },
];

