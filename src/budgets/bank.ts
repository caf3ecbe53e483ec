import { randomUUID } from 'node:crypto';
import { formatUsd } from '../pricing/index.js';
import type { Nanos, ProviderId } from '../pricing/index.js';
import type { BudgetRecord, KeyRecord, LedgerRow, NewEvent, Store } from '../store/index.js';
import { commonRoom, findRefusal, reserve, release, settle } from './account.js';
import type { Account, Refusal } from './account.js';
import type { Allowance } from './allowance.js';
import { filterOf, runAutotune } from './autotune.js';
import { machineTimeZone, periodWindow } from './period.js';
import { pruneLedger } from './retention.js';
import { readSettings, timeZoneOf } from './settings.js';
import type { Settings } from './settings.js';
import { blockedDetail } from './render.js';
import type { BlockReason, UnknownTag } from './render.js';

/** Gives a key's provider API key in clear (src/keys: decrypted with the data dir's master key). */
export type ProviderKeyOpener = (record: KeyRecord) => string;

/** A token made for one run: its requests are `session` and also charge the tag budget `budget`. */
export interface TokenBinding {
  session: string | null;
  budget: string | null;
}

export interface KeyEntry {
  readonly record: KeyRecord;
  readonly providerKey: string;
  budget: BudgetRecord;
  account: Account;
}

/** A request's money in flight. Created by Bank.open, ended exactly once by Bank.settle. */
export interface Hold {
  readonly id: string;
  readonly key: KeyEntry;
  readonly session: string | null;
  readonly accounts: readonly Account[];
  readonly startedAt: number;
  /** The tag budget the request opted into, written on its ledger row. */
  readonly tag: string | null;
  model: string;
  amountNanos: Nanos;
  settled: boolean;
  /** Resolves once the hold is on disk: the request goes upstream only after it (a crash then still charges it). */
  readonly durable: Promise<void>;
  /** Set by the proxy: ends the request at once (kill). */
  onKill: ((account: Account) => void) | null;
}

const SESSION_IDLE_MS = 24 * 3600_000;
/** Team mode: how often a request may ask the database whether anything changed (budget changes come by NOTIFY at once). */
const TEAM_VERSION_MS = 200;
/** A burst of blocks or cuts on one budget logs one event per this long, not one per request. */
const EVENT_QUIET_MS = 60_000;
/** How often retention and auto-tune run in a server. */
const MAINTENANCE_MS = 3600_000;

/** Ledger fields of a row whose usage nobody reported (a refusal, a crash). */
const NO_USAGE = {
  pricedAs: null,
  priceEstimated: false,
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWrite5mTokens: 0,
  cacheWrite1hTokens: 0,
} as const;

/** A global or tag budget: one account shared by every request it covers. */
interface SharedEntry {
  budget: BudgetRecord;
  account: Account;
}

/**
 * The money side of a running server: keys and budgets loaded from the store, live accounts,
 * holds taken before a request goes upstream and settled into one ledger row at its end.
 * Everything here runs synchronously on the event loop, which is what makes a check across
 * several accounts plus the reservation atomic.
 */
export class Bank {
  readonly #store: Store;
  readonly #openKey: ProviderKeyOpener;
  readonly #now: () => number;
  #byHash = new Map<string, KeyEntry>();
  #bindings = new Map<string, TokenBinding>();
  #byName = new Map<string, KeyEntry>();
  /** Global and tag budgets by budget id. */
  #shared = new Map<number, SharedEntry>();
  #globals: Account[] = [];
  #tags = new Map<string, SharedEntry>();
  readonly #sessions = new Map<string, { account: Account; lastUsed: number }>();
  readonly #open = new Set<Hold>();
  #dataVersion = -1;
  /** A version check was made in this event-loop turn (cleared at its end): see refresh's perTurn. */
  #checkedThisTurn = false;
  #turnReset: NodeJS.Immediate | null = null;
  /** The reload in progress: requests arriving meanwhile wait for it rather than start another. */
  #loading: Promise<void> | null = null;
  #settings: Settings = { timeZone: null, defaultSessionCapNanos: null, thresholds: [50, 80, 100], retainDays: 90 };
  #tz = machineTimeZone();
  readonly #lastEvent = new Map<string, number>();
  #nextMaintenance = 0;
  /** LEDGER_CORRECTED_META as last read: a change means ledger rows were corrected under the accounts. */
  #correctedAt: string | null | undefined = undefined;
  /** Called after config was reloaded from the store (CLI changes), e.g. to refresh prices. */
  onReload: (() => void | Promise<void>) | null = null;
  /** A queued write failed (disk full, I/O error): the server logs it. The accounts in memory stay right. */
  onWriteError: ((err: unknown) => void) | null = null;
  /** Called after money moved (a hold opened, grew, shrank or settled; a request was refused): the live feed listens. */
  onChange: (() => void) | null = null;
  /** Team mode: this instance's leases (null in local mode, where the accounts alone decide). */
  #allowance: Allowance | null = null;
  #teamDirty = false;
  #versionCheckedAt = 0;

  constructor(store: Store, openKey: ProviderKeyOpener, now: () => number = Date.now) {
    this.#store = store;
    this.#openKey = openKey;
    this.#now = now;
  }

  /** Team mode: room comes from this instance's leases too, and hold writes go out in the lease ledger's batch. Set before serving. */
  useAllowance(allowance: Allowance): void {
    this.#allowance = allowance;
  }

  /**
   * What every hard account can still take: cap − spent − held, and in team mode no more than this
   * instance's lease. `live`: for a running request, which may use what a budget marked reached has left.
   */
  room(accounts: readonly Account[], live = false): Nanos {
    const local = commonRoom(accounts, live);
    return this.#allowance === null ? local : Math.min(local, this.#allowance.room(accounts));
  }

  /**
   * A request found no room: in team mode, one top-up of the lease (and at most one wait for other
   * instances to give back) before it is refused; true when a second admission may pass. Local: false at once.
   */
  async waitForRoom(accounts: readonly Account[], nanos: Nanos): Promise<boolean> {
    if (this.#allowance === null || findRefusal(accounts, nanos) !== null) return false;
    return this.#allowance.waitForRoom(accounts, nanos);
  }

  /**
   * Team mode: one top-up of this instance's slices when they have less than `nanos` free, awaited
   * (no wait for other instances to give back). Null when there is nothing to wait for (local mode,
   * room enough, or no room at all): the request path takes no extra turn.
   */
  topUp(accounts: readonly Account[], nanos: Nanos): Promise<void> | null {
    if (this.#allowance === null || this.room(accounts) >= nanos || findRefusal(accounts, nanos) !== null) return null;
    return this.#allowance.topUp(accounts, nanos);
  }

  /** How far ahead of its need a stream's hold grows (team mode: Allowance.aheadNanos; local mode 0). */
  aheadNanos(stepNanos: Nanos): Nanos {
    return this.#allowance === null ? 0 : this.#allowance.aheadNanos(stepNanos);
  }

  /** A running stream could not grow its reserve ahead: in team mode the lease tops up now. Local mode: nothing to do. */
  short(accounts: readonly Account[], nanos: Nanos): void {
    this.#allowance?.short(accounts, nanos);
  }

  get openHolds(): ReadonlySet<Hold> {
    return this.#open;
  }

  get settings(): Readonly<Settings> {
    return this.#settings;
  }

  /** The zone periods roll over in. */
  get timeZone(): string {
    return this.#tz;
  }

  /**
   * Holds left by a crash: the provider may have billed up to their last estimate, so each is
   * charged at that estimate, in a ledger row that says so. Run before any request is served.
   */
  async recoverCrashedHolds(): Promise<number> {
    // Team mode: only this instance's own holds and leases (another's are live until its lease expires).
    if (this.#allowance !== null) return this.#allowance.recover();
    const holds = await this.#store.holds.list();
    await Promise.all(holds.map((h) =>
      this.#store.holds.settle(h.id, {
        ts: this.#now(),
        requestId: h.id,
        keyId: h.keyId,
        keyName: h.keyName,
        session: h.session,
        provider: h.provider,
        model: h.model,
        ...NO_USAGE,
        costNanos: h.amountNanos,
        outcome: 'error',
        usageSource: 'estimate',
        status: null,
        durationMs: Math.max(0, this.#now() - h.ts),
        detail: 'spendcap stopped while this request was in flight; charged at its last hold',
        tag: h.tag ?? null,
      }),
    ));
    return holds.length;
  }

  /**
   * Reloads keys and budgets when another process (a CLI command) changed the store, so a change
   * counts from the very next request. Cheap when nothing changed: one version check.
   */
  async refresh(opts: { perTurn?: boolean } = {}): Promise<void> {
    if (this.#teamChangeKnown()) {
      if (this.#loading !== null) await this.#loading;
      return;
    }
    // perTurn (the request path): requests that arrive in one event-loop turn arrived together, so
    // they share one version check; the next turn checks again (PRAGMA data_version, ~10 µs, profiled).
    if (opts.perTurn === true && this.#checkedThisTurn && this.#loading === null) return;
    this.#checkedThisTurn = true;
    this.#turnReset ??= setImmediate(() => {
      this.#checkedThisTurn = false;
      this.#turnReset = null;
    });
    const version = await this.#store.changes.version();
    if (version !== this.#dataVersion) {
      this.#dataVersion = version;
      this.#loading = this.#load().finally(() => {
        this.#loading = null;
      });
    }
    if (this.#loading !== null) await this.#loading;
    const now = this.#now();
    if (now >= this.#nextMaintenance) {
      this.#nextMaintenance = now + MAINTENANCE_MS;
      // Off the request path: pruning a large ledger takes a moment once a day.
      setTimeout(() => void this.maintain(), 0).unref();
    }
  }

  /**
   * Team mode asks the database for its change version at most every TEAM_VERSION_MS, not per
   * request (a round trip each): budget changes arrive by NOTIFY (`changed()`), other changes
   * (a key added) by that check. Local mode: always false, the check is one cheap read.
   */
  #teamChangeKnown(): boolean {
    if (this.#allowance === null) return false;
    const now = this.#now();
    if (!this.#teamDirty && now - this.#versionCheckedAt < TEAM_VERSION_MS) return true;
    this.#teamDirty = false;
    this.#versionCheckedAt = now;
    return false;
  }

  /** Team mode: a budget changed on another instance (NOTIFY); reloads now, so a kill cuts running streams here within the second. */
  changed(): Promise<void> {
    this.#teamDirty = true;
    this.#dataVersion = -1;
    return this.refresh();
  }

  /**
   * Retention (ledger rows older than --retain-days become daily totals) and auto-tune creep.
   * Runs hourly in a server; public so tests can drive it with a fake clock.
   */
  async maintain(now: number = this.#now()): Promise<{ pruned: number; autotuned: number }> {
    let pruned = 0;
    let autotuned = 0;
    try {
      pruned = await pruneLedger(this.#store, now, this.#settings.retainDays, this.#tz);
      autotuned = (await runAutotune(this.#store, now, this.#tz)).length;
      // Own writes need not move the change feed: reload budgets a creep changed.
      if (autotuned > 0) await this.#load();
    } catch {
      // Maintenance must never take the proxy down; it is retried within the hour.
    }
    return { pruned, autotuned };
  }

  /**
   * Reads everything first (the awaits), then swaps the maps in one synchronous step, so a request
   * never sees half a reload. Accounts carried over keep their in-flight holds.
   */
  async #load(): Promise<void> {
    const store = this.#store;
    // Sums read below must include every settle queued so far.
    await store.flush();
    const [settings, corrected, budgets, keys, live] = await Promise.all([readSettings(store), store.settings.getMeta(LEDGER_CORRECTED_META), store.budgets.list(), store.keys.list(), store.tokens.live()]);
    const previousTz = this.#tz;
    this.#settings = settings;
    this.#tz = timeZoneOf(this.#settings);
    const tzChanged = previousTz !== this.#tz;
    // `spendcap reconcile` set rows to the provider's figure: what each account has spent is summed again.
    const recount = this.#correctedAt !== undefined && corrected !== this.#correctedAt;
    this.#correctedAt = corrected;
    const keyBudgets = new Map<number, BudgetRecord>();
    const shared = new Map<number, SharedEntry>();
    /** Accounts whose spent must be read again (new period, new zone, corrected ledger), after the swap. */
    const reread: Array<{ a: Account; b: BudgetRecord }> = [];
    for (const b of budgets) {
      if (b.scope === 'key') {
        if (b.keyId !== null) keyBudgets.set(b.keyId, b);
        continue;
      }
      const prev = this.#shared.get(b.id);
      if (prev) {
        if (this.#applyBudget(prev.account, prev.budget, b, tzChanged) || recount) reread.push({ a: prev.account, b });
        prev.budget = b;
        shared.set(b.id, prev);
      } else {
        shared.set(b.id, { budget: b, account: await this.#newAccount(b, `budget "${b.name}"`, b.name) });
      }
    }
    this.#shared = shared;
    this.#globals = [...shared.values()].filter((e) => e.budget.scope === 'global').map((e) => e.account);
    this.#tags = new Map([...shared.values()].filter((e) => e.budget.scope === 'tag').map((e) => [e.budget.name, e]));

    const byHash = new Map<string, KeyEntry>();
    const byName = new Map<string, KeyEntry>();
    const byId = new Map<number, KeyEntry>();
    for (const record of keys) {
      const budget = keyBudgets.get(record.id);
      if (!budget) continue;
      const previous = this.#byName.get(record.name);
      let entry: KeyEntry;
      if (previous && previous.record.id === record.id) {
        entry = previous;
        if (this.#applyBudget(entry.account, entry.budget, budget, tzChanged) || recount) reread.push({ a: entry.account, b: budget });
        entry.budget = budget;
        this.#applySessions(entry);
      } else {
        entry = { record, providerKey: this.#openKey(record), budget, account: await this.#newAccount(budget, `key "${record.name}"`, record.name) };
      }
      byName.set(record.name, entry);
      byId.set(record.id, entry);
    }
    // A key may have several tokens (one per connected agent): each live one authenticates as the key.
    const bindings = new Map<string, TokenBinding>();
    for (const { keyId, tokenHash, session, budget } of live) {
      const entry = byId.get(keyId);
      if (!entry) continue;
      byHash.set(tokenHash, entry);
      if (session !== null || budget !== null) bindings.set(tokenHash, { session, budget });
    }
    this.#bindings = bindings;
    this.#byHash = byHash;
    this.#byName = byName;
    await Promise.all(reread.map(({ a, b }) => this.#readSpent(a, b)));
    await this.onReload?.();
    // A kill reaches streams already running, not only the next request.
    for (const hold of this.#open) {
      const killed = hold.accounts.find((a) => a.killed && a.mode === 'hard');
      if (killed && hold.onKill) hold.onKill(killed);
    }
  }

  async #newAccount(budget: BudgetRecord, label: string, liftName: string): Promise<Account> {
    const window = periodWindow(budget.period, this.#now(), this.#tz);
    const [spentNanos, thresholdFired] = await Promise.all([this.#store.ledger.spentSince(filterOf(budget), window.start), this.#store.thresholds.maxFired(budget.id, window.start)]);
    return {
      id: `budget:${budget.id}`,
      label,
      liftName,
      capNanos: budget.capNanos,
      mode: budget.mode,
      killed: budget.killed,
      spentNanos,
      heldNanos: 0,
      periodEnd: window.end,
      periodLabel: budget.period,
      exhausted: false,
      budgetId: budget.id,
      scope: budget.scope,
      periodStart: window.start,
      thresholdFired,
      clamp: budget.clamp,
    };
  }

  /**
   * A new period (or a new zone): the window moves at once (synchronously, so no request charges
   * the old period after its end), a reached cap re-opens; spent is then read again from the store.
   */
  #rollPeriod(a: Account, budget: BudgetRecord, now: number): void {
    const window = periodWindow(budget.period, now, this.#tz);
    a.periodEnd = window.end;
    a.periodStart = window.start;
    a.periodLabel = budget.period;
    a.exhausted = false;
  }

  /**
   * Spent and fired thresholds of the account's window, from the store. What settles while the read
   * is in flight is added to the read figure, so nothing is lost or counted twice.
   */
  async #readSpent(a: Account, budget: BudgetRecord): Promise<void> {
    if (a.periodStart === undefined) return;
    const start = a.periodStart;
    // Settles queued before now are in the figure once flushed; what settles after this line is the delta.
    await this.#store.flush();
    const inMemoryBefore = a.spentNanos;
    const [spent, fired] = await Promise.all([this.#store.ledger.spentSince(filterOf(budget), start), this.#store.thresholds.maxFired(budget.id, start)]);
    if (a.periodStart !== start) return;
    // Settled between the read's start and its answer: in memory, and maybe not yet in the figure read.
    a.spentNanos = spent + Math.max(0, a.spentNanos - inMemoryBefore);
    a.thresholdFired = fired;
  }

  /** True when the account's window moved (its spent must be read again). */
  #applyBudget(a: Account, before: BudgetRecord, budget: BudgetRecord, tzChanged: boolean): boolean {
    if (budget.capNanos !== before.capNanos || (before.killed && !budget.killed)) a.exhausted = false;
    a.capNanos = budget.capNanos;
    a.mode = budget.mode;
    a.killed = budget.killed;
    a.clamp = budget.clamp;
    if (budget.period !== before.period || tzChanged) {
      this.#rollPeriod(a, budget, this.#now());
      return true;
    }
    return false;
  }

  /** The cap every session of this key gets: its own, else the global default, else none. */
  #sessionCap(entry: KeyEntry): Nanos | null {
    return entry.budget.sessionCapNanos ?? this.#settings.defaultSessionCapNanos;
  }

  #applySessions(entry: KeyEntry): void {
    const cap = this.#sessionCap(entry);
    for (const [k, s] of this.#sessions) {
      if (!k.startsWith(`${entry.record.id}\u0000`)) continue;
      if (cap === null) this.#sessions.delete(k);
      else {
        if (s.account.capNanos !== cap) s.account.exhausted = false;
        s.account.capNanos = cap;
        s.account.mode = entry.budget.mode;
        s.account.killed = entry.budget.killed;
      }
    }
  }

  authenticate(tokenHash: string): KeyEntry | undefined {
    return this.#byHash.get(tokenHash);
  }

  /** The session and tag budget a token of one run (spendcap run) is bound to; undefined for other tokens. */
  bindingOf(tokenHash: string): TokenBinding | undefined {
    return this.#bindings.get(tokenHash);
  }

  keyByName(name: string): KeyEntry | undefined {
    return this.#byName.get(name);
  }

  /** The live account of a global or tag budget (tests, the admin API). */
  sharedAccount(name: string): Account | undefined {
    for (const e of this.#shared.values()) if (e.budget.name === name) return e.account;
    return undefined;
  }

  /**
   * The accounts a request of `key` in `session`, opting into tag budget `tag`, must fit: every
   * global budget, the tag budget, the key's budget, and the session's when a session cap applies
   * (the key's own, else the global default). An unknown tag is refused (render.ts words it).
   * Asynchronous only when a period rolled over or a session is new (its spent is read from the store).
   */
  async accountsFor(key: KeyEntry, session: string | null, tag: string | null = null): Promise<Account[] | UnknownTag> {
    const now = this.#now();
    const accounts: Account[] = [];
    const rolled: Promise<void>[] = [];
    const roll = (a: Account, b: BudgetRecord): void => {
      if (a.periodEnd !== null && now >= a.periodEnd) {
        this.#rollPeriod(a, b, now);
        rolled.push(this.#readSpent(a, b));
      }
    };
    for (const e of this.#shared.values()) {
      if (e.budget.scope !== 'global') continue;
      roll(e.account, e.budget);
      accounts.push(e.account);
    }
    if (tag !== null) {
      const t = this.#tags.get(tag);
      // Refused rather than passed: a typo in the header would otherwise spend outside the budget the caller meant.
      if (!t) return { code: 'E_UNKNOWN_BUDGET', tag };
      roll(t.account, t.budget);
      accounts.push(t.account);
    }
    const a = key.account;
    roll(a, key.budget);
    // The key first: its refusal is the one users can act on most directly.
    accounts.unshift(a);
    const sessionCap = this.#sessionCap(key);
    if (session !== null && sessionCap !== null) {
      const sk = `${key.record.id}\u0000${session}`;
      let s = this.#sessions.get(sk);
      if (!s) {
        if (this.#sessions.size > 10_000) this.#pruneSessions(now);
        // Settles of this session still queued count in the figure read.
        await this.#store.flush();
        const spent = await this.#store.ledger.spentBySession(key.record.id, session);
        // Another request of the same new session may have made it during the await.
        s = this.#sessions.get(sk) ?? {
          account: {
            id: `session:${key.record.id}:${session}`,
            label: `session ${session} of key "${key.record.name}"`,
            liftName: key.record.name,
            capNanos: sessionCap,
            mode: key.budget.mode,
            killed: key.budget.killed,
            spentNanos: spent,
            heldNanos: 0,
            periodEnd: null,
            periodLabel: 'session',
            exhausted: false,
            scope: 'session',
            clamp: key.budget.clamp,
          },
          lastUsed: now,
        };
        this.#sessions.set(sk, s);
      }
      s.lastUsed = now;
      accounts.push(s.account);
    }
    if (rolled.length > 0) await Promise.all(rolled);
    return accounts;
  }

  #pruneSessions(now: number): void {
    for (const [k, s] of this.#sessions) if (now - s.lastUsed > SESSION_IDLE_MS && s.account.heldNanos === 0) this.#sessions.delete(k);
  }

  /** Checks without reserving (used to refuse a request before reading more of it). */
  check(accounts: readonly Account[], nanos: Nanos): Refusal | null {
    return findRefusal(accounts, nanos);
  }

  /** Takes a hold of `amountNanos` on every account, atomically, and persists it before the request goes upstream. */
  open(key: KeyEntry, session: string | null, accounts: readonly Account[], model: string, amountNanos: Nanos, provider: ProviderId): Hold | Refusal {
    const refusal = this.#reserve(accounts, amountNanos);
    if (refusal) return refusal;
    const tag = this.#tagOf(accounts);
    const id = randomUUID();
    const startedAt = this.#now();
    const record = { id, ts: startedAt, keyId: key.record.id, keyName: key.record.name, session, provider, model, amountNanos, tag };
    // Queued: committed with the other writes of this event-loop turn (group commit). Team mode: the
    // lease already counts this money as spent should the instance die, so the request need not wait for the batch.
    const durable = this.#allowance === null ? this.#store.holds.insert(record) : (this.#allowance.writeHold(record), Promise.resolve());
    const hold: Hold = { id, key, session, accounts, startedAt, tag, model, amountNanos, settled: false, durable, onKill: null };
    durable.catch(() => {
      // Never on disk, so never upstream (the relay awaits `durable`): the money goes back.
      if (hold.settled) return;
      hold.settled = true;
      this.#open.delete(hold);
      release(accounts, hold.amountNanos);
      this.#allowance?.give(accounts, hold.amountNanos);
      this.onChange?.();
    });
    this.#open.add(hold);
    this.onChange?.();
    return hold;
  }

  /** The accounts' reservation, and in team mode the lease's: both or neither. */
  #reserve(accounts: readonly Account[], nanos: Nanos, live = false): Refusal | null {
    const refusal = reserve(accounts, nanos, live);
    if (refusal || this.#allowance === null || this.#allowance.take(accounts, nanos)) return refusal;
    release(accounts, nanos);
    const account = accounts.find((a) => a.mode === 'hard') ?? accounts[0]!;
    return { code: account.killed ? 'E_KILLED' : 'E_CAP_REACHED', account, neededNanos: nanos };
  }

  #tagOf(accounts: readonly Account[]): string | null {
    const t = accounts.find((a) => a.scope === 'tag');
    return t ? t.liftName : null;
  }

  /** Grows the hold by `extraNanos` if every account has room; persisted so a crash charges the latest estimate. */
  grow(hold: Hold, extraNanos: Nanos): Refusal | null {
    // A running request may take what a budget marked reached has left (see findRefusal's `live`).
    const refusal = this.#reserve(hold.accounts, extraNanos, true);
    if (refusal) return refusal;
    hold.amountNanos += extraNanos;
    this.#persistHold(hold);
    this.onChange?.();
    return null;
  }

  shrink(hold: Hold, releaseNanos: Nanos): void {
    release(hold.accounts, releaseNanos);
    this.#allowance?.give(hold.accounts, releaseNanos);
    hold.amountNanos -= releaseNanos;
    this.#persistHold(hold);
    this.onChange?.();
  }

  /** The hold's latest estimate, queued: a crash charges the last one committed. Not awaited (the stream goes on). */
  #persistHold(hold: Hold): void {
    if (this.#allowance !== null) {
      this.#allowance.writeHold({ id: hold.id, ts: hold.startedAt, keyId: hold.key.record.id, keyName: hold.key.record.name, session: hold.session, provider: hold.key.record.provider, model: hold.model, amountNanos: hold.amountNanos, tag: hold.tag });
      return;
    }
    this.#store.holds.update(hold.id, hold.amountNanos, hold.model).catch(() => {
      // A failed update leaves the previous estimate on disk; the settle still writes the real charge.
    });
  }

  /** Marks every hard account the request could not grow on as reached: later requests are blocked until a lift or reset (local mode). */
  markExhausted(refusal: Refusal): void {
    // Team mode: a cut may come from this instance's slice running dry while others still have room;
    // the lease refuses by itself once the database has none, so the account is not closed here.
    if (this.#allowance === null) refusal.account.exhausted = true;
    this.#event('cut', refusal.account, `${refusal.code}: a stream on ${refusal.account.label} was cut`);
  }

  /**
   * The hold becomes one ledger row (in one transaction with the hold's removal). The accounts move
   * at once; the Promise resolves when the row is on disk: the relay sends the response's last
   * byte only then, so a finished request is never lost to a crash.
   */
  settle(hold: Hold, row: Omit<LedgerRow, 'keyId' | 'keyName' | 'session' | 'ts'>, opts: { soon?: boolean } = {}): Promise<void> {
    if (hold.settled) return Promise.resolve();
    hold.settled = true;
    this.#open.delete(hold);
    settle(hold.accounts, hold.amountNanos, row.costNanos);
    const ledgerRow = { ...row, ts: this.#now(), keyId: hold.key.record.id, keyName: hold.key.record.name, session: hold.session, tag: hold.tag };
    let durable: Promise<unknown>;
    if (this.#allowance === null) durable = this.#store.holds.settle(hold.id, ledgerRow, opts);
    else {
      // Team mode: used money and the unused lease go back in the next batch (a crash meanwhile charges the whole lease).
      this.#allowance.settle(hold.accounts, hold.amountNanos, row.costNanos);
      this.#allowance.writeSettled(hold.id, ledgerRow);
      durable = Promise.resolve();
    }
    if (row.costNanos > 0) for (const a of hold.accounts) this.#checkThresholds(a);
    this.onChange?.();
    return durable.then(
      () => undefined,
      (err: unknown) => this.onWriteError?.(err),
    );
  }

  /** Threshold events (default 50/80/100% of the cap), once per budget per period; soft budgets too. */
  #checkThresholds(a: Account): void {
    if (a.budgetId === undefined || a.periodStart === undefined) return;
    const fired = a.thresholdFired ?? 0;
    for (const pct of this.#settings.thresholds) {
      if (pct <= fired) continue;
      // Integer arithmetic: spent/cap ≥ pct/100.
      if (a.spentNanos * 100 < a.capNanos * pct) break;
      a.thresholdFired = pct;
      const event: NewEvent = {
        ts: this.#now(),
        kind: 'threshold',
        budget: a.liftName,
        channel: 'auto',
        capBeforeNanos: null,
        capAfterNanos: null,
        detail: `${a.label} reached ${pct}% of its cap: spent ${formatUsd(a.spentNanos)} of ${formatUsd(a.capNanos)} (${a.periodLabel}, ${a.mode})`,
      };
      // The event lands only with the first mark (another server may have fired it); queued with the settle.
      this.#store.thresholds.mark(a.budgetId, a.periodStart, pct, event.ts, event).catch(() => {
        // An alert must never fail a request that already settled.
      });
    }
  }

  /** Block and cut events: one per budget per EVENT_QUIET_MS, so an agent's retries do not flood the log. */
  #event(kind: 'block' | 'cut', a: Account, detail: string): void {
    const now = this.#now();
    const k = `${kind}:${a.id}`;
    const last = this.#lastEvent.get(k);
    if (last !== undefined && now - last < EVENT_QUIET_MS) return;
    this.#lastEvent.set(k, now);
    this.#store.events.insert({ ts: now, kind, budget: a.liftName, channel: 'auto', capBeforeNanos: null, capAfterNanos: null, detail }).catch(() => {
      // The refusal itself must not fail on its audit line.
    });
  }

  /**
   * A request refused before any hold: still one ledger row, at no cost, and a block event on the
   * account that refused it. Resolves when the row is on disk (the refusal is sent after it).
   */
  recordBlocked(key: KeyEntry, session: string | null, provider: ProviderId, model: string, requestId: string, reason: BlockReason, status: number): Promise<void> {
    const durable = this.#store.ledger.insert({
      ts: this.#now(),
      requestId,
      keyId: key.record.id,
      keyName: key.record.name,
      session,
      provider,
      model,
      ...NO_USAGE,
      costNanos: 0,
      outcome: 'blocked',
      usageSource: 'none',
      status,
      durationMs: 0,
      detail: blockedDetail(reason),
    });
    if ('account' in reason) this.#event('block', reason.account, `${reason.code}: a request on ${reason.account.label} was refused (${model})`);
    this.onChange?.();
    return durable.then(
      () => undefined,
      (err: unknown) => this.onWriteError?.(err),
    );
  }
}

/** Meta key `spendcap reconcile` sets when it corrects ledger rows: a running Bank then re-sums spent. */
export const LEDGER_CORRECTED_META = 'ledger_corrected_at';
