// The Postgres Store (team mode): the same interface and contract as SqliteStore, over a pg pool.
// Each write is one statement or one transaction; there is no group commit here, since the hot
// path does not wait on these writes in team mode (the lease ledger batches them, team.ts).
import type pg from 'pg';
import { StoreError } from '../errors.js';
import { mergeModels } from '../sqlite-reports.js';
import type { AskRow, AskState, BudgetAlertSettings, ChannelRow, OutboxRow, OutboxState } from '../alert-types.js';
import type { AdminKeyInfo, AdminProvider, ProviderKeyLink } from '../provider-key-types.js';
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
  LedgerWindow,
  ModelSpend,
  NewEvent,
  PriceStore,
  ProviderKeyStore,
  SessionStore,
  SettingsStore,
  Store,
  ThresholdStore,
  TokenStore,
} from '../store.js';
import type { AgentConnection, AutotuneMode, BudgetMode, BudgetRecord, ConnectedFile, EventChannel, EventRecord, HoldRecord, KeyRecord, LedgerRow, Outcome, Period, SpendFilter, StoredLedgerRow, TokenRecord } from '../types.js';
import type { ProviderId } from '../../pricing/index.js';
import { migrate, openPool } from './pool.js';

type Row = Record<string, unknown>;
type Q = Pick<pg.Pool, 'query'>;

const SETTING = 'setting:';
const PRIMARY_LABEL = 'primary';
const MAX = Number.MAX_SAFE_INTEGER;

const num = (v: unknown): number => Number(v ?? 0);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const json = <T>(s: unknown, fallback: T): T => {
  if (typeof s !== 'string') return fallback;
  try {
    return JSON.parse(s) as T;
  } catch {
    return fallback;
  }
};
const isUnique = (err: unknown): boolean => typeof err === 'object' && err !== null && (err as { code?: string }).code === '23505';

const toKey = (r: Row): KeyRecord => ({
  id: num(r.id),
  name: r.name as string,
  provider: r.provider as ProviderId,
  tokenHash: r.token_hash as string,
  tokenHint: r.token_hint as string,
  providerKeyEnc: r.provider_key_enc as string,
  baseUrl: (r.base_url as string | null) ?? null,
  createdAt: num(r.created_at),
});
const toBudget = (r: Row): BudgetRecord => ({
  id: num(r.id),
  name: r.name as string,
  scope: r.scope as BudgetRecord['scope'],
  keyId: numOrNull(r.key_id),
  capNanos: num(r.cap_nanos),
  period: r.period as Period,
  sessionCapNanos: numOrNull(r.session_cap_nanos),
  ceilingNanos: numOrNull(r.ceiling_nanos),
  mode: r.mode as BudgetMode,
  killed: r.killed === true,
  clamp: r.clamp === true,
  autotune: ((r.autotune as string | null) ?? 'off') as AutotuneMode,
  updatedAt: num(r.updated_at),
});
const toLedger = (r: Row): StoredLedgerRow => ({
  id: num(r.id),
  ts: num(r.ts),
  requestId: r.request_id as string,
  keyId: num(r.key_id),
  keyName: r.key_name as string,
  session: (r.session as string | null) ?? null,
  provider: r.provider as ProviderId,
  model: r.model as string,
  pricedAs: (r.priced_as as string | null) ?? null,
  priceEstimated: r.price_estimated === true,
  inputTokens: num(r.input_tokens),
  outputTokens: num(r.output_tokens),
  cacheReadTokens: num(r.cache_read_tokens),
  cacheWrite5mTokens: num(r.cache_write_5m_tokens),
  cacheWrite1hTokens: num(r.cache_write_1h_tokens),
  costNanos: num(r.cost_nanos),
  outcome: r.outcome as Outcome,
  usageSource: r.usage_source as LedgerRow['usageSource'],
  status: numOrNull(r.status),
  durationMs: num(r.duration_ms),
  detail: (r.detail as string | null) ?? null,
  providerCostNanos: numOrNull(r.provider_cost_nanos),
  meteredCostNanos: numOrNull(r.metered_cost_nanos),
  tag: (r.tag as string | null) ?? null,
});
const toHold = (r: Row): HoldRecord => ({
  id: r.id as string,
  ts: num(r.ts),
  keyId: num(r.key_id),
  keyName: r.key_name as string,
  session: (r.session as string | null) ?? null,
  provider: r.provider as ProviderId,
  model: r.model as string,
  amountNanos: num(r.amount_nanos),
  tag: (r.tag as string | null) ?? null,
});
const toEvent = (r: Row): EventRecord => ({
  id: num(r.id),
  ts: num(r.ts),
  kind: r.kind as string,
  budget: (r.budget as string | null) ?? null,
  channel: r.channel as EventChannel,
  capBeforeNanos: numOrNull(r.cap_before_nanos),
  capAfterNanos: numOrNull(r.cap_after_nanos),
  detail: (r.detail as string | null) ?? null,
});
const toToken = (r: Row): TokenRecord => ({ id: num(r.id), keyId: num(r.key_id), label: r.label as string, tokenHint: r.token_hint as string, createdAt: num(r.created_at), revokedAt: numOrNull(r.revoked_at) });
const toConnection = (r: Row): AgentConnection => ({
  agent: r.agent as string,
  keyName: r.key_name as string,
  tokenId: numOrNull(r.token_id),
  url: r.url as string,
  files: JSON.parse(r.files as string) as ConnectedFile[],
  connectedAt: num(r.connected_at),
});
const toChannel = (r: Row): ChannelRow => ({
  name: r.name as string,
  kind: r.kind as string,
  budgets: json(r.budgets, [] as string[]),
  events: json(r.events, [] as string[]),
  settings: json(r.settings, {}),
  secretsEnc: (r.secrets_enc as string | null) ?? null,
  createdAt: num(r.created_at),
  testedAt: numOrNull(r.tested_at),
  testOk: r.test_ok === null || r.test_ok === undefined ? null : r.test_ok === true,
  testDetail: (r.test_detail as string | null) ?? null,
});
const toOutbox = (r: Row): OutboxRow => ({
  id: r.id as string,
  channel: r.channel as string,
  dedupeKey: r.dedupe_key as string,
  kind: r.kind as string,
  budget: r.budget as string,
  alert: r.alert as string,
  count: num(r.count),
  state: r.state as OutboxState,
  attempts: num(r.attempts),
  nextAttemptAt: num(r.next_attempt_at),
  lastError: (r.last_error as string | null) ?? null,
  messageRef: (r.message_ref as string | null) ?? null,
  needsUpdate: r.needs_update === true,
  createdAt: num(r.created_at),
  updatedAt: num(r.updated_at),
  sentAt: numOrNull(r.sent_at),
});
const toAsk = (r: Row): AskRow => ({
  id: r.id as string,
  budget: r.budget as string,
  keyName: (r.key_name as string | null) ?? null,
  addNanos: num(r.add_nanos),
  state: r.state as AskState,
  createdAt: num(r.created_at),
  expiresAt: num(r.expires_at),
  decidedBy: (r.decided_by as string | null) ?? null,
  decidedAt: numOrNull(r.decided_at),
});
const toBudgetSettings = (r: Row): BudgetAlertSettings => ({
  budget: r.budget as string,
  ask: r.ask === true,
  askTimeoutS: numOrNull(r.ask_timeout_s),
  thresholds: r.thresholds === null ? null : json(r.thresholds, null as number[] | null),
});

const LEDGER_COLUMNS = `ts, request_id, key_id, key_name, session, provider, model, priced_as, price_estimated, input_tokens, output_tokens,
  cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cost_nanos, outcome, usage_source, status, duration_ms, detail,
  provider_cost_nanos, metered_cost_nanos, tag, instance_id`;
const LEDGER_VALUES = Array.from({ length: 24 }, (_, i) => `$${i + 1}`).join(', ');
const ledgerParams = (r: LedgerRow, instanceId: string): unknown[] => [
  r.ts,
  r.requestId,
  r.keyId,
  r.keyName,
  r.session,
  r.provider,
  r.model,
  r.pricedAs,
  r.priceEstimated,
  r.inputTokens,
  r.outputTokens,
  r.cacheReadTokens,
  r.cacheWrite5mTokens,
  r.cacheWrite1hTokens,
  r.costNanos,
  r.outcome,
  r.usageSource,
  r.status,
  r.durationMs,
  r.detail,
  r.providerCostNanos ?? null,
  r.meteredCostNanos ?? null,
  r.tag ?? null,
  instanceId,
];

/** Builds `$n` placeholders as values are pushed: WHERE clauses assembled from optional filters. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

function filterWhere(f: SpendFilter | undefined, p: Params): string {
  if (f === undefined || f === 'all') return '';
  if ('keyId' in f) return ` AND key_id = ${p.add(f.keyId)}`;
  return ` AND tag = ${p.add(f.tag)}`;
}

function windowWhere(w: LedgerWindow, column: 'ts' | 'day_start', p: Params): string {
  let where = `${column} >= ${p.add(w.since)} AND ${column} < ${p.add(w.until ?? MAX)}`;
  if (w.keyName !== undefined) where += ` AND key_name = ${p.add(w.keyName)}`;
  return where + filterWhere(w.filter, p);
}

export interface PostgresStoreOptions {
  /** Holds are this instance's (team.ts): a restart lists and settles its own, never another's. */
  instanceId?: string;
  poolSize?: number;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly pool: pg.Pool;
  readonly instanceId: string;
  readonly #pending = new Set<Promise<unknown>>();
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

  /** Opens a pool and migrates the database to the newest version. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const pool = openPool(url, opts.poolSize ?? 4);
    try {
      await migrate(pool);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return new PostgresStore(pool, opts.instanceId ?? 'local');
  }

  private constructor(pool: pg.Pool, instanceId: string) {
    this.pool = pool;
    this.instanceId = instanceId;
    // Every statement in flight, so that flush() can wait for the writes queued before it.
    const pending = this.#pending;
    const track = <T>(p: Promise<T>): Promise<T> => {
      pending.add(p);
      void p.then(
        () => pending.delete(p),
        () => pending.delete(p),
      );
      return p;
    };
    const db: Q = { query: ((sql: string, params?: unknown[]) => track(pool.query(sql, params))) as Q['query'] };
    const all = async (sql: string, params: unknown[] = [], q: Q = db): Promise<Row[]> => (await q.query<Row>(sql, params)).rows;
    const one = async (sql: string, params: unknown[] = [], q: Q = db): Promise<Row | undefined> => (await all(sql, params, q))[0];
    const count = async (sql: string, params: unknown[] = [], q: Q = db): Promise<number> => (await q.query(sql, params)).rowCount ?? 0;
    const tx = <T>(f: (c: pg.PoolClient) => Promise<T>): Promise<T> => track(inTx(f));
    const inTx = async <T>(f: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const out = await f(c);
        await c.query('COMMIT');
        return out;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
    };
    const insertEvent = async (e: NewEvent, q: Q = db): Promise<EventRecord> => {
      const r = await one(
        'INSERT INTO events (ts, kind, budget, channel, cap_before_nanos, cap_after_nanos, detail) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id',
        [e.ts, e.kind, e.budget, e.channel, e.capBeforeNanos, e.capAfterNanos, e.detail],
        q,
      );
      return { id: num(r?.id), ...e };
    };
    const ev = async (e: NewEvent | undefined, q: Q): Promise<EventRecord | null> => (e === undefined ? null : insertEvent(e, q));
    const budgetByName = async (name: string, q: Q = db): Promise<BudgetRecord | undefined> => {
      const r = await one('SELECT * FROM budgets WHERE name = $1', [name], q);
      return r && toBudget(r);
    };
    const budgetForUpdate = async (name: string, q: Q): Promise<BudgetRecord | undefined> => {
      const r = await one('SELECT * FROM budgets WHERE name = $1 FOR UPDATE', [name], q);
      return r && toBudget(r);
    };
    const prunedBefore = async (q: Q = db): Promise<number> => num((await one("SELECT v FROM meta WHERE k = 'pruned_before'", [], q))?.v);
    const setMeta = async (k: string, v: string, q: Q = db): Promise<void> => {
      await q.query('INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v', [k, v]);
    };
    const adoptPrimary = async (keyId: number, q: Q): Promise<void> => {
      await q.query(
        `INSERT INTO key_tokens (key_id, label, token_hash, token_hint, created_at, revoked_at)
         SELECT id, $1, token_hash, token_hint, created_at, NULL FROM keys WHERE id = $2 ON CONFLICT (token_hash) DO NOTHING`,
        [PRIMARY_LABEL, keyId],
      );
    };
    const listTokens = async (keyId: number, q: Q): Promise<TokenRecord[]> => {
      await adoptPrimary(keyId, q);
      return (await all('SELECT * FROM key_tokens WHERE key_id = $1 ORDER BY id', [keyId], q)).map(toToken);
    };
    const insertBudget = async (
      b: { name: string; scope: string; keyId: number | null; capNanos: number; period: string; sessionCapNanos: number | null; ceilingNanos: number | null; mode: string; clamp: boolean; autotune: string; updatedAt: number },
      q: Q,
    ): Promise<void> => {
      await q.query(
        `INSERT INTO budgets (name, scope, key_id, cap_nanos, period, session_cap_nanos, ceiling_nanos, mode, killed, clamp, autotune, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9, $10, $11)`,
        [b.name, b.scope, b.keyId, b.capNanos, b.period, b.sessionCapNanos, b.ceilingNanos, b.mode, b.clamp, b.autotune, b.updatedAt],
      );
    };
    const markSent = async (id: string, ref: string | null, at: number, next: number, q: Q = db): Promise<void> => {
      await q.query(
        "UPDATE alert_outbox SET state = 'sent', message_ref = COALESCE($1, message_ref), sent_at = $2, needs_update = false, last_error = NULL, attempts = 0, next_attempt_at = $3 WHERE id = $4",
        [ref, at, next, id],
      );
    };

    this.keys = {
      create: async (key, budget, event) => {
        try {
          return await tx(async (c) => {
            if ((await budgetByName(key.name, c)) !== undefined) throw new StoreError('E_EXISTS', `a key or budget named "${key.name}" already exists`);
            const r = await one(
              `INSERT INTO keys (name, provider, token_hash, token_hint, provider_key_enc, base_url, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
              [key.name, key.provider, key.tokenHash, key.tokenHint, key.providerKeyEnc, key.baseUrl, key.createdAt],
              c,
            );
            const id = num(r?.id);
            await insertBudget(
              {
                name: key.name,
                scope: 'key',
                keyId: id,
                capNanos: budget.capNanos,
                period: budget.period,
                sessionCapNanos: budget.sessionCapNanos,
                ceilingNanos: budget.ceilingNanos,
                mode: budget.mode,
                clamp: budget.clamp ?? false,
                autotune: budget.autotune ?? 'off',
                updatedAt: budget.updatedAt,
              },
              c,
            );
            await ev(event, c);
            return { ...key, id };
          });
        } catch (err) {
          if (isUnique(err)) throw new StoreError('E_EXISTS', `a key named "${key.name}" already exists`);
          throw err;
        }
      },
      byName: async (name) => {
        const r = await one('SELECT * FROM keys WHERE name = $1', [name]);
        return r && toKey(r);
      },
      list: async () => (await all('SELECT * FROM keys ORDER BY name')).map(toKey),
      remove: (name, event) =>
        tx(async (c) => {
          if ((await count('DELETE FROM keys WHERE name = $1', [name], c)) === 0) throw new StoreError('E_NOT_FOUND', `no key named "${name}" (see: spendcap key list)`);
          await ev(event, c);
        }),
    };

    this.tokens = {
      live: async () =>
        (
          await all(
            `SELECT k.id AS key_id, k.token_hash, NULL AS session, NULL AS budget FROM keys k
              WHERE NOT EXISTS (SELECT 1 FROM key_tokens t WHERE t.token_hash = k.token_hash)
             UNION ALL SELECT key_id, token_hash, session, budget FROM key_tokens WHERE revoked_at IS NULL`,
          )
        ).map((r) => ({ keyId: num(r.key_id), tokenHash: r.token_hash as string, session: (r.session as string | null) ?? null, budget: (r.budget as string | null) ?? null })),
      insert: (t) =>
        tx(async (c) => {
          await adoptPrimary(t.keyId, c);
          const r = await one(
            'INSERT INTO key_tokens (key_id, label, token_hash, token_hint, created_at, session, budget) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *',
            [t.keyId, t.label, t.tokenHash, t.tokenHint, t.createdAt, t.session ?? null, t.budget ?? null],
            c,
          );
          return toToken(r!);
        }),
      list: (keyId) => tx((c) => listTokens(keyId, c)),
      revoke: (keyId, idOrLabel, at) =>
        tx(async (c) => {
          const tokens = await listTokens(keyId, c);
          const byId = /^\d+$/.test(idOrLabel) ? tokens.filter((t) => t.id === Number(idOrLabel)) : [];
          const matches = byId.length > 0 ? byId : tokens.filter((t) => t.label === idOrLabel && t.revokedAt === null);
          if (matches.length === 0) throw new StoreError('E_NOT_FOUND', `no live token "${idOrLabel}" on this key (see: spendcap key tokens NAME)`);
          if (matches.length > 1) throw new StoreError('E_INVALID', `${matches.length} live tokens are labelled "${idOrLabel}"; name one by its id (see: spendcap key tokens NAME)`);
          const t = matches[0]!;
          if (t.revokedAt !== null) throw new StoreError('E_INVALID', `token ${t.id} ("${t.label}") was already revoked`);
          await c.query('UPDATE key_tokens SET revoked_at = $1 WHERE id = $2', [at, t.id]);
          return { ...t, revokedAt: at };
        }),
      revokeId: async (tokenId, at) => {
        await db.query('UPDATE key_tokens SET revoked_at = $1 WHERE id = $2', [at, tokenId]);
      },
    };

    this.connections = {
      save: async (c) => {
        await db.query(
          `INSERT INTO agent_connections (agent, key_name, token_id, url, files, connected_at) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (agent) DO UPDATE SET key_name = EXCLUDED.key_name, token_id = EXCLUDED.token_id, url = EXCLUDED.url, files = EXCLUDED.files, connected_at = EXCLUDED.connected_at`,
          [c.agent, c.keyName, c.tokenId, c.url, JSON.stringify(c.files), c.connectedAt],
        );
      },
      get: async (agent) => {
        const r = await one('SELECT * FROM agent_connections WHERE agent = $1', [agent]);
        return r && toConnection(r);
      },
      list: async () => (await all('SELECT * FROM agent_connections ORDER BY agent')).map(toConnection),
      remove: async (agent) => {
        await db.query('DELETE FROM agent_connections WHERE agent = $1', [agent]);
      },
    };

    this.budgets = {
      list: async () => (await all('SELECT * FROM budgets ORDER BY name')).map(toBudget),
      byName: (name) => budgetByName(name),
      create: async (b, event) => {
        try {
          return await tx(async (c) => {
            if ((await budgetByName(b.name, c)) !== undefined || (await one('SELECT 1 FROM keys WHERE name = $1', [b.name], c)) !== undefined) {
              throw new StoreError('E_EXISTS', `a key or budget named "${b.name}" already exists (see: spendcap budget list)`);
            }
            const ts = event.ts ?? Date.now();
            await insertBudget({ ...b, updatedAt: ts }, c);
            const after = (await budgetByName(b.name, c))!;
            const e = await insertEvent({ ts, kind: 'budget-add', budget: b.name, channel: event.channel, capBeforeNanos: null, capAfterNanos: after.capNanos, detail: event.detail ?? null }, c);
            return { after, event: e };
          });
        } catch (err) {
          if (isUnique(err)) throw new StoreError('E_EXISTS', `a key or budget named "${b.name}" already exists (see: spendcap budget list)`);
          throw err;
        }
      },
      remove: (name, event) =>
        tx(async (c) => {
          const before = await budgetForUpdate(name, c);
          if (before === undefined) throw new StoreError('E_NOT_FOUND', `no budget named "${name}" (see: spendcap budget list)`);
          if (before.scope === 'key') throw new StoreError('E_INVALID', `"${name}" is a key's budget; remove the key instead: spendcap key rm ${name}`);
          await c.query('DELETE FROM budgets WHERE name = $1', [name]);
          const e = await insertEvent({ ts: event.ts ?? Date.now(), kind: 'budget-rm', budget: name, channel: event.channel, capBeforeNanos: before.capNanos, capAfterNanos: null, detail: event.detail ?? null }, c);
          return { before, event: e };
        }),
      change: (name, change, event) =>
        tx(async (c) => {
          // FOR UPDATE: two instances lifting at once both count (read-change-write is serialised per row).
          const before = await budgetForUpdate(name, c);
          if (before === undefined) throw new StoreError('E_NOT_FOUND', `no key or budget named "${name}" (see: spendcap status)`);
          const after = { ...change(before), updatedAt: event.ts ?? Date.now() };
          await c.query(
            `UPDATE budgets SET cap_nanos = $1, period = $2, session_cap_nanos = $3, ceiling_nanos = $4, mode = $5, killed = $6, clamp = $7, autotune = $8, updated_at = $9 WHERE id = $10`,
            [after.capNanos, after.period, after.sessionCapNanos, after.ceilingNanos, after.mode, after.killed, after.clamp, after.autotune, after.updatedAt, after.id],
          );
          const detail = typeof event.detail === 'function' ? event.detail(before, after) : (event.detail ?? null);
          const e = await insertEvent({ ts: after.updatedAt, kind: event.kind, budget: name, channel: event.channel, capBeforeNanos: before.capNanos, capAfterNanos: after.capNanos, detail }, c);
          return { before, after, event: e };
        }),
    };

    this.holds = {
      insert: async (h) => {
        await db.query('INSERT INTO holds (id, ts, key_id, key_name, session, provider, model, amount_nanos, tag, instance_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)', [
          h.id,
          h.ts,
          h.keyId,
          h.keyName,
          h.session,
          h.provider,
          h.model,
          h.amountNanos,
          h.tag ?? null,
          instanceId,
        ]);
      },
      update: async (id, amount, model) => {
        await db.query('UPDATE holds SET amount_nanos = $1, model = $2 WHERE id = $3 AND instance_id = $4', [amount, model, id, instanceId]);
      },
      // Only this instance's: another instance's holds are live until its lease expires (team.ts reclaims them).
      list: async () => (await all('SELECT * FROM holds WHERE instance_id = $1 ORDER BY ts, id', [instanceId])).map(toHold),
      settle: async (holdId, row) => {
        const r = await one(`WITH d AS (DELETE FROM holds WHERE id = $25) INSERT INTO ledger (${LEDGER_COLUMNS}) VALUES (${LEDGER_VALUES}) RETURNING id`, [...ledgerParams(row, instanceId), holdId]);
        return num(r?.id);
      },
    };

    this.ledger = {
      insert: async (row) => num((await one(`INSERT INTO ledger (${LEDGER_COLUMNS}) VALUES (${LEDGER_VALUES}) RETURNING id`, ledgerParams(row, instanceId)))?.id),
      page: async (limit, offset = 0) => (await all('SELECT * FROM ledger ORDER BY id DESC LIMIT $1 OFFSET $2', [limit, offset])).map(toLedger),
      search: async (f) => {
        const p = new Params();
        let where = `ts >= ${p.add(f.since ?? 0)} AND ts < ${p.add(f.until ?? MAX)}`;
        if (f.key !== undefined) where += ` AND key_name = ${p.add(f.key)}`;
        if (f.outcome !== undefined) where += ` AND outcome = ${p.add(f.outcome)}`;
        const total = num((await one(`SELECT count(*) AS n FROM ledger WHERE ${where}`, p.values))?.n);
        const rows = (await all(`SELECT * FROM ledger WHERE ${where} ORDER BY id DESC LIMIT ${p.add(f.limit)} OFFSET ${p.add(f.offset)}`, p.values)).map(toLedger);
        return { total, rows };
      },
      since: async (sinceMs) => (await all('SELECT * FROM ledger WHERE ts >= $1 ORDER BY id', [sinceMs])).map(toLedger),
      spentSince: async (filter, sinceMs) => {
        const p = new Params();
        const where = `ts >= ${p.add(sinceMs)}${filterWhere(filter, p)}`;
        let s = num((await one(`SELECT COALESCE(sum(cost_nanos), 0) AS s FROM ledger WHERE ${where}`, p.values))?.s);
        if (sinceMs < (await prunedBefore())) {
          const d = new Params();
          s += num((await one(`SELECT COALESCE(sum(cost_nanos), 0) AS s FROM daily_totals WHERE day_start >= ${d.add(sinceMs)}${filterWhere(filter, d)}`, d.values))?.s);
        }
        return s;
      },
      spentBySession: async (keyId, session) => num((await one('SELECT COALESCE(sum(cost_nanos), 0) AS s FROM ledger WHERE key_id = $1 AND session = $2', [keyId, session]))?.s),
      sessionsOfKey: async (keyId, limit) =>
        (await all('SELECT session, COALESCE(sum(cost_nanos), 0) AS s, max(ts) AS last FROM ledger WHERE key_id = $1 AND session IS NOT NULL GROUP BY session ORDER BY last DESC LIMIT $2', [keyId, limit])).map(
          (r) => ({ session: r.session as string, spentNanos: num(r.s), lastTs: num(r.last) }),
        ),
      keySessions: async (keyId, sinceMs, limit) =>
        (
          await all(
            `SELECT s.session, s.requests, s.spent, l.ts AS last_ts, l.outcome AS last_outcome FROM (
               SELECT session, count(*) AS requests, COALESCE(sum(cost_nanos), 0) AS spent, max(id) AS last_id
                 FROM ledger WHERE key_id = $1 AND session IS NOT NULL GROUP BY session) s
             JOIN ledger l ON l.id = s.last_id WHERE l.ts >= $2 ORDER BY s.last_id DESC LIMIT $3`,
            [keyId, sinceMs, limit],
          )
        ).map((r) => ({ session: r.session as string, requests: num(r.requests), spentNanos: num(r.spent), lastTs: num(r.last_ts), lastOutcome: (r.last_outcome as string | null) ?? null })),
      costRows: async (filter, from, to) => {
        const p = new Params();
        const where = `ts >= ${p.add(from)} AND ts < ${p.add(to)}${filterWhere(filter, p)}`;
        return (await all(`SELECT ts, cost_nanos FROM ledger WHERE ${where} ORDER BY ts, id`, p.values)).map((r) => ({ ts: num(r.ts), costNanos: num(r.cost_nanos) }));
      },
      estimatedCount: async (filter, sinceMs) => {
        const p = new Params();
        return num((await one(`SELECT count(*) AS n FROM ledger WHERE ts >= ${p.add(sinceMs)} AND price_estimated${filterWhere(filter, p)}`, p.values))?.n);
      },
      byModel: async (w) => {
        const p = new Params();
        const rows = await all(
          `SELECT provider, model, count(*) AS requests, sum(input_tokens) AS i, sum(output_tokens) AS o, sum(cost_nanos) AS c FROM ledger WHERE ${windowWhere(w, 'ts', p)} GROUP BY provider, model`,
          p.values,
        );
        const d = new Params();
        rows.push(
          ...(await all(
            `SELECT provider, model, sum(requests) AS requests, sum(input_tokens) AS i, sum(output_tokens) AS o, sum(cost_nanos) AS c FROM daily_totals WHERE ${windowWhere(w, 'day_start', d)} GROUP BY provider, model`,
            d.values,
          )),
        );
        return mergeModels(rows.map((r): ModelSpend => ({ provider: r.provider as string, model: r.model as string, requests: num(r.requests), inputTokens: num(r.i), outputTokens: num(r.o), costNanos: num(r.c) })));
      },
      outcomes: async (w) => {
        const p = new Params();
        const out: Record<string, number> = {};
        for (const r of await all(`SELECT outcome, count(*) AS n FROM ledger WHERE ${windowWhere(w, 'ts', p)} GROUP BY outcome`, p.values)) out[r.outcome as string] = num(r.n);
        return out;
      },
      buckets: async (w, bucketMs) => {
        const p = new Params();
        const b = p.add(bucketMs);
        return (
          await all(`SELECT floor(ts::numeric / ${b}) AS q, COALESCE(key_name, '') AS k, model AS m, count(*) AS n, sum(cost_nanos) AS c FROM ledger WHERE ${windowWhere(w, 'ts', p)} GROUP BY q, k, m`, p.values)
        ).map((r) => ({ start: num(r.q) * bucketMs, keyName: r.k as string, model: r.m as string, requests: num(r.n), costNanos: num(r.c) }));
      },
      modelsInUse: async (sinceMs, limit) => {
        const rows = (await all('SELECT provider, model, max(ts) AS last FROM ledger WHERE ts >= $1 GROUP BY provider, model ORDER BY last DESC LIMIT $2', [sinceMs, limit])).map((r) => ({
          provider: r.provider as string,
          model: r.model as string,
          lastTs: num(r.last),
        }));
        if (rows.length < limit) {
          const seen = new Set(rows.map((r) => `${r.provider}\u0000${r.model}`));
          const folded = await all('SELECT provider, model, max(day_start) AS last FROM daily_totals WHERE day_start >= $1 GROUP BY provider, model ORDER BY last DESC LIMIT $2', [sinceMs, limit]);
          for (const r of folded) {
            if (rows.length < limit && !seen.has(`${r.provider as string}\u0000${r.model as string}`)) rows.push({ provider: r.provider as string, model: r.model as string, lastTs: num(r.last) });
          }
        }
        return rows;
      },
      metrics: async (bucketsS) => {
        const requests = (await all('SELECT key_name, provider, outcome, count(*) AS n, sum(cost_nanos) AS c FROM ledger GROUP BY key_name, provider, outcome ORDER BY key_name, provider, outcome')).map((r) => ({
          key: r.key_name as string,
          provider: r.provider as string,
          outcome: r.outcome as string,
          count: num(r.n),
          costNanos: num(r.c),
        }));
        const cols = bucketsS.map((s, i) => `sum(CASE WHEN duration_ms <= ${Math.round(s * 1000)} THEN 1 ELSE 0 END) AS b${i}`).join(', ');
        const row = (await one(`SELECT ${cols}${cols ? ',' : ''} count(*) AS n, COALESCE(sum(duration_ms), 0) AS s FROM ledger WHERE outcome <> 'blocked'`)) ?? {};
        return { requests, duration: { buckets: bucketsS.map((_, i) => num(row[`b${i}`])), count: num(row.n), sumMs: num(row.s) } };
      },
      providerRows: async (provider, sinceMs) => (await all("SELECT * FROM ledger WHERE provider = $1 AND ts >= $2 AND outcome <> 'blocked' ORDER BY id", [provider, sinceMs])).map(toLedger),
      correct: (list, events, meta) =>
        tx(async (c) => {
          const applied: number[] = [];
          for (const x of list) {
            const n = await count('UPDATE ledger SET cost_nanos = $1, provider_cost_nanos = $1, metered_cost_nanos = COALESCE(metered_cost_nanos, cost_nanos) WHERE id = $2 AND cost_nanos = $3', [x.toNanos, x.rowId, x.fromNanos], c);
            if (n > 0) applied.push(x.rowId);
          }
          if (applied.length > 0) {
            for (const e of events(applied)) await insertEvent(e, c);
            await setMeta(meta.key, meta.value, c);
          }
          return applied;
        }),
      estimatedAfter: async (afterId, limit) =>
        (await all('SELECT id, key_name, model, tag FROM ledger WHERE id > $1 AND price_estimated ORDER BY id LIMIT $2', [afterId, limit])).map((r) => ({
          id: num(r.id),
          keyName: r.key_name as string,
          model: r.model as string,
          tag: (r.tag as string | null) ?? null,
        })),
      maxId: async () => num((await one('SELECT COALESCE(max(id), 0) AS m FROM ledger'))?.m),
    };

    this.daily = {
      totals: async (filter, from, to) => {
        const p = new Params();
        const where = `day_start >= ${p.add(from)} AND day_start < ${p.add(to)}${filterWhere(filter, p)}`;
        return (await all(`SELECT day, min(day_start) AS ds, sum(cost_nanos) AS c FROM daily_totals WHERE ${where} GROUP BY day ORDER BY ds`, p.values)).map((r) => ({
          day: r.day as string,
          dayStart: num(r.ds),
          costNanos: num(r.c),
        }));
      },
      byDay: async (w) => {
        const p = new Params();
        return (await all(`SELECT day, key_name AS k, model AS m, sum(requests) AS n, sum(cost_nanos) AS c FROM daily_totals WHERE ${windowWhere(w, 'day_start', p)} GROUP BY day, k, m ORDER BY day`, p.values)).map(
          (r) => ({ day: r.day as string, keyName: r.k as string, model: r.m as string, requests: num(r.n), costNanos: num(r.c) }),
        );
      },
      list: async () =>
        (await all('SELECT * FROM daily_totals ORDER BY day_start, key_id, tag, model')).map((r) => ({
          day: r.day as string,
          dayStart: num(r.day_start),
          keyId: num(r.key_id),
          keyName: r.key_name as string,
          tag: (r.tag as string) === '' ? null : (r.tag as string),
          provider: r.provider as string,
          model: r.model as string,
          requests: num(r.requests),
          inputTokens: num(r.input_tokens),
          outputTokens: num(r.output_tokens),
          costNanos: num(r.cost_nanos),
        })),
      prune: (beforeMs, dayOf) =>
        tx(async (c) => {
          // One pruner at a time across instances: the meta row is the lock.
          await c.query("INSERT INTO meta (k, v) VALUES ('pruned_before', '0') ON CONFLICT DO NOTHING");
          const lock = await one("SELECT v FROM meta WHERE k = 'pruned_before' FOR UPDATE", [], c);
          if (beforeMs <= num(lock?.v)) return 0;
          const groups = new Map<string, { day: string; dayStart: number; keyId: number; keyName: string; tag: string; provider: string; model: string; n: number; i: number; o: number; c: number }>();
          for (const r of await all('SELECT ts, key_id, key_name, tag, provider, model, input_tokens, output_tokens, cost_nanos FROM ledger WHERE ts < $1 ORDER BY ts', [beforeMs], c)) {
            const d = dayOf(num(r.ts));
            const tag = (r.tag as string | null) ?? '';
            const k = `${d.day}\u0000${num(r.key_id)}\u0000${tag}\u0000${r.model as string}`;
            let g = groups.get(k);
            if (!g) {
              g = { day: d.day, dayStart: d.dayStart, keyId: num(r.key_id), keyName: r.key_name as string, tag, provider: r.provider as string, model: r.model as string, n: 0, i: 0, o: 0, c: 0 };
              groups.set(k, g);
            }
            g.n++;
            g.i += num(r.input_tokens);
            g.o += num(r.output_tokens);
            g.c += num(r.cost_nanos);
          }
          for (const g of groups.values()) {
            await c.query(
              `INSERT INTO daily_totals (day, day_start, key_id, key_name, tag, provider, model, requests, input_tokens, output_tokens, cost_nanos)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
               ON CONFLICT (day, key_id, tag, model) DO UPDATE SET requests = daily_totals.requests + EXCLUDED.requests,
                 input_tokens = daily_totals.input_tokens + EXCLUDED.input_tokens, output_tokens = daily_totals.output_tokens + EXCLUDED.output_tokens,
                 cost_nanos = daily_totals.cost_nanos + EXCLUDED.cost_nanos`,
              [g.day, g.dayStart, g.keyId, g.keyName, g.tag, g.provider, g.model, g.n, g.i, g.o, g.c],
            );
          }
          const n = await count('DELETE FROM ledger WHERE ts < $1', [beforeMs], c);
          await setMeta('pruned_before', String(beforeMs), c);
          return n;
        }),
      prunedBefore: () => prunedBefore(),
    };

    this.events = {
      insert: (e) => insertEvent(e),
      list: async (limit, o = {}) => {
        const p = new Params();
        let where = `ts >= ${p.add(o.sinceMs ?? 0)}`;
        if (o.budget !== undefined) where += ` AND budget = ${p.add(o.budget)}`;
        return (await all(`SELECT * FROM events WHERE ${where} ORDER BY id DESC LIMIT ${p.add(limit)}`, p.values)).map(toEvent);
      },
      search: async (f) => {
        const p = new Params();
        let where = `ts >= ${p.add(f.since ?? 0)} AND ts < ${p.add(f.until ?? MAX)}`;
        if (f.budget !== undefined) where += ` AND budget = ${p.add(f.budget)}`;
        if (f.kind !== undefined) where += ` AND kind = ${p.add(f.kind)}`;
        if (f.channel !== undefined) where += ` AND channel = ${p.add(f.channel)}`;
        const total = num((await one(`SELECT count(*) AS n FROM events WHERE ${where}`, p.values))?.n);
        const rows = (await all(`SELECT * FROM events WHERE ${where} ORDER BY id DESC LIMIT ${p.add(f.limit)} OFFSET ${p.add(f.offset)}`, p.values)).map(toEvent);
        return { total, rows };
      },
      after: async (afterId, limit) => (await all('SELECT * FROM events WHERE id > $1 ORDER BY id LIMIT $2', [afterId, limit])).map(toEvent),
      maxId: async () => num((await one('SELECT COALESCE(max(id), 0) AS m FROM events'))?.m),
    };

    this.thresholds = {
      mark: (budgetId, periodStart, pct, ts, event) =>
        tx(async (c) => {
          const first = (await count('INSERT INTO threshold_marks (budget_id, period_start, pct, ts) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [budgetId, periodStart, pct, ts], c)) > 0;
          if (first) await ev(event, c);
          return first;
        }),
      maxFired: async (budgetId, periodStart) => num((await one('SELECT COALESCE(max(pct), 0) AS m FROM threshold_marks WHERE budget_id = $1 AND period_start = $2', [budgetId, periodStart]))?.m),
    };

    this.settings = {
      get: async (key) => ((await one('SELECT v FROM meta WHERE k = $1', [SETTING + key]))?.v as string | undefined) ?? null,
      all: async () => {
        const out: Record<string, string> = {};
        for (const r of await all("SELECT k, v FROM meta WHERE k LIKE 'setting:%'")) out[(r.k as string).slice(SETTING.length)] = r.v as string;
        return out;
      },
      set: (values, event) =>
        tx(async (c) => {
          for (const [k, v] of Object.entries(values)) {
            if (v === null) await c.query('DELETE FROM meta WHERE k = $1', [SETTING + k]);
            else await setMeta(SETTING + k, v, c);
          }
          return ev(event, c);
        }),
      getMeta: async (key) => ((await one('SELECT v FROM meta WHERE k = $1', [key]))?.v as string | undefined) ?? null,
      setMeta: (key, value) => setMeta(key, value),
    };

    this.prices = {
      list: async () =>
        (await all('SELECT * FROM prices ORDER BY model')).map((r) => ({
          model: r.model as string,
          input: num(r.input),
          output: num(r.output),
          cacheRead: numOrNull(r.cache_read),
          cacheWrite: numOrNull(r.cache_write),
          updatedAt: num(r.updated_at),
        })),
      set: (p, event) =>
        tx(async (c) => {
          await c.query(
            `INSERT INTO prices (model, input, output, cache_read, cache_write, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (model) DO UPDATE SET input = EXCLUDED.input, output = EXCLUDED.output, cache_read = EXCLUDED.cache_read, cache_write = EXCLUDED.cache_write, updated_at = EXCLUDED.updated_at`,
            [p.model, p.input, p.output, p.cacheRead, p.cacheWrite, Date.now()],
          );
          await ev(event, c);
        }),
      remove: (model, event) =>
        tx(async (c) => {
          const had = (await count('DELETE FROM prices WHERE model = $1', [model], c)) > 0;
          if (had) await ev(event, c);
          return had;
        }),
    };

    this.sessions = {
      insertLink: (h, created, expires) =>
        tx(async (c) => {
          await c.query('DELETE FROM dashboard_links WHERE expires_at <= $1', [created]);
          await c.query('INSERT INTO dashboard_links (token_hash, created_at, expires_at) VALUES ($1, $2, $3)', [h, created, expires]);
        }),
      consumeLink: async (h, at) => {
        const r = await one('DELETE FROM dashboard_links WHERE token_hash = $1 RETURNING expires_at', [h]);
        return r !== undefined && num(r.expires_at) > at;
      },
      insertSession: (h, created, expires) =>
        tx(async (c) => {
          await c.query('DELETE FROM dashboard_sessions WHERE expires_at <= $1', [created]);
          await c.query('INSERT INTO dashboard_sessions (id_hash, created_at, expires_at) VALUES ($1, $2, $3)', [h, created, expires]);
        }),
      session: async (h, at) => {
        const r = await one('SELECT expires_at FROM dashboard_sessions WHERE id_hash = $1', [h]);
        return r !== undefined && num(r.expires_at) > at ? num(r.expires_at) : null;
      },
      removeSession: async (h) => (await count('DELETE FROM dashboard_sessions WHERE id_hash = $1', [h])) > 0,
    };

    this.alerts = {
      insertChannel: async (c) => {
        try {
          await db.query('INSERT INTO alert_channels (name, kind, budgets, events, settings, secrets_enc, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
            c.name,
            c.kind,
            JSON.stringify(c.budgets),
            JSON.stringify(c.events),
            JSON.stringify(c.settings),
            c.secretsEnc,
            c.createdAt,
          ]);
        } catch (err) {
          if (isUnique(err)) throw new StoreError('E_EXISTS', `an alert channel named "${c.name}" already exists; remove it (spendcap alerts rm ${c.name}) or pick another --name`);
          throw err;
        }
      },
      listChannels: async () => (await all('SELECT * FROM alert_channels ORDER BY created_at, name')).map(toChannel),
      channel: async (name) => {
        const r = await one('SELECT * FROM alert_channels WHERE name = $1', [name]);
        return r && toChannel(r);
      },
      deleteChannel: (name) =>
        tx(async (c) => {
          await c.query('DELETE FROM alert_outbox WHERE channel = $1', [name]);
          return (await count('DELETE FROM alert_channels WHERE name = $1', [name], c)) > 0;
        }),
      recordTest: async (name, ok, detail, ts) => {
        await db.query('UPDATE alert_channels SET tested_at = $1, test_ok = $2, test_detail = $3 WHERE name = $4', [ts, ok, detail, name]);
      },
      channelsVersion: async () => {
        const r = await one("SELECT count(*) AS n, COALESCE(string_agg(name || ':' || created_at || ':' || budgets || ':' || events, ',' ORDER BY name), '') AS s FROM alert_channels");
        return `${num(r?.n)}|${(r?.s as string) ?? ''}`;
      },
      enqueue: (row, mode) =>
        tx(async (c) => {
          const existing = await one('SELECT id, state FROM alert_outbox WHERE channel = $1 AND dedupe_key = $2 FOR UPDATE', [row.channel, row.dedupeKey], c);
          if (existing === undefined) {
            const n = await count(
              `INSERT INTO alert_outbox (id, channel, dedupe_key, kind, budget, alert, count, state, attempts, next_attempt_at, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, 1, 'pending', 0, $7, $7, $7) ON CONFLICT (channel, dedupe_key) DO NOTHING`,
              [row.id, row.channel, row.dedupeKey, row.kind, row.budget, row.alert, row.now],
              c,
            );
            // Another instance enqueued the same alert in the same moment: one row, as with one instance.
            return n > 0 ? 'new' : 'kept';
          }
          if (mode === 'once') return 'kept';
          await c.query(
            `UPDATE alert_outbox SET alert = $1, count = count + 1, updated_at = $2,
               needs_update = CASE WHEN state = 'sent' THEN true ELSE needs_update END,
               state = CASE WHEN state IN ('failed', 'superseded') THEN 'pending' ELSE state END,
               attempts = CASE WHEN state IN ('failed', 'superseded') THEN 0 ELSE attempts END,
               next_attempt_at = CASE WHEN state IN ('failed', 'superseded') THEN $2 ELSE next_attempt_at END
             WHERE id = $3`,
            [row.alert, row.now, existing.id],
          );
          return 'updated';
        }),
      outboxRow: async (id) => {
        const r = await one('SELECT * FROM alert_outbox WHERE id = $1', [id]);
        return r && toOutbox(r);
      },
      dueRows: async (at, limit) =>
        (await all("SELECT * FROM alert_outbox WHERE next_attempt_at <= $1 AND (state = 'pending' OR (state = 'sent' AND needs_update)) ORDER BY updated_at LIMIT $2", [at, limit])).map(toOutbox),
      markSent: (id, ref, at, next) => markSent(id, ref, at, next),
      markSentIfUnchanged: (id, ref, at, next, updatedAt) =>
        tx(async (c) => {
          await markSent(id, ref, at, next, c);
          await c.query("UPDATE alert_outbox SET needs_update = true WHERE id = $1 AND updated_at > $2 AND state = 'sent'", [id, updatedAt]);
        }),
      markRetry: async (id, attempts, next, error) => {
        await db.query('UPDATE alert_outbox SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4', [attempts, next, error, id]);
      },
      markFailed: async (id, attempts, error) => {
        await db.query("UPDATE alert_outbox SET state = CASE WHEN state = 'sent' THEN 'sent' ELSE 'failed' END, needs_update = false, attempts = $1, last_error = $2 WHERE id = $3", [attempts, error, id]);
      },
      supersede: async (ids) => {
        await db.query("UPDATE alert_outbox SET state = 'superseded' WHERE id = ANY($1::text[]) AND state = 'pending'", [[...ids]]);
      },
      recentOutbox: async (limit, channel) =>
        (channel === undefined
          ? await all('SELECT * FROM alert_outbox ORDER BY updated_at DESC LIMIT $1', [limit])
          : await all('SELECT * FROM alert_outbox WHERE channel = $1 ORDER BY updated_at DESC LIMIT $2', [channel, limit])
        ).map(toOutbox),
      pendingOf: async (channel) => (await all("SELECT * FROM alert_outbox WHERE channel = $1 AND state = 'pending' ORDER BY updated_at", [channel])).map(toOutbox),
      budgetSettings: async (budget) => {
        const r = await one('SELECT * FROM alert_budget WHERE budget = $1', [budget]);
        return r && toBudgetSettings(r);
      },
      allBudgetSettings: async () => (await all('SELECT * FROM alert_budget ORDER BY budget')).map(toBudgetSettings),
      setBudgetSettings: (budget, change) =>
        tx(async (c) => {
          const r = await one('SELECT * FROM alert_budget WHERE budget = $1 FOR UPDATE', [budget], c);
          const before = r ? toBudgetSettings(r) : { budget, ask: false, askTimeoutS: null, thresholds: null };
          const after: BudgetAlertSettings = {
            budget,
            ask: change.ask ?? before.ask,
            askTimeoutS: change.askTimeoutS !== undefined ? change.askTimeoutS : before.askTimeoutS,
            thresholds: change.thresholds !== undefined ? change.thresholds : before.thresholds,
          };
          await c.query(
            `INSERT INTO alert_budget (budget, ask, ask_timeout_s, thresholds) VALUES ($1, $2, $3, $4)
             ON CONFLICT (budget) DO UPDATE SET ask = EXCLUDED.ask, ask_timeout_s = EXCLUDED.ask_timeout_s, thresholds = EXCLUDED.thresholds`,
            [budget, after.ask, after.askTimeoutS, after.thresholds === null ? null : JSON.stringify(after.thresholds)],
          );
          return after;
        }),
      insertAsk: async (a) => {
        await db.query("INSERT INTO alert_asks (id, budget, key_name, add_nanos, state, created_at, expires_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6)", [
          a.id,
          a.budget,
          a.keyName,
          a.addNanos,
          a.createdAt,
          a.expiresAt,
        ]);
      },
      ask: async (id) => {
        const r = await one('SELECT * FROM alert_asks WHERE id = $1', [id]);
        return r && toAsk(r);
      },
      pendingAsks: async (at, budget) =>
        (budget === undefined
          ? await all("SELECT * FROM alert_asks WHERE state = 'pending' AND expires_at > $1 ORDER BY created_at", [at])
          : await all("SELECT * FROM alert_asks WHERE state = 'pending' AND expires_at > $1 AND budget = $2 ORDER BY created_at", [at, budget])
        ).map(toAsk),
      decideAsk: async (id, state, by, at) => (await count("UPDATE alert_asks SET state = $1, decided_by = $2, decided_at = $3 WHERE id = $4 AND state = 'pending'", [state, by, at, id])) > 0,
    };

    const toLink = (r: Row): ProviderKeyLink => ({ keyId: num(r.key_id), provider: r.provider as ProviderKeyLink['provider'], hash: r.hash as string, label: r.label as string, createdAt: num(r.created_at) });
    this.providerKeys = {
      saveAdmin: async (provider, keyEnc, hint, createdAt): Promise<AdminKeyInfo> => {
        await db.query(
          `INSERT INTO provider_admin_keys (provider, key_enc, hint, created_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (provider) DO UPDATE SET key_enc = EXCLUDED.key_enc, hint = EXCLUDED.hint, created_at = EXCLUDED.created_at`,
          [provider, keyEnc, hint, createdAt],
        );
        return { provider, hint, createdAt };
      },
      adminEnc: async (provider) => ((await one('SELECT key_enc FROM provider_admin_keys WHERE provider = $1', [provider]))?.key_enc as string | undefined) ?? null,
      listAdmin: async () =>
        (await all('SELECT provider, hint, created_at FROM provider_admin_keys ORDER BY provider')).map((r) => ({ provider: r.provider as AdminProvider, hint: r.hint as string, createdAt: num(r.created_at) })),
      removeAdmin: async (provider) => (await count('DELETE FROM provider_admin_keys WHERE provider = $1', [provider])) > 0,
      link: async (l) => {
        await db.query(
          `INSERT INTO provider_keys (key_id, provider, hash, label, created_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (key_id) DO UPDATE SET provider = EXCLUDED.provider, hash = EXCLUDED.hash, label = EXCLUDED.label, created_at = EXCLUDED.created_at`,
          [l.keyId, l.provider, l.hash, l.label, l.createdAt],
        );
      },
      linkOf: async (keyId) => {
        const r = await one('SELECT * FROM provider_keys WHERE key_id = $1', [keyId]);
        return r ? toLink(r) : null;
      },
      links: async () => (await all('SELECT * FROM provider_keys ORDER BY key_id')).map(toLink),
      unlink: async (keyId) => {
        await db.query('DELETE FROM provider_keys WHERE key_id = $1', [keyId]);
      },
    };

    this.changes = { version: async () => num((await one('SELECT v FROM change_feed'))?.v) };
  }

  /** Resolves once every statement sent before it has finished (each write is durable when its own Promise resolves). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
