import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { Checkpointer, MAX_WAL_BYTES } from './checkpointer.js';
import { StoreError } from './errors.js';
import { migrate } from './migrations.js';
import type {
  AutotuneMode,
  BudgetMode,
  DailyTotal,
  SpendFilter,
  BudgetRecord,
  EventChannel,
  EventRecord,
  HoldRecord,
  KeyRecord,
  LedgerRow,
  Outcome,
  Period,
  PriceRecord,
  StoredLedgerRow,
} from './types.js';
import type { ProviderId } from '../pricing/index.js';

interface KeyRow {
  id: number;
  name: string;
  provider: string;
  token_hash: string;
  token_hint: string;
  provider_key_enc: string;
  base_url: string | null;
  created_at: number;
}
interface BudgetRow {
  id: number;
  name: string;
  scope: string;
  key_id: number | null;
  cap_nanos: number;
  period: string;
  session_cap_nanos: number | null;
  ceiling_nanos: number | null;
  mode: string;
  killed: number;
  clamp: number;
  autotune: string;
  updated_at: number;
}
interface LedgerDbRow {
  id: number;
  ts: number;
  request_id: string;
  key_id: number;
  key_name: string;
  session: string | null;
  provider: string;
  model: string;
  priced_as: string | null;
  price_estimated: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_5m_tokens: number;
  cache_write_1h_tokens: number;
  cost_nanos: number;
  outcome: string;
  usage_source: string;
  status: number | null;
  duration_ms: number;
  detail: string | null;
  provider_cost_nanos: number | null;
  metered_cost_nanos: number | null;
  tag: string | null;
}
interface HoldRow {
  id: string;
  ts: number;
  key_id: number;
  key_name: string;
  session: string | null;
  provider: string;
  model: string;
  amount_nanos: number;
  tag: string | null;
}

const toKey = (r: KeyRow): KeyRecord => ({
  id: r.id,
  name: r.name,
  provider: r.provider as ProviderId,
  tokenHash: r.token_hash,
  tokenHint: r.token_hint,
  providerKeyEnc: r.provider_key_enc,
  baseUrl: r.base_url,
  createdAt: r.created_at,
});
const toBudget = (r: BudgetRow): BudgetRecord => ({
  id: r.id,
  name: r.name,
  scope: r.scope as BudgetRecord['scope'],
  keyId: r.key_id,
  capNanos: r.cap_nanos,
  period: r.period as Period,
  sessionCapNanos: r.session_cap_nanos,
  ceilingNanos: r.ceiling_nanos,
  mode: r.mode as BudgetMode,
  killed: r.killed !== 0,
  clamp: r.clamp !== 0,
  autotune: (r.autotune ?? 'off') as AutotuneMode,
  updatedAt: r.updated_at,
});
const toLedger = (r: LedgerDbRow): StoredLedgerRow => ({
  id: r.id,
  ts: r.ts,
  requestId: r.request_id,
  keyId: r.key_id,
  keyName: r.key_name,
  session: r.session,
  provider: r.provider as ProviderId,
  model: r.model,
  pricedAs: r.priced_as,
  priceEstimated: r.price_estimated !== 0,
  inputTokens: r.input_tokens,
  outputTokens: r.output_tokens,
  cacheReadTokens: r.cache_read_tokens,
  cacheWrite5mTokens: r.cache_write_5m_tokens,
  cacheWrite1hTokens: r.cache_write_1h_tokens,
  costNanos: r.cost_nanos,
  outcome: r.outcome as Outcome,
  usageSource: r.usage_source as LedgerRow['usageSource'],
  status: r.status,
  durationMs: r.duration_ms,
  detail: r.detail,
  providerCostNanos: r.provider_cost_nanos,
  meteredCostNanos: r.metered_cost_nanos,
  tag: r.tag,
});
const toHold = (r: HoldRow): HoldRecord => ({
  id: r.id,
  ts: r.ts,
  keyId: r.key_id,
  keyName: r.key_name,
  session: r.session,
  provider: r.provider as ProviderId,
  model: r.model,
  amountNanos: r.amount_nanos,
  tag: r.tag,
});

/**
 * The ledger row as the insert's positional parameters (the column order of insertLedger): every
 * request writes one, and binding 23 named parameters looks each name up on an object (~2 µs a row
 * more than positional in better-sqlite3, measured).
 */
const ledgerParams = (row: LedgerRow): unknown[] => [
  row.ts,
  row.requestId,
  row.keyId,
  row.keyName,
  row.session,
  row.provider,
  row.model,
  row.pricedAs,
  row.priceEstimated ? 1 : 0,
  row.inputTokens,
  row.outputTokens,
  row.cacheReadTokens,
  row.cacheWrite5mTokens,
  row.cacheWrite1hTokens,
  row.costNanos,
  row.outcome,
  row.usageSource,
  row.status,
  row.durationMs,
  row.detail,
  row.providerCostNanos ?? null,
  row.meteredCostNanos ?? null,
  row.tag ?? null,
];

import { DB_FILE } from './migrations.js';
export { DB_FILE };

/**
 * The embedded store: one SQLite file in WAL mode. Every statement is prepared once.
 * synchronous=NORMAL in WAL survives a process kill (the WAL write is done before commit
 * returns); only a power loss could drop the last transactions.
 */
export class SqliteTables {
  readonly db: Database.Database;
  readonly #s: {
    insertKey: Statement;
    keyByName: Statement;
    keys: Statement;
    deleteKey: Statement;
    insertBudget: Statement;
    budgets: Statement;
    budgetByName: Statement;
    updateBudget: Statement;
    deleteBudget: Statement;
    insertLedger: Statement;
    ledgerPage: Statement;
    spentByKey: Statement;
    spentBySession: Statement;
    spentSessionsOfKey: Statement;
    insertHold: Statement;
    updateHold: Statement;
    deleteHold: Statement;
    holds: Statement;
    upsertPrice: Statement;
    deletePrice: Statement;
    prices: Statement;
    insertEvent: Statement;
    events: Statement;
    dataVersion: Statement;
    getMeta: Statement;
    setMeta: Statement;
    spentAll: Statement;
    spentByTag: Statement;
    dailyAll: Statement;
    dailyByKey: Statement;
    dailyByTag: Statement;
    markThreshold: Statement;
    maxThreshold: Statement;
  };
  readonly #settleTx: Database.Transaction<(holdId: string, row: LedgerRow) => number>;

  readonly #file: string;

  constructor(dataDir: string, opts: { readonly?: boolean } = {}) {
    const file = join(dataDir, DB_FILE);
    this.#file = file;
    this.db = new Database(file, { readonly: opts.readonly ?? false });
    this.db.pragma('busy_timeout = 5000');
    if (!opts.readonly) {
      // Owner-only, like the rest of the data dir: SQLite creates the -wal and -shm files with the main file's mode.
      ownerOnly(file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('foreign_keys = ON');
      migrate(this.db);
      // Made by an older spendcap (or before the line above): tighten them too, once they exist.
      ownerOnly(`${file}-wal`);
      ownerOnly(`${file}-shm`);
    }
    const p = (sql: string) => this.db.prepare(sql);
    this.#s = {
      insertKey: p(`INSERT INTO keys (name, provider, token_hash, token_hint, provider_key_enc, base_url, created_at)
                    VALUES (@name, @provider, @token_hash, @token_hint, @provider_key_enc, @base_url, @created_at)`),
      keyByName: p('SELECT * FROM keys WHERE name = ?'),
      keys: p('SELECT * FROM keys ORDER BY name'),
      deleteKey: p('DELETE FROM keys WHERE name = ?'),
      insertBudget: p(`INSERT INTO budgets (name, scope, key_id, cap_nanos, period, session_cap_nanos, ceiling_nanos, mode, killed, clamp, autotune, updated_at)
                       VALUES (@name, @scope, @key_id, @cap_nanos, @period, @session_cap_nanos, @ceiling_nanos, @mode, 0, @clamp, @autotune, @updated_at)`),
      budgets: p('SELECT * FROM budgets ORDER BY name'),
      budgetByName: p('SELECT * FROM budgets WHERE name = ?'),
      updateBudget: p(`UPDATE budgets SET cap_nanos = @cap_nanos, period = @period, session_cap_nanos = @session_cap_nanos,
                       ceiling_nanos = @ceiling_nanos, mode = @mode, killed = @killed, clamp = @clamp, autotune = @autotune,
                       updated_at = @updated_at WHERE id = @id`),
      deleteBudget: p('DELETE FROM budgets WHERE name = ?'),
      insertLedger: p(`INSERT INTO ledger (ts, request_id, key_id, key_name, session, provider, model, priced_as, price_estimated,
                        input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cost_nanos,
                        outcome, usage_source, status, duration_ms, detail, provider_cost_nanos, metered_cost_nanos, tag)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      ledgerPage: p('SELECT * FROM ledger ORDER BY id DESC LIMIT ? OFFSET ?'),
      spentByKey: p('SELECT COALESCE(SUM(cost_nanos), 0) AS s FROM ledger WHERE key_id = ? AND ts >= ?'),
      spentBySession: p('SELECT COALESCE(SUM(cost_nanos), 0) AS s FROM ledger WHERE key_id = ? AND session = ?'),
      spentSessionsOfKey: p(`SELECT session, COALESCE(SUM(cost_nanos), 0) AS s, MAX(ts) AS last FROM ledger
                             WHERE key_id = ? AND session IS NOT NULL GROUP BY session ORDER BY last DESC LIMIT ?`),
      insertHold: p(`INSERT INTO holds (id, ts, key_id, key_name, session, provider, model, amount_nanos, tag)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      updateHold: p('UPDATE holds SET amount_nanos = ?, model = ? WHERE id = ?'),
      deleteHold: p('DELETE FROM holds WHERE id = ?'),
      holds: p('SELECT * FROM holds ORDER BY ts'),
      upsertPrice: p(`INSERT INTO prices (model, input, output, cache_read, cache_write, updated_at)
                      VALUES (@model, @input, @output, @cache_read, @cache_write, @updated_at)
                      ON CONFLICT (model) DO UPDATE SET input = excluded.input, output = excluded.output,
                      cache_read = excluded.cache_read, cache_write = excluded.cache_write, updated_at = excluded.updated_at`),
      deletePrice: p('DELETE FROM prices WHERE model = ?'),
      prices: p('SELECT * FROM prices ORDER BY model'),
      insertEvent: p(`INSERT INTO events (ts, kind, budget, channel, cap_before_nanos, cap_after_nanos, detail)
                      VALUES (?, ?, ?, ?, ?, ?, ?)`),
      events: p('SELECT * FROM events ORDER BY id DESC LIMIT ?'),
      dataVersion: p('PRAGMA data_version'),
      getMeta: p('SELECT v FROM meta WHERE k = ?'),
      setMeta: p('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v'),
      spentAll: p('SELECT COALESCE(SUM(cost_nanos), 0) AS s FROM ledger WHERE ts >= ?'),
      spentByTag: p('SELECT COALESCE(SUM(cost_nanos), 0) AS s FROM ledger WHERE tag = ? AND ts >= ?'),
      dailyAll: p('SELECT COALESCE(SUM(cost_nanos), 0) AS s FROM daily_totals WHERE day_start >= ?'),
      dailyByKey: p('SELECT COALESCE(SUM(cost_nanos), 0) AS s FROM daily_totals WHERE key_id = ? AND day_start >= ?'),
      dailyByTag: p('SELECT COALESCE(SUM(cost_nanos), 0) AS s FROM daily_totals WHERE tag = ? AND day_start >= ?'),
      markThreshold: p('INSERT OR IGNORE INTO threshold_marks (budget_id, period_start, pct, ts) VALUES (?, ?, ?, ?)'),
      maxThreshold: p('SELECT COALESCE(MAX(pct), 0) FROM threshold_marks WHERE budget_id = ? AND period_start = ?'),
    };
    for (const st of [this.#s.spentAll, this.#s.spentByTag, this.#s.dailyAll, this.#s.dailyByKey, this.#s.dailyByTag, this.#s.maxThreshold]) st.pluck(true);
    this.#s.dataVersion.pluck(true);
    this.#s.spentByKey.pluck(true);
    this.#s.spentBySession.pluck(true);
    this.#settleTx = this.db.transaction((holdId: string, row: LedgerRow) => this.#settleBody(holdId, row));
  }

  /** For the long-running server: WAL checkpoints leave the event loop for a worker thread (checkpointer.ts). */
  checkpointInBackground(opts: { maxWalBytes?: number } = {}): Checkpointer {
    const maxWalBytes = opts.maxWalBytes ?? MAX_WAL_BYTES;
    this.db.pragma(`wal_autocheckpoint = ${Math.ceil(maxWalBytes / 4096)}`);
    // When the WAL starts over, its file is cut back to this size rather than kept at its peak.
    this.db.pragma(`journal_size_limit = ${maxWalBytes}`);
    return new Checkpointer(this.#file, () => this.db.pragma('wal_autocheckpoint = 1000'));
  }

  close(): void {
    this.db.close();
  }

  /** Changes whenever another connection (a CLI command) commits; cheap enough to poll. */
  dataVersion(): number {
    return this.#s.dataVersion.get() as number;
  }

  // keys
  insertKeyWithBudget(
    key: Omit<KeyRecord, 'id'>,
    budget: Omit<BudgetRecord, 'id' | 'keyId' | 'killed' | 'scope' | 'name' | 'clamp' | 'autotune'> & { clamp?: boolean; autotune?: AutotuneMode },
  ): KeyRecord {
    const tx = this.db.transaction(() => {
      if (this.#s.budgetByName.get(key.name) !== undefined) throw new StoreError('E_EXISTS', `a key or budget named "${key.name}" already exists`);
      const id = Number(
        this.#s.insertKey.run({
          name: key.name,
          provider: key.provider,
          token_hash: key.tokenHash,
          token_hint: key.tokenHint,
          provider_key_enc: key.providerKeyEnc,
          base_url: key.baseUrl,
          created_at: key.createdAt,
        }).lastInsertRowid,
      );
      this.#s.insertBudget.run({
        name: key.name,
        scope: 'key',
        key_id: id,
        cap_nanos: budget.capNanos,
        period: budget.period,
        session_cap_nanos: budget.sessionCapNanos,
        ceiling_nanos: budget.ceilingNanos,
        mode: budget.mode,
        clamp: budget.clamp ? 1 : 0,
        autotune: budget.autotune ?? 'off',
        updated_at: budget.updatedAt,
      });
      return id;
    });
    try {
      return { ...key, id: tx.immediate() };
    } catch (err) {
      if (err instanceof Error && /UNIQUE constraint failed: keys.name/.test(err.message)) {
        throw new StoreError('E_EXISTS', `a key named "${key.name}" already exists`);
      }
      throw err;
    }
  }

  keyByName(name: string): KeyRecord | undefined {
    const r = this.#s.keyByName.get(name) as KeyRow | undefined;
    return r && toKey(r);
  }

  listKeys(): KeyRecord[] {
    return (this.#s.keys.all() as KeyRow[]).map(toKey);
  }

  deleteKey(name: string): boolean {
    return this.#s.deleteKey.run(name).changes > 0;
  }

  // budgets
  listBudgets(): BudgetRecord[] {
    return (this.#s.budgets.all() as BudgetRow[]).map(toBudget);
  }

  budgetByName(name: string): BudgetRecord | undefined {
    const r = this.#s.budgetByName.get(name) as BudgetRow | undefined;
    return r && toBudget(r);
  }

  updateBudget(b: BudgetRecord): void {
    this.#s.updateBudget.run({
      id: b.id,
      cap_nanos: b.capNanos,
      period: b.period,
      session_cap_nanos: b.sessionCapNanos,
      ceiling_nanos: b.ceilingNanos,
      mode: b.mode,
      killed: b.killed ? 1 : 0,
      clamp: b.clamp ? 1 : 0,
      autotune: b.autotune,
      updated_at: b.updatedAt,
    });
  }

  /** A global or tag budget (a key's budget is created with its key), with its event, in one transaction. */
  createBudget(b: Omit<BudgetRecord, 'id' | 'killed' | 'updatedAt'>, event: { channel: EventChannel; detail?: string | null; ts?: number }): { after: BudgetRecord; event: EventRecord } {
    return this.db.transaction(() => {
      if (this.budgetByName(b.name) !== undefined || this.keyByName(b.name) !== undefined) throw new StoreError('E_EXISTS', `a key or budget named "${b.name}" already exists (see: spendcap budget list)`);
      const ts = event.ts ?? Date.now();
      this.#s.insertBudget.run({
        name: b.name,
        scope: b.scope,
        key_id: b.keyId,
        cap_nanos: b.capNanos,
        period: b.period,
        session_cap_nanos: b.sessionCapNanos,
        ceiling_nanos: b.ceilingNanos,
        mode: b.mode,
        clamp: b.clamp ? 1 : 0,
        autotune: b.autotune,
        updated_at: ts,
      });
      const after = this.budgetByName(b.name)!;
      const ev = this.insertEvent({ ts, kind: 'budget-add', budget: b.name, channel: event.channel, capBeforeNanos: null, capAfterNanos: after.capNanos, detail: event.detail ?? null });
      return { after, event: ev };
    }).immediate();
  }

  /** Deletes a global or tag budget with its event; its ledger rows stay. */
  deleteBudget(name: string, event: { channel: EventChannel; detail?: string | null; ts?: number }): { before: BudgetRecord; event: EventRecord } {
    return this.db.transaction(() => {
      const before = this.budgetByName(name);
      if (before === undefined) throw new StoreError('E_NOT_FOUND', `no budget named "${name}" (see: spendcap budget list)`);
      if (before.scope === 'key') throw new StoreError('E_INVALID', `"${name}" is a key's budget; remove the key instead: spendcap key rm ${name}`);
      this.#s.deleteBudget.run(name);
      const ev = this.insertEvent({ ts: event.ts ?? Date.now(), kind: 'budget-rm', budget: name, channel: event.channel, capBeforeNanos: before.capNanos, capAfterNanos: null, detail: event.detail ?? null });
      return { before, event: ev };
    }).immediate();
  }

  /** Applies a change to a budget and records the event in one transaction. */
  changeBudget(
    name: string,
    change: (b: BudgetRecord) => BudgetRecord,
    event: { kind: string; channel: EventChannel; detail?: string | null | ((before: BudgetRecord, after: BudgetRecord) => string | null); ts?: number },
  ): { before: BudgetRecord; after: BudgetRecord; event: EventRecord } {
    return this.db.transaction(() => {
      const before = this.budgetByName(name);
      if (before === undefined) throw new StoreError('E_NOT_FOUND', `no key or budget named "${name}" (see: spendcap status)`);
      const after = { ...change(before), updatedAt: event.ts ?? Date.now() };
      this.updateBudget(after);
      const detail = typeof event.detail === 'function' ? event.detail(before, after) : (event.detail ?? null);
      const ev = this.insertEvent({ ts: after.updatedAt, kind: event.kind, budget: name, channel: event.channel, capBeforeNanos: before.capNanos, capAfterNanos: after.capNanos, detail });
      return { before, after, event: ev };
    }).immediate();
  }

  // settings (meta table): read by the CLI and the server alike
  getSetting(key: string): string | null {
    const r = this.#s.getMeta.get(`setting:${key}`) as { v: string } | undefined;
    return r?.v ?? null;
  }

  setSetting(key: string, value: string | null): void {
    if (value === null) this.db.prepare('DELETE FROM meta WHERE k = ?').run(`setting:${key}`);
    else this.#s.setMeta.run(`setting:${key}`, value);
  }

  // dashboard sign-in (src/dashboard/sessions.ts): secrets arrive already hashed
  insertDashboardLink(tokenHash: string, createdAt: number, expiresAt: number): void {
    this.db.transaction(() => {
      // Expired links are dropped whenever a new one is made: the table stays a handful of rows.
      this.db.prepare('DELETE FROM dashboard_links WHERE expires_at <= ?').run(createdAt);
      this.db.prepare('INSERT INTO dashboard_links (token_hash, created_at, expires_at) VALUES (?, ?, ?)').run(tokenHash, createdAt, expiresAt);
    }).immediate();
  }

  /** Deletes the link and says whether it was still valid: a link works once, even with two tabs racing. */
  consumeDashboardLink(tokenHash: string, now: number): boolean {
    const row = this.db.prepare('DELETE FROM dashboard_links WHERE token_hash = ? RETURNING expires_at').get(tokenHash) as { expires_at: number } | undefined;
    return row !== undefined && row.expires_at > now;
  }

  insertDashboardSession(idHash: string, createdAt: number, expiresAt: number): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM dashboard_sessions WHERE expires_at <= ?').run(createdAt);
      this.db.prepare('INSERT INTO dashboard_sessions (id_hash, created_at, expires_at) VALUES (?, ?, ?)').run(idHash, createdAt, expiresAt);
    }).immediate();
  }

  /** The session's expiry when it exists and has not expired, else null. */
  dashboardSession(idHash: string, now: number): number | null {
    const row = this.db.prepare('SELECT expires_at FROM dashboard_sessions WHERE id_hash = ?').get(idHash) as { expires_at: number } | undefined;
    return row !== undefined && row.expires_at > now ? row.expires_at : null;
  }

  deleteDashboardSession(idHash: string): boolean {
    return this.db.prepare('DELETE FROM dashboard_sessions WHERE id_hash = ?').run(idHash).changes > 0;
  }

  getMeta(key: string): string | null {
    const r = this.#s.getMeta.get(key) as { v: string } | undefined;
    return r?.v ?? null;
  }

  setMeta(key: string, value: string): void {
    this.#s.setMeta.run(key, value);
  }

  // ledger
  insertLedger(row: LedgerRow): number {
    return Number(this.#s.insertLedger.run(ledgerParams(row)).lastInsertRowid);
  }

  listLedger(limit: number, offset = 0): StoredLedgerRow[] {
    return (this.#s.ledgerPage.all(limit, offset) as LedgerDbRow[]).map(toLedger);
  }

  /**
   * n$ charged since `sinceMs`: ledger rows, plus the daily totals of rows retention pruned (all of them
   * before `prunedBefore`, so nothing counts twice). Periods start at local midnight, as daily totals do.
   */
  spentSince(filter: SpendFilter, sinceMs: number): number {
    let s: number;
    if (filter === 'all') s = this.#s.spentAll.get(sinceMs) as number;
    else if ('keyId' in filter) s = this.#s.spentByKey.get(filter.keyId, sinceMs) as number;
    else s = this.#s.spentByTag.get(filter.tag, sinceMs) as number;
    if (sinceMs < this.prunedBefore()) {
      if (filter === 'all') s += this.#s.dailyAll.get(sinceMs) as number;
      else if ('keyId' in filter) s += this.#s.dailyByKey.get(filter.keyId, sinceMs) as number;
      else s += this.#s.dailyByTag.get(filter.tag, sinceMs) as number;
    }
    return s;
  }

  /** Epoch ms before which ledger rows were pruned into daily totals (0: never pruned). */
  prunedBefore(): number {
    return Number(this.getMeta('pruned_before') ?? 0);
  }

  /** (ts, cost) of the ledger rows a budget counts in [fromMs, toMs), oldest first. */
  costRows(filter: SpendFilter, fromMs: number, toMs: number): Array<{ ts: number; costNanos: number }> {
    const where = filter === 'all' ? '' : 'keyId' in filter ? 'AND key_id = @key' : 'AND tag = @tag';
    const params = { from: fromMs, to: toMs, key: filter !== 'all' && 'keyId' in filter ? filter.keyId : null, tag: filter !== 'all' && 'tag' in filter ? filter.tag : null };
    const rows = this.db.prepare(`SELECT ts, cost_nanos AS c FROM ledger WHERE ts >= @from AND ts < @to ${where} ORDER BY ts`).all(params) as Array<{ ts: number; c: number }>;
    return rows.map((r) => ({ ts: r.ts, costNanos: r.c }));
  }

  /** Daily totals a budget counts with day_start in [fromMs, toMs), summed per day. */
  dailyTotals(filter: SpendFilter, fromMs: number, toMs: number): Array<{ day: string; dayStart: number; costNanos: number }> {
    const where = filter === 'all' ? '' : 'keyId' in filter ? 'AND key_id = @key' : 'AND tag = @tag';
    const params = { from: fromMs, to: toMs, key: filter !== 'all' && 'keyId' in filter ? filter.keyId : null, tag: filter !== 'all' && 'tag' in filter ? filter.tag : null };
    return this.db
      .prepare(`SELECT day, MIN(day_start) AS ds, SUM(cost_nanos) AS c FROM daily_totals WHERE day_start >= @from AND day_start < @to ${where} GROUP BY day ORDER BY ds`)
      .all(params)
      .map((r) => {
        const row = r as { day: string; ds: number; c: number };
        return { day: row.day, dayStart: row.ds, costNanos: row.c };
      });
  }

  listDailyTotals(): DailyTotal[] {
    return (this.db.prepare('SELECT * FROM daily_totals ORDER BY day_start, key_id, tag, model').all() as Array<Record<string, unknown>>).map((r) => ({
      day: r.day as string,
      dayStart: r.day_start as number,
      keyId: r.key_id as number,
      keyName: r.key_name as string,
      tag: (r.tag as string) === '' ? null : (r.tag as string),
      provider: r.provider as string,
      model: r.model as string,
      requests: r.requests as number,
      inputTokens: r.input_tokens as number,
      outputTokens: r.output_tokens as number,
      costNanos: r.cost_nanos as number,
    }));
  }

  /**
   * Retention: ledger rows before `beforeMs` are added into daily totals (day per `dayOf`, in the
   * configured time zone) and deleted, in one transaction. Returns how many rows went.
   */
  pruneLedger(beforeMs: number, dayOf: (ts: number) => { day: string; dayStart: number }): number {
    const upsert = this.db.prepare(`INSERT INTO daily_totals (day, day_start, key_id, key_name, tag, provider, model, requests, input_tokens, output_tokens, cost_nanos)
      VALUES (@day, @day_start, @key_id, @key_name, @tag, @provider, @model, @requests, @input_tokens, @output_tokens, @cost_nanos)
      ON CONFLICT (day, key_id, tag, model) DO UPDATE SET requests = requests + excluded.requests, input_tokens = input_tokens + excluded.input_tokens,
      output_tokens = output_tokens + excluded.output_tokens, cost_nanos = cost_nanos + excluded.cost_nanos`);
    return this.db.transaction(() => {
      if (beforeMs <= this.prunedBefore()) return 0;
      const groups = new Map<string, { day: string; day_start: number; key_id: number; key_name: string; tag: string; provider: string; model: string; requests: number; input_tokens: number; output_tokens: number; cost_nanos: number }>();
      const rows = this.db.prepare('SELECT ts, key_id, key_name, tag, provider, model, input_tokens, output_tokens, cost_nanos FROM ledger WHERE ts < ? ORDER BY ts').iterate(beforeMs) as IterableIterator<{
        ts: number;
        key_id: number;
        key_name: string;
        tag: string | null;
        provider: string;
        model: string;
        input_tokens: number;
        output_tokens: number;
        cost_nanos: number;
      }>;
      // Rows come in time order: the day is computed once per day, not per row.
      let current: { day: string; dayStart: number; end: number } | null = null;
      for (const r of rows) {
        if (current === null || r.ts >= current.end || r.ts < current.dayStart) {
          const d = dayOf(r.ts);
          current = { ...d, end: d.dayStart + 20 * 3600_000 };
          // The next day starts at least 23 h later (DST); 20 h keeps the check cheap and safe.
        }
        const tag = r.tag ?? '';
        const k = `${current.day}\u0000${r.key_id}\u0000${tag}\u0000${r.model}`;
        let g = groups.get(k);
        if (!g) {
          g = { day: current.day, day_start: current.dayStart, key_id: r.key_id, key_name: r.key_name, tag, provider: r.provider, model: r.model, requests: 0, input_tokens: 0, output_tokens: 0, cost_nanos: 0 };
          groups.set(k, g);
        }
        g.requests++;
        g.input_tokens += r.input_tokens;
        g.output_tokens += r.output_tokens;
        g.cost_nanos += r.cost_nanos;
      }
      for (const g of groups.values()) upsert.run(g);
      const n = this.db.prepare('DELETE FROM ledger WHERE ts < ?').run(beforeMs).changes;
      this.setMeta('pruned_before', String(beforeMs));
      return n;
    }).immediate();
  }

  /** Ledger rows with ts ≥ sinceMs, oldest first (exports). */
  *ledgerSince(sinceMs: number): Generator<StoredLedgerRow> {
    for (const r of this.db.prepare('SELECT * FROM ledger WHERE ts >= ? ORDER BY id').iterate(sinceMs)) yield toLedger(r as LedgerDbRow);
  }

  // thresholds: once per budget per period
  /** True the first time (budget, period, pct) is marked. */
  markThreshold(budgetId: number, periodStart: number, pct: number, ts: number): boolean {
    return this.#s.markThreshold.run(budgetId, periodStart, pct, ts).changes > 0;
  }

  maxThresholdFired(budgetId: number, periodStart: number): number {
    return this.#s.maxThreshold.get(budgetId, periodStart) as number;
  }

  spentBySession(keyId: number, session: string): number {
    return this.#s.spentBySession.get(keyId, session) as number;
  }

  sessionsOfKey(keyId: number, limit: number): Array<{ session: string; spentNanos: number; lastTs: number }> {
    return (this.#s.spentSessionsOfKey.all(keyId, limit) as Array<{ session: string; s: number; last: number }>).map((r) => ({
      session: r.session,
      spentNanos: r.s,
      lastTs: r.last,
    }));
  }

  // holds: written before a request goes upstream, so a crash cannot forget money in flight
  insertHold(h: HoldRecord): void {
    // Positional, in the insert's column order (one per request: see ledgerParams).
    this.#s.insertHold.run(h.id, h.ts, h.keyId, h.keyName, h.session, h.provider, h.model, h.amountNanos, h.tag ?? null);
  }

  updateHold(id: string, amountNanos: number, model: string): void {
    this.#s.updateHold.run(amountNanos, model, id);
  }

  listHolds(): HoldRecord[] {
    return (this.#s.holds.all() as HoldRow[]).map(toHold);
  }

  /** The hold becomes a charge: one transaction, so a crash leaves either the hold or the row, never both or neither. */
  settleHold(holdId: string, row: LedgerRow): number {
    // Inside a transaction (the group commit runs each write in its own savepoint) the two statements
    // are atomic already: a nested savepoint here was one more SAVEPOINT/RELEASE pair per request.
    if (this.db.inTransaction) return this.#settleBody(holdId, row);
    return this.#settleTx.immediate(holdId, row);
  }

  #settleBody(holdId: string, row: LedgerRow): number {
    this.#s.deleteHold.run(holdId);
    return Number(this.#s.insertLedger.run(ledgerParams(row)).lastInsertRowid);
  }

  // prices (n$/Mtok)
  setPrice(p: Omit<PriceRecord, 'updatedAt'>): void {
    this.#s.upsertPrice.run({ model: p.model, input: p.input, output: p.output, cache_read: p.cacheRead, cache_write: p.cacheWrite, updated_at: Date.now() });
  }

  deletePrice(model: string): boolean {
    return this.#s.deletePrice.run(model).changes > 0;
  }

  listPrices(): PriceRecord[] {
    return (this.#s.prices.all() as Array<{ model: string; input: number; output: number; cache_read: number | null; cache_write: number | null; updated_at: number }>).map((r) => ({
      model: r.model,
      input: r.input,
      output: r.output,
      cacheRead: r.cache_read,
      cacheWrite: r.cache_write,
      updatedAt: r.updated_at,
    }));
  }

  // events
  insertEvent(e: Omit<EventRecord, 'id'>): EventRecord {
    const id = Number(this.#s.insertEvent.run(e.ts, e.kind, e.budget, e.channel, e.capBeforeNanos, e.capAfterNanos, e.detail).lastInsertRowid);
    return { id, ...e };
  }

  /** Newest first; `budget` keeps one budget's events. */
  listEvents(limit: number, opts: { budget?: string; sinceMs?: number } = {}): EventRecord[] {
    const rows =
      opts.budget === undefined && opts.sinceMs === undefined
        ? this.#s.events.all(limit)
        : this.db
            .prepare(`SELECT * FROM events WHERE ts >= @since ${opts.budget === undefined ? '' : 'AND budget = @budget'} ORDER BY id DESC LIMIT @limit`)
            .all({ since: opts.sinceMs ?? 0, budget: opts.budget ?? null, limit });
    return (
      rows as Array<{ id: number; ts: number; kind: string; budget: string | null; channel: string; cap_before_nanos: number | null; cap_after_nanos: number | null; detail: string | null }>
    ).map((r) => ({
      id: r.id,
      ts: r.ts,
      kind: r.kind,
      budget: r.budget,
      channel: r.channel as EventChannel,
      capBeforeNanos: r.cap_before_nanos,
      capAfterNanos: r.cap_after_nanos,
      detail: r.detail,
    }));
  }
}

/** chmod 0600 when the file exists; a file system without modes (or another owner) is left as it is. */
function ownerOnly(path: string): void {
  try {
    chmodSync(path, 0o600);
  } catch {
    /* missing, or not ours to change */
  }
}
