// The one storage seam of spendcap. Every part reads and writes through `Store`; only src/store/
// knows SQL. Methods return Promises: a networked store (Postgres) cannot answer synchronously,
// and the embedded SQLite one resolves its writes after the group commit that carries them.
//
// Split by concern: each sub-interface is one family of tables. Writes that must land together
// with an audit event take that event as an argument, so a store can put both in one transaction
// without handing callers a transaction object.
import type { AdminProvider, AdminKeyInfo, ProviderKeyLink } from './provider-key-types.js';
import type { AskRow, AskState, BudgetAlertSettings, ChannelRow, OutboxRow } from './alert-types.js';
import type {
  AgentConnection,
  AutotuneMode,
  BudgetRecord,
  DailyTotal,
  EventChannel,
  EventRecord,
  HoldRecord,
  KeyRecord,
  LedgerRow,
  LiveToken,
  PriceRecord,
  SpendFilter,
  StoredLedgerRow,
  TokenRecord,
} from './types.js';

/** An event to record in the same transaction as the write it describes. */
export type NewEvent = Omit<EventRecord, 'id'>;

/** The budget a key is created with (its name, scope and key id come from the key). */
export type NewKeyBudget = Omit<BudgetRecord, 'id' | 'keyId' | 'killed' | 'scope' | 'name' | 'clamp' | 'autotune'> & { clamp?: boolean; autotune?: AutotuneMode };

export interface KeyStore {
  /** The key and its own budget, with `event` when given, in one transaction. E_EXISTS when the name is taken. */
  create(key: Omit<KeyRecord, 'id'>, budget: NewKeyBudget, event?: NewEvent): Promise<KeyRecord>;
  byName(name: string): Promise<KeyRecord | undefined>;
  /** Ordered by name. */
  list(): Promise<KeyRecord[]>;
  /** Deletes the key (its budget, tokens and provider-key link go with it; its ledger rows stay). E_NOT_FOUND when absent. */
  remove(name: string, event?: NewEvent): Promise<void>;
}

export interface TokenStore {
  /** Every token hash that authenticates, with its key: each key's own token unless revoked, and every live extra token. */
  live(): Promise<LiveToken[]>;
  insert(t: { keyId: number; label: string; tokenHash: string; tokenHint: string; createdAt: number; session?: string | null; budget?: string | null }): Promise<TokenRecord>;
  /** Every token of the key, live and revoked, oldest first; the key's own token is listed as "primary". */
  list(keyId: number): Promise<TokenRecord[]>;
  /** Revokes one token, by id or by the label of exactly one live token. E_NOT_FOUND / E_INVALID. */
  revoke(keyId: number, idOrLabel: string, now: number): Promise<TokenRecord>;
  /** Revokes by id, no questions asked (a token replaced by a reconnect). */
  revokeId(tokenId: number, now: number): Promise<void>;
}

export interface ConnectionStore {
  save(c: AgentConnection): Promise<void>;
  get(agent: string): Promise<AgentConnection | undefined>;
  /** Ordered by agent. */
  list(): Promise<AgentConnection[]>;
  remove(agent: string): Promise<void>;
}

/** A change to a budget: computed from the row read inside the transaction. */
export type BudgetChange = (b: BudgetRecord) => BudgetRecord;

export interface BudgetStore {
  /** Ordered by name. */
  list(): Promise<BudgetRecord[]>;
  byName(name: string): Promise<BudgetRecord | undefined>;
  /** A global or tag budget with its `budget-add` event. E_EXISTS when a key or budget has the name. */
  create(b: Omit<BudgetRecord, 'id' | 'killed' | 'updatedAt'>, event: { channel: EventChannel; detail?: string | null; ts?: number }): Promise<{ after: BudgetRecord; event: EventRecord }>;
  /** Deletes a global or tag budget with its `budget-rm` event. E_NOT_FOUND; E_INVALID for a key's budget. */
  remove(name: string, event: { channel: EventChannel; detail?: string | null; ts?: number }): Promise<{ before: BudgetRecord; event: EventRecord }>;
  /** Read, change and write one budget with its event, atomically. E_NOT_FOUND. */
  change(
    name: string,
    change: BudgetChange,
    event: { kind: string; channel: EventChannel; detail?: string | null | ((before: BudgetRecord, after: BudgetRecord) => string | null); ts?: number },
  ): Promise<{ before: BudgetRecord; after: BudgetRecord; event: EventRecord }>;
}

/**
 * Money in flight: a hold is written before its request goes upstream so a crash cannot forget it.
 * Writes here are the hot path: a store may batch them (group commit); the Promise resolves once
 * the write is durable.
 */
export interface HoldStore {
  insert(h: HoldRecord): Promise<void>;
  /** The latest estimate, so a crash charges it. */
  update(id: string, amountNanos: number, model: string): Promise<void>;
  /** Oldest first. */
  list(): Promise<HoldRecord[]>;
  /**
   * Deletes the hold and inserts its ledger row, atomically: a crash leaves one or the other, never both or neither. Returns the row id.
   * `soon`: make it durable before anything else runs (a stream whose client may already have read its final event), rather than with the next batch.
   */
  settle(holdId: string, row: LedgerRow, opts?: { soon?: boolean }): Promise<number>;
}

export interface UsageFilter {
  limit: number;
  offset: number;
  since?: number | undefined;
  until?: number | undefined;
  key?: string | undefined;
  outcome?: string | undefined;
}

/** Which rows an aggregate reads: a time window and, optionally, one key by name or a budget's filter. */
export interface LedgerWindow {
  since: number;
  until?: number | undefined;
  keyName?: string | undefined;
  filter?: SpendFilter | undefined;
}

export interface ModelSpend {
  provider: string;
  model: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costNanos: number;
}

export interface KeySession {
  session: string;
  requests: number;
  spentNanos: number;
  lastTs: number;
  /** null for a session whose first request is still in flight. */
  lastOutcome: string | null;
}

export interface MetricsRows {
  requests: Array<{ key: string; provider: string; outcome: string; count: number; costNanos: number }>;
  duration: { buckets: number[]; count: number; sumMs: number };
}

/** One settled request per row; retention folds old rows into daily totals, which every sum here still counts. */
export interface LedgerStore {
  /** A row with no hold (a blocked request). Durable when the Promise resolves. Returns the row id. */
  insert(row: LedgerRow): Promise<number>;
  /** Newest first. */
  page(limit: number, offset?: number): Promise<StoredLedgerRow[]>;
  /** Newest first, filtered; `total` counts every row the filter matches. */
  search(f: UsageFilter): Promise<{ total: number; rows: StoredLedgerRow[] }>;
  /** Rows with ts ≥ sinceMs, oldest first (exports). */
  since(sinceMs: number): Promise<StoredLedgerRow[]>;
  /** n$ charged since `sinceMs` under `filter`, pruned days included. */
  spentSince(filter: SpendFilter, sinceMs: number): Promise<number>;
  /** n$ charged in one session of a key, ever. */
  spentBySession(keyId: number, session: string): Promise<number>;
  /** A key's sessions, most recent first: their whole spend and last ts. */
  sessionsOfKey(keyId: number, limit: number): Promise<Array<{ session: string; spentNanos: number; lastTs: number }>>;
  /** A key's sessions whose last request is at or after sinceMs, most recent first, with request count and last outcome. */
  keySessions(keyId: number, sinceMs: number, limit: number): Promise<KeySession[]>;
  /** (ts, cost) of ledger rows under `filter` in [fromMs, toMs), oldest first (pruned days not included). */
  costRows(filter: SpendFilter, fromMs: number, toMs: number): Promise<Array<{ ts: number; costNanos: number }>>;
  /** How many rows under the filter since sinceMs were priced by estimate (unknown model). */
  estimatedCount(filter: SpendFilter, sinceMs: number): Promise<number>;
  /** Per (provider, model) in the window, pruned days included, most expensive first. */
  byModel(w: LedgerWindow): Promise<ModelSpend[]>;
  /** Request counts per outcome in the window (ledger rows only). */
  outcomes(w: LedgerWindow): Promise<Record<string, number>>;
  /** Spend per time bucket of `bucketMs` (bucket start = floor(ts / bucketMs) * bucketMs), per key and model, ledger rows only. */
  buckets(w: LedgerWindow, bucketMs: number): Promise<Array<{ start: number; keyName: string; model: string; requests: number; costNanos: number }>>;
  /** Each distinct (provider, model) seen since sinceMs, most recently used first, pruned days included. */
  modelsInUse(sinceMs: number, limit: number): Promise<Array<{ provider: string; model: string; lastTs: number }>>;
  /** Aggregates for /metrics (duration histogram over non-blocked rows). */
  metrics(bucketsS: readonly number[]): Promise<MetricsRows>;
  /** Rows of one provider since sinceMs that reached it (not blocked), oldest first (reconcile). */
  providerRows(provider: string, sinceMs: number): Promise<StoredLedgerRow[]>;
  /**
   * Sets rows to the provider's figure (the old figure kept as metered_cost_nanos when none was), each only
   * if its cost is still `fromNanos`; records `events(applied)` and sets meta `correctedMeta` = now, in one transaction.
   */
  correct(list: ReadonlyArray<{ rowId: number; fromNanos: number; toNanos: number }>, events: (applied: number[]) => NewEvent[], meta: { key: string; value: string }): Promise<number[]>;
  /** Estimated-price rows after a ledger id, oldest first (the alert feed). */
  estimatedAfter(afterId: number, limit: number): Promise<Array<{ id: number; keyName: string; model: string; tag: string | null }>>;
  maxId(): Promise<number>;
}

/** What ledger rows pruned by retention added up to, per local day. */
export interface DailyStore {
  /** Summed per day under the filter with day_start in [fromMs, toMs), oldest first. */
  totals(filter: SpendFilter, fromMs: number, toMs: number): Promise<Array<{ day: string; dayStart: number; costNanos: number }>>;
  /** Per day, key and model in the window (day_start), for charts and stats. */
  byDay(w: LedgerWindow): Promise<Array<{ day: string; keyName: string; model: string; requests: number; costNanos: number }>>;
  list(): Promise<DailyTotal[]>;
  /** Folds ledger rows before `beforeMs` into daily totals (day per `dayOf`) and deletes them, atomically. Returns rows pruned. */
  prune(beforeMs: number, dayOf: (ts: number) => { day: string; dayStart: number }): Promise<number>;
  /** Epoch ms before which ledger rows were pruned (0: never). */
  prunedBefore(): Promise<number>;
}

export interface EventFilter {
  limit: number;
  offset: number;
  since?: number | undefined;
  until?: number | undefined;
  budget?: string | undefined;
  kind?: string | undefined;
  channel?: string | undefined;
}

export interface EventStore {
  insert(e: NewEvent): Promise<EventRecord>;
  /** Newest first. */
  list(limit: number, opts?: { budget?: string; sinceMs?: number }): Promise<EventRecord[]>;
  search(f: EventFilter): Promise<{ total: number; rows: EventRecord[] }>;
  /** Oldest first (the alert feed). */
  after(afterId: number, limit: number): Promise<EventRecord[]>;
  maxId(): Promise<number>;
}

/** Threshold events fire once per budget per period: the marks say which already did. */
export interface ThresholdStore {
  /** True the first time (budget, period, pct) is marked; with `event` recorded in the same write when it is. */
  mark(budgetId: number, periodStart: number, pct: number, ts: number, event?: NewEvent): Promise<boolean>;
  /** The highest pct marked for the budget's period, 0 when none. */
  maxFired(budgetId: number, periodStart: number): Promise<number>;
}

/** Settings (user-facing, by name) and meta (internal markers), both plain strings. */
export interface SettingsStore {
  get(key: string): Promise<string | null>;
  /** Every setting at once. */
  all(): Promise<Record<string, string>>;
  /** null deletes. Several keys and the event land together. */
  set(values: Record<string, string | null>, event?: NewEvent): Promise<EventRecord | null>;
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
}

/** Price overrides, n$ per Mtok. */
export interface PriceStore {
  list(): Promise<PriceRecord[]>;
  set(p: Omit<PriceRecord, 'updatedAt'>, event?: NewEvent): Promise<void>;
  /** False when there was none. */
  remove(model: string, event?: NewEvent): Promise<boolean>;
}

/** Dashboard sign-in: one-time links and browser sessions, kept as hashes of their secrets. */
export interface SessionStore {
  insertLink(tokenHash: string, createdAt: number, expiresAt: number): Promise<void>;
  /** Deletes the link and says whether it was still valid: a link works once. */
  consumeLink(tokenHash: string, now: number): Promise<boolean>;
  insertSession(idHash: string, createdAt: number, expiresAt: number): Promise<void>;
  /** The session's expiry when it exists and has not expired, else null. */
  session(idHash: string, now: number): Promise<number | null>;
  removeSession(idHash: string): Promise<boolean>;
}

/** Alert channels, the delivery outbox, per-budget alert settings and asks waiting for a person. */
export interface AlertStoreApi {
  insertChannel(c: Omit<ChannelRow, 'testedAt' | 'testOk' | 'testDetail'>): Promise<void>;
  listChannels(): Promise<ChannelRow[]>;
  channel(name: string): Promise<ChannelRow | undefined>;
  /** With its outbox rows. */
  deleteChannel(name: string): Promise<boolean>;
  recordTest(name: string, ok: boolean, detail: string, ts: number): Promise<void>;
  /** A fingerprint of the channel config. */
  channelsVersion(): Promise<string>;
  enqueue(row: { id: string; channel: string; dedupeKey: string; kind: string; budget: string; alert: string; now: number }, mode: 'once' | 'update'): Promise<'new' | 'updated' | 'kept'>;
  outboxRow(id: string): Promise<OutboxRow | undefined>;
  dueRows(now: number, limit: number): Promise<OutboxRow[]>;
  markSent(id: string, ref: string | null, now: number, nextUpdateAt: number): Promise<void>;
  markSentIfUnchanged(id: string, ref: string | null, now: number, nextUpdateAt: number, updatedAt: number): Promise<void>;
  markRetry(id: string, attempts: number, nextAttemptAt: number, error: string): Promise<void>;
  markFailed(id: string, attempts: number, error: string): Promise<void>;
  supersede(ids: readonly string[]): Promise<void>;
  recentOutbox(limit: number, channel?: string): Promise<OutboxRow[]>;
  pendingOf(channel: string): Promise<OutboxRow[]>;
  budgetSettings(budget: string): Promise<BudgetAlertSettings | undefined>;
  allBudgetSettings(): Promise<BudgetAlertSettings[]>;
  setBudgetSettings(budget: string, change: { ask?: boolean; askTimeoutS?: number | null; thresholds?: number[] | null }): Promise<BudgetAlertSettings>;
  insertAsk(a: Omit<AskRow, 'decidedBy' | 'decidedAt' | 'state'>): Promise<void>;
  ask(id: string): Promise<AskRow | undefined>;
  pendingAsks(now: number, budget?: string): Promise<AskRow[]>;
  decideAsk(id: string, state: Exclude<AskState, 'pending'>, by: string, now: number): Promise<boolean>;
}

/** Provider-side keys: admin keys stored once (encrypted by the caller) and which spendcap key owns which provider key. */
export interface ProviderKeyStore {
  saveAdmin(provider: AdminProvider, keyEnc: string, hint: string, createdAt: number): Promise<AdminKeyInfo>;
  /** The encrypted admin key, or null. */
  adminEnc(provider: AdminProvider): Promise<string | null>;
  listAdmin(): Promise<AdminKeyInfo[]>;
  removeAdmin(provider: AdminProvider): Promise<boolean>;
  link(link: ProviderKeyLink): Promise<void>;
  linkOf(keyId: number): Promise<ProviderKeyLink | null>;
  links(): Promise<ProviderKeyLink[]>;
  unlink(keyId: number): Promise<void>;
}

/**
 * Change detection: whether another process (a CLI command, another server) committed since the
 * last look. A store answers cheaply enough to ask once per request; the Bank reloads on a change.
 */
export interface ChangeFeed {
  /** A value that differs after another connection committed. Own writes need not move it. */
  version(): Promise<number>;
}

export interface Store {
  /** 'sqlite', 'postgres': for messages and tests, never for branching on behaviour. */
  readonly kind: string;
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
  /** Starts the store's own background work for a long-running server (SQLite: WAL checkpoints in a worker). */
  background?(): { stop(): Promise<void> };
  /** Resolves once every write queued so far is durable (group commit flushed). */
  flush(): Promise<void>;
  /** Flushes, then releases the connection(s). */
  close(): Promise<void>;
}

/** How a process names its store: a data dir (SQLite file inside), or a postgres:// URL (team mode). */
export type StoreSpec = string | { dataDir: string; readonly?: boolean } | { url: string };
