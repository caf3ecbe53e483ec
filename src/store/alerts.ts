// The alerts part's tables: channel config (secrets encrypted by the caller), the outbox the
// dispatcher delivers from (survives a restart), per-budget alert settings (ask mode, thresholds)
// and held requests waiting for a person's answer. Created on first use, beside the main schema,
// so this module needs no change to sqlite.ts.
import type BetterSqlite3 from 'better-sqlite3';
import { StoreError } from './errors.js';

export const ALERT_SCHEMA = `
CREATE TABLE IF NOT EXISTS alert_channels (
  name TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  budgets TEXT NOT NULL DEFAULT '[]',
  events TEXT NOT NULL DEFAULT '[]',
  settings TEXT NOT NULL DEFAULT '{}',
  secrets_enc TEXT,
  created_at INTEGER NOT NULL,
  tested_at INTEGER,
  test_ok INTEGER,
  test_detail TEXT
);
CREATE TABLE IF NOT EXISTS alert_outbox (
  id TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  dedupe_key TEXT NOT NULL,
  kind TEXT NOT NULL,
  budget TEXT NOT NULL,
  alert TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 1,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  message_ref TEXT,
  needs_update INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  sent_at INTEGER,
  UNIQUE (channel, dedupe_key)
);
CREATE INDEX IF NOT EXISTS alert_outbox_due ON alert_outbox (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS alert_budget (
  budget TEXT PRIMARY KEY,
  ask INTEGER NOT NULL DEFAULT 0,
  ask_timeout_s INTEGER,
  thresholds TEXT
);
CREATE TABLE IF NOT EXISTS alert_asks (
  id TEXT PRIMARY KEY,
  budget TEXT NOT NULL,
  key_name TEXT,
  add_nanos INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  decided_by TEXT,
  decided_at INTEGER
);
CREATE INDEX IF NOT EXISTS alert_asks_budget ON alert_asks (budget, state);
`;

import type { AskRow, AskState, BudgetAlertSettings, ChannelRow, OutboxRow, OutboxState } from './alert-types.js';
export type { AskRow, AskState, BudgetAlertSettings, ChannelRow, OutboxRow, OutboxState } from './alert-types.js';

const json = <T>(s: string | null, fallback: T): T => {
  if (s === null) return fallback;
  try {
    return JSON.parse(s) as T;
  } catch {
    return fallback;
  }
};

const toChannel = (r: Record<string, unknown>): ChannelRow => ({
  name: r.name as string,
  kind: r.kind as string,
  budgets: json(r.budgets as string, [] as string[]),
  events: json(r.events as string, [] as string[]),
  settings: json(r.settings as string, {}),
  secretsEnc: (r.secrets_enc as string | null) ?? null,
  createdAt: r.created_at as number,
  testedAt: (r.tested_at as number | null) ?? null,
  testOk: r.test_ok === null || r.test_ok === undefined ? null : r.test_ok !== 0,
  testDetail: (r.test_detail as string | null) ?? null,
});

const toOutbox = (r: Record<string, unknown>): OutboxRow => ({
  id: r.id as string,
  channel: r.channel as string,
  dedupeKey: r.dedupe_key as string,
  kind: r.kind as string,
  budget: r.budget as string,
  alert: r.alert as string,
  count: r.count as number,
  state: r.state as OutboxState,
  attempts: r.attempts as number,
  nextAttemptAt: r.next_attempt_at as number,
  lastError: (r.last_error as string | null) ?? null,
  messageRef: (r.message_ref as string | null) ?? null,
  needsUpdate: r.needs_update !== 0,
  createdAt: r.created_at as number,
  updatedAt: r.updated_at as number,
  sentAt: (r.sent_at as number | null) ?? null,
});

const toAsk = (r: Record<string, unknown>): AskRow => ({
  id: r.id as string,
  budget: r.budget as string,
  keyName: (r.key_name as string | null) ?? null,
  addNanos: r.add_nanos as number,
  state: r.state as AskState,
  createdAt: r.created_at as number,
  expiresAt: r.expires_at as number,
  decidedBy: (r.decided_by as string | null) ?? null,
  decidedAt: (r.decided_at as number | null) ?? null,
});

/** The alert tables over the store's connection. Cheap to construct: statements are prepared per call. */
export class SqliteAlerts {
  readonly #db: BetterSqlite3.Database;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
    if (!this.#db.readonly) this.#db.exec(ALERT_SCHEMA);
  }

  // channels
  insertChannel(c: Omit<ChannelRow, 'testedAt' | 'testOk' | 'testDetail'>): void {
    try {
      this.#db
        .prepare('INSERT INTO alert_channels (name, kind, budgets, events, settings, secrets_enc, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(c.name, c.kind, JSON.stringify(c.budgets), JSON.stringify(c.events), JSON.stringify(c.settings), c.secretsEnc, c.createdAt);
    } catch (err) {
      if (err instanceof Error && /UNIQUE constraint failed/.test(err.message)) {
        throw new StoreError('E_EXISTS', `an alert channel named "${c.name}" already exists; remove it (spendcap alerts rm ${c.name}) or pick another --name`);
      }
      throw err;
    }
  }

  listChannels(): ChannelRow[] {
    return (this.#db.prepare('SELECT * FROM alert_channels ORDER BY created_at, name').all() as Record<string, unknown>[]).map(toChannel);
  }

  channel(name: string): ChannelRow | undefined {
    const r = this.#db.prepare('SELECT * FROM alert_channels WHERE name = ?').get(name) as Record<string, unknown> | undefined;
    return r && toChannel(r);
  }

  deleteChannel(name: string): boolean {
    return this.#db.transaction(() => {
      this.#db.prepare('DELETE FROM alert_outbox WHERE channel = ?').run(name);
      return this.#db.prepare('DELETE FROM alert_channels WHERE name = ?').run(name).changes > 0;
    }).immediate();
  }

  recordTest(name: string, ok: boolean, detail: string, ts: number): void {
    this.#db.prepare('UPDATE alert_channels SET tested_at = ?, test_ok = ?, test_detail = ? WHERE name = ?').run(ts, ok ? 1 : 0, detail, name);
  }

  /** A fingerprint of the channel config: the dispatcher rebuilds its channels when it changes. */
  channelsVersion(): string {
    const r = this.#db.prepare("SELECT COUNT(*) AS n, COALESCE(GROUP_CONCAT(name || ':' || created_at || ':' || budgets || ':' || events), '') AS s FROM alert_channels").get() as { n: number; s: string };
    return `${r.n}|${r.s}`;
  }

  // outbox
  /**
   * Queues an alert for a channel. `once`: a row with the same dedupe key is kept as it is (one 80%
   * alert per budget per period). `update`: the row takes the new state, its count grows, and a sent
   * message is marked to be rewritten in place (a storm of blocks is one message).
   */
  enqueue(row: { id: string; channel: string; dedupeKey: string; kind: string; budget: string; alert: string; now: number }, mode: 'once' | 'update'): 'new' | 'updated' | 'kept' {
    return this.#db.transaction(() => {
      const existing = this.#db.prepare('SELECT id, state FROM alert_outbox WHERE channel = ? AND dedupe_key = ?').get(row.channel, row.dedupeKey) as { id: string; state: string } | undefined;
      if (existing === undefined) {
        this.#db
          .prepare(
            `INSERT INTO alert_outbox (id, channel, dedupe_key, kind, budget, alert, count, state, attempts, next_attempt_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, 1, 'pending', 0, ?, ?, ?)`,
          )
          .run(row.id, row.channel, row.dedupeKey, row.kind, row.budget, row.alert, row.now, row.now, row.now);
        return 'new';
      }
      if (mode === 'once') return 'kept';
      this.#db
        .prepare(
          `UPDATE alert_outbox SET alert = ?, count = count + 1, updated_at = ?,
             needs_update = CASE WHEN state = 'sent' THEN 1 ELSE needs_update END,
             state = CASE WHEN state IN ('failed', 'superseded') THEN 'pending' ELSE state END,
             attempts = CASE WHEN state IN ('failed', 'superseded') THEN 0 ELSE attempts END,
             next_attempt_at = CASE WHEN state IN ('failed', 'superseded') THEN ? ELSE next_attempt_at END
           WHERE id = ?`,
        )
        .run(row.alert, row.now, row.now, existing.id);
      return 'updated';
    }).immediate();
  }

  outboxRow(id: string): OutboxRow | undefined {
    const r = this.#db.prepare('SELECT * FROM alert_outbox WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r && toOutbox(r);
  }

  /** Rows to deliver now: pending and due, or sent with a change to rewrite in place and due. */
  dueRows(now: number, limit: number): OutboxRow[] {
    return (
      this.#db
        .prepare("SELECT * FROM alert_outbox WHERE next_attempt_at <= ? AND (state = 'pending' OR (state = 'sent' AND needs_update = 1)) ORDER BY updated_at LIMIT ?")
        .all(now, limit) as Record<string, unknown>[]
    ).map(toOutbox);
  }

  markSent(id: string, ref: string | null, now: number, nextUpdateAt: number): void {
    this.#db
      .prepare("UPDATE alert_outbox SET state = 'sent', message_ref = COALESCE(?, message_ref), sent_at = ?, needs_update = 0, last_error = NULL, attempts = 0, next_attempt_at = ? WHERE id = ?")
      .run(ref, now, nextUpdateAt, id);
  }

  /** An update that happened while the delivery was in flight keeps needs_update: only the sent state is compared. */
  markSentIfUnchanged(id: string, ref: string | null, now: number, nextUpdateAt: number, updatedAt: number): void {
    this.markSent(id, ref, now, nextUpdateAt);
    this.#db.prepare("UPDATE alert_outbox SET needs_update = 1 WHERE id = ? AND updated_at > ? AND state = 'sent'").run(id, updatedAt);
  }

  markRetry(id: string, attempts: number, nextAttemptAt: number, error: string): void {
    this.#db.prepare('UPDATE alert_outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?').run(attempts, nextAttemptAt, error, id);
  }

  markFailed(id: string, attempts: number, error: string): void {
    this.#db.prepare("UPDATE alert_outbox SET state = CASE WHEN state = 'sent' THEN 'sent' ELSE 'failed' END, needs_update = 0, attempts = ?, last_error = ? WHERE id = ?").run(attempts, error, id);
  }

  supersede(ids: readonly string[]): void {
    const st = this.#db.prepare("UPDATE alert_outbox SET state = 'superseded' WHERE id = ? AND state = 'pending'");
    this.#db.transaction(() => {
      for (const id of ids) st.run(id);
    }).immediate();
  }

  /** Newest first, for the dashboard and `alerts list`. */
  recentOutbox(limit: number, channel?: string): OutboxRow[] {
    const rows =
      channel === undefined
        ? this.#db.prepare('SELECT * FROM alert_outbox ORDER BY updated_at DESC LIMIT ?').all(limit)
        : this.#db.prepare('SELECT * FROM alert_outbox WHERE channel = ? ORDER BY updated_at DESC LIMIT ?').all(channel, limit);
    return (rows as Record<string, unknown>[]).map(toOutbox);
  }

  /** Pending rows of a channel (the dispatcher keeps only the latest per budget when a channel comes back). */
  pendingOf(channel: string): OutboxRow[] {
    return (this.#db.prepare("SELECT * FROM alert_outbox WHERE channel = ? AND state = 'pending' ORDER BY updated_at").all(channel) as Record<string, unknown>[]).map(toOutbox);
  }

  // per-budget alert settings
  budgetSettings(budget: string): BudgetAlertSettings | undefined {
    const r = this.#db.prepare('SELECT * FROM alert_budget WHERE budget = ?').get(budget) as { budget: string; ask: number; ask_timeout_s: number | null; thresholds: string | null } | undefined;
    return r && { budget: r.budget, ask: r.ask !== 0, askTimeoutS: r.ask_timeout_s, thresholds: r.thresholds === null ? null : json(r.thresholds, null as number[] | null) };
  }

  allBudgetSettings(): BudgetAlertSettings[] {
    return (this.#db.prepare('SELECT * FROM alert_budget').all() as Array<{ budget: string; ask: number; ask_timeout_s: number | null; thresholds: string | null }>).map((r) => ({
      budget: r.budget,
      ask: r.ask !== 0,
      askTimeoutS: r.ask_timeout_s,
      thresholds: r.thresholds === null ? null : json(r.thresholds, null as number[] | null),
    }));
  }

  setBudgetSettings(budget: string, change: { ask?: boolean; askTimeoutS?: number | null; thresholds?: number[] | null }): BudgetAlertSettings {
    const before = this.budgetSettings(budget) ?? { budget, ask: false, askTimeoutS: null, thresholds: null };
    const after: BudgetAlertSettings = {
      budget,
      ask: change.ask ?? before.ask,
      askTimeoutS: change.askTimeoutS !== undefined ? change.askTimeoutS : before.askTimeoutS,
      thresholds: change.thresholds !== undefined ? change.thresholds : before.thresholds,
    };
    this.#db
      .prepare(
        `INSERT INTO alert_budget (budget, ask, ask_timeout_s, thresholds) VALUES (?, ?, ?, ?)
         ON CONFLICT (budget) DO UPDATE SET ask = excluded.ask, ask_timeout_s = excluded.ask_timeout_s, thresholds = excluded.thresholds`,
      )
      .run(budget, after.ask ? 1 : 0, after.askTimeoutS, after.thresholds === null ? null : JSON.stringify(after.thresholds));
    return after;
  }

  // held requests waiting for approval
  insertAsk(a: Omit<AskRow, 'decidedBy' | 'decidedAt' | 'state'>): void {
    this.#db.prepare("INSERT INTO alert_asks (id, budget, key_name, add_nanos, state, created_at, expires_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)").run(a.id, a.budget, a.keyName, a.addNanos, a.createdAt, a.expiresAt);
  }

  ask(id: string): AskRow | undefined {
    const r = this.#db.prepare('SELECT * FROM alert_asks WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r && toAsk(r);
  }

  /** Pending asks not yet expired, oldest first; `budget` keeps one budget's. */
  pendingAsks(now: number, budget?: string): AskRow[] {
    const rows =
      budget === undefined
        ? this.#db.prepare("SELECT * FROM alert_asks WHERE state = 'pending' AND expires_at > ? ORDER BY created_at").all(now)
        : this.#db.prepare("SELECT * FROM alert_asks WHERE state = 'pending' AND expires_at > ? AND budget = ? ORDER BY created_at").all(now, budget);
    return (rows as Record<string, unknown>[]).map(toAsk);
  }

  /** Answers a pending ask; false when it was already answered (two people tapping at once). */
  decideAsk(id: string, state: Exclude<AskState, 'pending'>, by: string, now: number): boolean {
    return this.#db.prepare("UPDATE alert_asks SET state = ?, decided_by = ?, decided_at = ? WHERE id = ? AND state = 'pending'").run(state, by, now, id).changes > 0;
  }

  /** Largest ledger id, and estimated-price rows after an id (unknown-model alerts). */
  estimatedPriceRowsAfter(afterId: number, limit: number): Array<{ id: number; keyName: string; model: string; tag: string | null }> {
    return (this.#db.prepare('SELECT id, key_name, model, tag FROM ledger WHERE id > ? AND price_estimated = 1 ORDER BY id LIMIT ?').all(afterId, limit) as Array<{ id: number; key_name: string; model: string; tag: string | null }>).map((r) => ({
      id: r.id,
      keyName: r.key_name,
      model: r.model,
      tag: r.tag,
    }));
  }

  maxLedgerId(): number {
    return (this.#db.prepare('SELECT COALESCE(MAX(id), 0) AS m FROM ledger').get() as { m: number }).m;
  }

  maxEventId(): number {
    return (this.#db.prepare('SELECT COALESCE(MAX(id), 0) AS m FROM events').get() as { m: number }).m;
  }

  eventsAfter(afterId: number, limit: number): Array<{ id: number; ts: number; kind: string; budget: string | null; channel: string; capBeforeNanos: number | null; capAfterNanos: number | null; detail: string | null }> {
    return (this.#db.prepare('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?').all(afterId, limit) as Array<Record<string, unknown>>).map((r) => ({
      id: r.id as number,
      ts: r.ts as number,
      kind: r.kind as string,
      budget: (r.budget as string | null) ?? null,
      channel: r.channel as string,
      capBeforeNanos: (r.cap_before_nanos as number | null) ?? null,
      capAfterNanos: (r.cap_after_nanos as number | null) ?? null,
      detail: (r.detail as string | null) ?? null,
    }));
  }
}
