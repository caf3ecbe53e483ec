// The embedded Store: one SQLite file in WAL mode behind the async Store interface (store.ts).
// Reads answer at once (a resolved Promise over a prepared statement). Writes are queued and
// committed together once per event-loop turn (group-commit.ts); each write's Promise resolves
// after the commit that carries it.
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';
import { GroupCommit } from './group-commit.js';
import { SqliteAlerts } from './alerts.js';
import { SqliteReports, toEvent } from './sqlite-reports.js';
import { SqliteTables } from './sqlite-tables.js';
import { deleteConnection, getConnection, insertToken, listConnections, listTokens, liveTokenHashes, revokeToken, saveConnection } from './tokens.js';
import type { Checkpointer } from './checkpointer.js';
import type { AdminKeyInfo, AdminProvider, ProviderKeyLink } from './provider-key-types.js';
import type {
  AlertStoreApi,
  BudgetStore,
  ChangeFeed,
  ConnectionStore,
  DailyStore,
  EventStore,
  HoldStore,
  KeyStore,
  LedgerStore,
  NewEvent,
  PriceStore,
  ProviderKeyStore,
  SessionStore,
  SettingsStore,
  Store,
  ThresholdStore,
  TokenStore,
} from './store.js';
import type { EventRecord } from './types.js';

export { DB_FILE } from './migrations.js';

const SETTING = 'setting:';

/** Resolves at once with what `f` returns, or rejects with what it throws: a read, as a Promise. */
function now<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly #t: SqliteTables;
  readonly #db: Database.Database;
  readonly #q: GroupCommit;
  readonly #reports: SqliteReports;
  readonly #alerts: SqliteAlerts;

  readonly keys: KeyStore;
  readonly tokens: TokenStore;
  readonly connections: ConnectionStore;
  readonly budgets: BudgetStore;
  readonly holds: HoldStore;
  readonly ledger: LedgerStore;
  readonly daily: DailyStore;
  readonly events: EventStore;
  readonly thresholds: ThresholdStore;
  readonly settings: SettingsStore;
  readonly prices: PriceStore;
  readonly sessions: SessionStore;
  readonly alerts: AlertStoreApi;
  readonly providerKeys: ProviderKeyStore;
  readonly changes: ChangeFeed;

  constructor(dataDir: string, opts: { readonly?: boolean } = {}) {
    const t = new SqliteTables(dataDir, opts);
    this.#t = t;
    this.#db = t.db;
    this.#q = new GroupCommit(t.db);
    this.#reports = new SqliteReports(t.db);
    this.#alerts = new SqliteAlerts(t.db);
    const db = t.db;
    const r = this.#reports;
    const w = <T>(f: () => T): Promise<T> => this.#q.enqueue(f);
    const ev = (e: NewEvent | undefined): EventRecord | null => (e === undefined ? null : t.insertEvent(e));

    this.keys = {
      create: (key, budget, event) =>
        w(() => {
          const k = t.insertKeyWithBudget(key, budget);
          ev(event);
          return k;
        }),
      byName: (name) => now(() => t.keyByName(name)),
      list: () => now(() => t.listKeys()),
      remove: (name, event) =>
        w(() => {
          if (!t.deleteKey(name)) throw new StoreError('E_NOT_FOUND', `no key named "${name}" (see: spendcap key list)`);
          ev(event);
        }),
    };
    this.tokens = {
      live: () => now(() => liveTokenHashes(db)),
      insert: (tok) => w(() => insertToken(db, tok)),
      // Listing adopts the key's own token as a row: a write, so it goes through the queue too.
      list: (keyId) => w(() => listTokens(db, keyId)),
      revoke: (keyId, idOrLabel, at) => w(() => revokeToken(db, keyId, idOrLabel, at)),
      revokeId: (tokenId, at) =>
        w(() => {
          db.prepare('UPDATE key_tokens SET revoked_at = ? WHERE id = ?').run(at, tokenId);
        }),
    };
    this.connections = {
      save: (c) => w(() => saveConnection(db, c)),
      get: (agent) => now(() => getConnection(db, agent)),
      list: () => now(() => listConnections(db)),
      remove: (agent) => w(() => deleteConnection(db, agent)),
    };
    this.budgets = {
      list: () => now(() => t.listBudgets()),
      byName: (name) => now(() => t.budgetByName(name)),
      create: (b, event) => w(() => t.createBudget(b, event)),
      remove: (name, event) => w(() => t.deleteBudget(name, event)),
      change: (name, change, event) => w(() => t.changeBudget(name, change, event)),
    };
    this.holds = {
      insert: (h) => w(() => t.insertHold(h)),
      update: (id, amount, model) => w(() => t.updateHold(id, amount, model)),
      list: () => now(() => t.listHolds()),
      // Committed before this macrotask ends: the response's end may follow at once (group-commit.ts).
      settle: (holdId, row, opts) => this.#q.enqueue(() => t.settleHold(holdId, row), { soon: opts?.soon === true }),
    };
    this.ledger = {
      insert: (row) => w(() => t.insertLedger(row)),
      page: (limit, offset) => now(() => t.listLedger(limit, offset)),
      search: (f) => now(() => r.usagePage(f)),
      since: (sinceMs) => now(() => [...t.ledgerSince(sinceMs)]),
      spentSince: (filter, sinceMs) => now(() => t.spentSince(filter, sinceMs)),
      spentBySession: (keyId, session) => now(() => t.spentBySession(keyId, session)),
      sessionsOfKey: (keyId, limit) => now(() => t.sessionsOfKey(keyId, limit)),
      keySessions: (keyId, sinceMs, limit) => now(() => r.keySessions(keyId, sinceMs, limit)),
      costRows: (filter, from, to) => now(() => t.costRows(filter, from, to)),
      estimatedCount: (filter, sinceMs) => now(() => r.estimatedCount(filter, sinceMs)),
      byModel: (win) => now(() => r.byModel(win)),
      outcomes: (win) => now(() => r.outcomes(win)),
      buckets: (win, bucketMs) => now(() => r.buckets(win, bucketMs)),
      modelsInUse: (sinceMs, limit) => now(() => r.modelsInUse(sinceMs, limit)),
      metrics: (bucketsS) => now(() => r.metrics(bucketsS)),
      providerRows: (provider, sinceMs) => now(() => r.providerRows(provider, sinceMs)),
      correct: (list, events, meta) =>
        w(() => {
          const update = db.prepare('UPDATE ledger SET cost_nanos = ?, provider_cost_nanos = ?, metered_cost_nanos = COALESCE(metered_cost_nanos, cost_nanos) WHERE id = ? AND cost_nanos = ?');
          const applied = list.filter((c) => update.run(c.toNanos, c.toNanos, c.rowId, c.fromNanos).changes > 0).map((c) => c.rowId);
          if (applied.length > 0) {
            for (const e of events(applied)) t.insertEvent(e);
            t.setMeta(meta.key, meta.value);
          }
          return applied;
        }),
      estimatedAfter: (afterId, limit) => now(() => this.#alerts.estimatedPriceRowsAfter(afterId, limit)),
      maxId: () => now(() => this.#alerts.maxLedgerId()),
    };
    this.daily = {
      totals: (filter, from, to) => now(() => t.dailyTotals(filter, from, to)),
      byDay: (win) => now(() => r.dailyByDay(win)),
      list: () => now(() => t.listDailyTotals()),
      prune: (beforeMs, dayOf) => w(() => t.pruneLedger(beforeMs, dayOf)),
      prunedBefore: () => now(() => t.prunedBefore()),
    };
    this.events = {
      insert: (e) => w(() => t.insertEvent(e)),
      list: (limit, o) => now(() => t.listEvents(limit, o)),
      search: (f) => now(() => r.eventsPage(f)),
      after: (afterId, limit) => now(() => (db.prepare('SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?').all(afterId, limit) as Parameters<typeof toEvent>[0][]).map(toEvent)),
      maxId: () => now(() => this.#alerts.maxEventId()),
    };
    this.thresholds = {
      mark: (budgetId, periodStart, pct, ts, event) =>
        w(() => {
          const first = t.markThreshold(budgetId, periodStart, pct, ts);
          if (first) ev(event);
          return first;
        }),
      maxFired: (budgetId, periodStart) => now(() => t.maxThresholdFired(budgetId, periodStart)),
    };
    this.settings = {
      get: (key) => now(() => t.getSetting(key)),
      all: () =>
        now(() => {
          const out: Record<string, string> = {};
          for (const row of db.prepare("SELECT k, v FROM meta WHERE k LIKE 'setting:%'").all() as Array<{ k: string; v: string }>) out[row.k.slice(SETTING.length)] = row.v;
          return out;
        }),
      set: (values, event) =>
        w(() => {
          for (const [k, v] of Object.entries(values)) t.setSetting(k, v);
          return ev(event);
        }),
      getMeta: (key) => now(() => t.getMeta(key)),
      setMeta: (key, value) => w(() => t.setMeta(key, value)),
    };
    this.prices = {
      list: () => now(() => t.listPrices()),
      set: (p, event) =>
        w(() => {
          t.setPrice(p);
          ev(event);
        }),
      remove: (model, event) =>
        w(() => {
          const had = t.deletePrice(model);
          if (had) ev(event);
          return had;
        }),
    };
    this.sessions = {
      insertLink: (h, c, e) => w(() => t.insertDashboardLink(h, c, e)),
      consumeLink: (h, at) => w(() => t.consumeDashboardLink(h, at)),
      insertSession: (h, c, e) => w(() => t.insertDashboardSession(h, c, e)),
      session: (h, at) => now(() => t.dashboardSession(h, at)),
      removeSession: (h) => w(() => t.deleteDashboardSession(h)),
    };
    const a = this.#alerts;
    this.alerts = {
      insertChannel: (c) => w(() => a.insertChannel(c)),
      listChannels: () => now(() => a.listChannels()),
      channel: (name) => now(() => a.channel(name)),
      deleteChannel: (name) => w(() => a.deleteChannel(name)),
      recordTest: (name, ok, detail, ts) => w(() => a.recordTest(name, ok, detail, ts)),
      channelsVersion: () => now(() => a.channelsVersion()),
      enqueue: (row, mode) => w(() => a.enqueue(row, mode)),
      outboxRow: (id) => now(() => a.outboxRow(id)),
      dueRows: (at, limit) => now(() => a.dueRows(at, limit)),
      markSent: (id, ref, at, next) => w(() => a.markSent(id, ref, at, next)),
      markSentIfUnchanged: (id, ref, at, next, updatedAt) => w(() => a.markSentIfUnchanged(id, ref, at, next, updatedAt)),
      markRetry: (id, attempts, next, error) => w(() => a.markRetry(id, attempts, next, error)),
      markFailed: (id, attempts, error) => w(() => a.markFailed(id, attempts, error)),
      supersede: (ids) => w(() => a.supersede(ids)),
      recentOutbox: (limit, channel) => now(() => a.recentOutbox(limit, channel)),
      pendingOf: (channel) => now(() => a.pendingOf(channel)),
      budgetSettings: (budget) => now(() => a.budgetSettings(budget)),
      allBudgetSettings: () => now(() => a.allBudgetSettings()),
      setBudgetSettings: (budget, change) => w(() => a.setBudgetSettings(budget, change)),
      insertAsk: (ask) => w(() => a.insertAsk(ask)),
      ask: (id) => now(() => a.ask(id)),
      pendingAsks: (at, budget) => now(() => a.pendingAsks(at, budget)),
      decideAsk: (id, state, by, at) => w(() => a.decideAsk(id, state, by, at)),
    };
    this.providerKeys = {
      saveAdmin: (provider, keyEnc, hint, createdAt) =>
        w((): AdminKeyInfo => {
          db.prepare(
            `INSERT INTO provider_admin_keys (provider, key_enc, hint, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (provider) DO UPDATE SET key_enc = excluded.key_enc, hint = excluded.hint, created_at = excluded.created_at`,
          ).run(provider, keyEnc, hint, createdAt);
          return { provider, hint, createdAt };
        }),
      adminEnc: (provider) => now(() => (db.prepare('SELECT key_enc FROM provider_admin_keys WHERE provider = ?').pluck(true).get(provider) as string | undefined) ?? null),
      listAdmin: () =>
        now(() =>
          (db.prepare('SELECT provider, hint, created_at FROM provider_admin_keys ORDER BY provider').all() as Array<{ provider: AdminProvider; hint: string; created_at: number }>).map((x) => ({
            provider: x.provider,
            hint: x.hint,
            createdAt: x.created_at,
          })),
        ),
      removeAdmin: (provider) => w(() => db.prepare('DELETE FROM provider_admin_keys WHERE provider = ?').run(provider).changes > 0),
      link: (l) =>
        w(() => {
          db.prepare(
            `INSERT INTO provider_keys (key_id, provider, hash, label, created_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (key_id) DO UPDATE SET provider = excluded.provider, hash = excluded.hash, label = excluded.label, created_at = excluded.created_at`,
          ).run(l.keyId, l.provider, l.hash, l.label, l.createdAt);
        }),
      linkOf: (keyId) => now(() => toLinks(db.prepare('SELECT * FROM provider_keys WHERE key_id = ?').all(keyId))[0] ?? null),
      links: () => now(() => toLinks(db.prepare('SELECT * FROM provider_keys ORDER BY key_id').all())),
      unlink: (keyId) =>
        w(() => {
          db.prepare('DELETE FROM provider_keys WHERE key_id = ?').run(keyId);
        }),
    };
    this.changes = { version: () => now(() => t.dataVersion()) };
  }

  /** The data_version a per-request check reads: synchronous for the embedded store (the Bank's fast path). */
  versionNow(): number {
    return this.#t.dataVersion();
  }

  /** Transactions committed and writes carried since open (what group commit bought). */
  get commitStats(): { commits: number; writes: number } {
    return { commits: this.#q.commits, writes: this.#q.writes };
  }

  flush(): Promise<void> {
    if (this.#q.pending === 0) return Promise.resolve();
    return this.#q.enqueue(() => undefined);
  }

  background(): Checkpointer {
    return this.checkpointInBackground();
  }

  /** For the long-running server: WAL checkpoints leave the event loop for a worker thread. */
  checkpointInBackground(opts: { maxWalBytes?: number } = {}): Checkpointer {
    return this.#t.checkpointInBackground(opts);
  }

  close(): Promise<void> {
    this.closeNow();
    return Promise.resolve();
  }

  /** Commits what is queued and closes, synchronously (process exit paths). */
  closeNow(): void {
    if (!this.#db.open) return;
    this.#q.flushNow();
    this.#t.close();
  }
}

function toLinks(rows: unknown[]): ProviderKeyLink[] {
  return (rows as Array<{ key_id: number; provider: 'openrouter'; hash: string; label: string; created_at: number }>).map((r) => ({ keyId: r.key_id, provider: r.provider, hash: r.hash, label: r.label, createdAt: r.created_at }));
}
