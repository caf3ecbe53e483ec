import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { formatUsd } from '../pricing/index.js';
import type { Nanos, ProviderId } from '../pricing/index.js';
import { decryptSecret } from '../secrets/index.js';
import { liveTokenHashes } from '../store/index.js';
import type { BudgetRecord, KeyRecord, LedgerRow, SqliteStore } from '../store/index.js';
import { findRefusal, reserve, release, settle } from './account.js';
import type { Account, Refusal } from './account.js';
import { filterOf, runAutotune } from './autotune.js';
import { machineTimeZone, periodWindow } from './period.js';
import { pruneLedger } from './retention.js';
import { readSettings, timeZoneOf } from './settings.js';
import type { Settings } from './settings.js';

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
  /** Set by the proxy: ends the request at once (kill). */
  onKill: ((account: Account) => void) | null;
}

/** Headers a request names its tag budget with: spendcap's own, then the one other proxies use. */
export const BUDGET_HEADERS = ['x-spendcap-budget', 'x-budget-id'] as const;

/** The tag budget a request opts into, or null. */
export function budgetTagOf(headers: IncomingHttpHeaders): string | null {
  for (const h of BUDGET_HEADERS) {
    const v = headers[h];
    const s = Array.isArray(v) ? v[0] : v;
    if (typeof s === 'string' && s.trim().length > 0) return s.trim().slice(0, 200);
  }
  return null;
}

const SESSION_IDLE_MS = 24 * 3600_000;
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
  readonly #store: SqliteStore;
  readonly #masterKey: Buffer;
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
  #settings: Settings = { timeZone: null, defaultSessionCapNanos: null, thresholds: [50, 80, 100], retainDays: 90 };
  #tz = machineTimeZone();
  /** The accounts the last accountsFor returned: a refusal recorded right after names one of them. */
  #lastAccounts: readonly Account[] = [];
  readonly #lastEvent = new Map<string, number>();
  #nextMaintenance = 0;
  /** LEDGER_CORRECTED_META as last read: a change means ledger rows were corrected under the accounts. */
  #correctedAt: string | null | undefined = undefined;
  /** Called after config was reloaded from the store (CLI changes), e.g. to refresh prices. */
  onReload: (() => void) | null = null;
  /** Called after money moved (a hold opened, grew, shrank or settled; a request was refused): the live feed listens. */
  onChange: (() => void) | null = null;

  constructor(store: SqliteStore, masterKey: Buffer, now: () => number = Date.now) {
    this.#store = store;
    this.#masterKey = masterKey;
    this.#now = now;
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
  recoverCrashedHolds(): number {
    const holds = this.#store.listHolds();
    for (const h of holds) {
      this.#store.settleHold(h.id, {
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
      });
    }
    return holds.length;
  }

  /** Reloads keys and budgets when another process (a CLI command) changed the store. Cheap when nothing changed. */
  refresh(): void {
    const version = this.#store.dataVersion();
    if (version !== this.#dataVersion) {
      this.#dataVersion = version;
      this.#load();
    }
    const now = this.#now();
    if (now >= this.#nextMaintenance) {
      this.#nextMaintenance = now + MAINTENANCE_MS;
      // Off the request path: pruning a large ledger takes a moment once a day.
      setTimeout(() => this.maintain(), 0).unref();
    }
  }

  /**
   * Retention (ledger rows older than --retain-days become daily totals) and auto-tune creep.
   * Runs hourly in a server; public so tests can drive it with a fake clock.
   */
  maintain(now: number = this.#now()): { pruned: number; autotuned: number } {
    let pruned = 0;
    let autotuned = 0;
    try {
      pruned = pruneLedger(this.#store, now, this.#settings.retainDays, this.#tz);
      autotuned = runAutotune(this.#store, now, this.#tz).length;
    } catch {
      // Maintenance must never take the proxy down; it is retried within the hour.
      return { pruned, autotuned };
    }
    // Own writes do not move data_version: reload budgets a creep changed.
    if (autotuned > 0) this.#load();
    return { pruned, autotuned };
  }

  #load(): void {
    const previousTz = this.#tz;
    this.#settings = readSettings(this.#store);
    this.#tz = timeZoneOf(this.#settings);
    const tzChanged = previousTz !== this.#tz;
    // `spendcap reconcile` set rows to the provider's figure: what each account has spent is summed again.
    const corrected = this.#store.getMeta(LEDGER_CORRECTED_META);
    const recount = this.#correctedAt !== undefined && corrected !== this.#correctedAt;
    this.#correctedAt = corrected;
    const keyBudgets = new Map<number, BudgetRecord>();
    const shared = new Map<number, SharedEntry>();
    for (const b of this.#store.listBudgets()) {
      if (b.scope === 'key') {
        if (b.keyId !== null) keyBudgets.set(b.keyId, b);
        continue;
      }
      const prev = this.#shared.get(b.id);
      if (prev) {
        this.#applyBudget(prev.account, prev.budget, b, tzChanged);
        if (recount) this.#recount(prev.account, b);
        prev.budget = b;
        shared.set(b.id, prev);
      } else {
        shared.set(b.id, { budget: b, account: this.#newAccount(b, `budget "${b.name}"`, b.name) });
      }
    }
    this.#shared = shared;
    this.#globals = [...shared.values()].filter((e) => e.budget.scope === 'global').map((e) => e.account);
    this.#tags = new Map([...shared.values()].filter((e) => e.budget.scope === 'tag').map((e) => [e.budget.name, e]));

    const byHash = new Map<string, KeyEntry>();
    const byName = new Map<string, KeyEntry>();
    const byId = new Map<number, KeyEntry>();
    for (const record of this.#store.listKeys()) {
      const budget = keyBudgets.get(record.id);
      if (!budget) continue;
      const previous = this.#byName.get(record.name);
      let entry: KeyEntry;
      if (previous && previous.record.id === record.id) {
        entry = previous;
        this.#applyBudget(entry.account, entry.budget, budget, tzChanged);
        if (recount) this.#recount(entry.account, budget);
        entry.budget = budget;
        this.#applySessions(entry);
      } else {
        entry = { record, providerKey: decryptSecret(this.#masterKey, record.providerKeyEnc), budget, account: this.#newAccount(budget, `key "${record.name}"`, record.name) };
      }
      byName.set(record.name, entry);
      byId.set(record.id, entry);
    }
    // A key may have several tokens (one per connected agent): each live one authenticates as the key.
    const bindings = new Map<string, TokenBinding>();
    for (const { keyId, tokenHash, session, budget } of liveTokenHashes(this.#store.db)) {
      const entry = byId.get(keyId);
      if (!entry) continue;
      byHash.set(tokenHash, entry);
      if (session !== null || budget !== null) bindings.set(tokenHash, { session, budget });
    }
    this.#bindings = bindings;
    this.#byHash = byHash;
    this.#byName = byName;
    this.onReload?.();
    // A kill reaches streams already running, not only the next request.
    for (const hold of this.#open) {
      const killed = hold.accounts.find((a) => a.killed && a.mode === 'hard');
      if (killed && hold.onKill) hold.onKill(killed);
    }
  }

  #newAccount(budget: BudgetRecord, label: string, liftName: string): Account {
    const window = periodWindow(budget.period, this.#now(), this.#tz);
    return {
      id: `budget:${budget.id}`,
      label,
      liftName,
      capNanos: budget.capNanos,
      mode: budget.mode,
      killed: budget.killed,
      spentNanos: this.#store.spentSince(filterOf(budget), window.start),
      heldNanos: 0,
      periodEnd: window.end,
      periodLabel: budget.period,
      exhausted: false,
      budgetId: budget.id,
      scope: budget.scope,
      periodStart: window.start,
      thresholdFired: this.#store.maxThresholdFired(budget.id, window.start),
      clamp: budget.clamp,
    };
  }

  /** A new period (or a new zone): spent is read again from the store and a reached cap re-opens. */
  #rollPeriod(a: Account, budget: BudgetRecord, now: number): void {
    const window = periodWindow(budget.period, now, this.#tz);
    a.spentNanos = this.#store.spentSince(filterOf(budget), window.start);
    a.periodEnd = window.end;
    a.periodStart = window.start;
    a.periodLabel = budget.period;
    a.exhausted = false;
    a.thresholdFired = this.#store.maxThresholdFired(budget.id, window.start);
  }

  #recount(a: Account, budget: BudgetRecord): void {
    if (a.periodStart !== undefined) a.spentNanos = this.#store.spentSince(filterOf(budget), a.periodStart);
  }

  #applyBudget(a: Account, before: BudgetRecord, budget: BudgetRecord, tzChanged: boolean): void {
    if (budget.capNanos !== before.capNanos || (before.killed && !budget.killed)) a.exhausted = false;
    a.capNanos = budget.capNanos;
    a.mode = budget.mode;
    a.killed = budget.killed;
    a.clamp = budget.clamp;
    if (budget.period !== before.period || tzChanged) this.#rollPeriod(a, budget, this.#now());
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
   * (the key's own, else the global default). A string is the refusal for an unknown tag.
   */
  accountsFor(key: KeyEntry, session: string | null, tag: string | null = null): Account[] | string {
    const now = this.#now();
    const accounts: Account[] = [];
    for (const e of this.#shared.values()) {
      if (e.budget.scope !== 'global') continue;
      if (e.account.periodEnd !== null && now >= e.account.periodEnd) this.#rollPeriod(e.account, e.budget, now);
      accounts.push(e.account);
    }
    if (tag !== null) {
      const t = this.#tags.get(tag);
      if (!t) {
        this.#lastAccounts = [];
        // Refused rather than passed: a typo in the header would otherwise spend outside the budget the caller meant.
        return `spendcap: no budget named "${tag}" (from the ${BUDGET_HEADERS.join(' / ')} header). Create it: spendcap budget add ${tag} --scope tag --cap USD, or drop the header.`;
      }
      if (t.account.periodEnd !== null && now >= t.account.periodEnd) this.#rollPeriod(t.account, t.budget, now);
      accounts.push(t.account);
    }
    const a = key.account;
    if (a.periodEnd !== null && now >= a.periodEnd) this.#rollPeriod(a, key.budget, now);
    // The key first: its refusal is the one users can act on most directly.
    accounts.unshift(a);
    const sessionCap = this.#sessionCap(key);
    if (session !== null && sessionCap !== null) {
      const sk = `${key.record.id}\u0000${session}`;
      let s = this.#sessions.get(sk);
      if (!s) {
        if (this.#sessions.size > 10_000) this.#pruneSessions(now);
        s = {
          account: {
            id: `session:${key.record.id}:${session}`,
            label: `session ${session} of key "${key.record.name}"`,
            liftName: key.record.name,
            capNanos: sessionCap,
            mode: key.budget.mode,
            killed: key.budget.killed,
            spentNanos: this.#store.spentBySession(key.record.id, session),
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
    this.#lastAccounts = accounts;
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
    const refusal = reserve(accounts, amountNanos);
    if (refusal) return refusal;
    const tag = this.#tagOf(accounts);
    const hold: Hold = { id: randomUUID(), key, session, accounts, startedAt: this.#now(), tag, model, amountNanos, settled: false, onKill: null };
    try {
      this.#store.insertHold({ id: hold.id, ts: hold.startedAt, keyId: key.record.id, keyName: key.record.name, session, provider, model, amountNanos, tag });
    } catch (err) {
      release(accounts, amountNanos);
      throw err;
    }
    this.#open.add(hold);
    this.onChange?.();
    return hold;
  }

  #tagOf(accounts: readonly Account[]): string | null {
    const t = accounts.find((a) => a.scope === 'tag');
    return t ? t.liftName : null;
  }

  /** Grows the hold by `extraNanos` if every account has room; persisted so a crash charges the latest estimate. */
  grow(hold: Hold, extraNanos: Nanos): Refusal | null {
    // A running request may take what a budget marked reached has left (see findRefusal's `live`).
    const refusal = reserve(hold.accounts, extraNanos, true);
    if (refusal) return refusal;
    hold.amountNanos += extraNanos;
    this.#store.updateHold(hold.id, hold.amountNanos, hold.model);
    this.onChange?.();
    return null;
  }

  shrink(hold: Hold, releaseNanos: Nanos): void {
    release(hold.accounts, releaseNanos);
    hold.amountNanos -= releaseNanos;
    this.#store.updateHold(hold.id, hold.amountNanos, hold.model);
    this.onChange?.();
  }

  /** Marks every hard account the request could not grow on as reached: later requests are blocked until a lift or reset. */
  markExhausted(refusal: Refusal): void {
    refusal.account.exhausted = true;
    this.#event('cut', refusal.account, `${refusal.code}: a stream on ${refusal.account.label} was cut`);
  }

  /** The hold becomes one ledger row (in one transaction with the hold's removal). */
  settle(hold: Hold, row: Omit<LedgerRow, 'keyId' | 'keyName' | 'session' | 'ts'>): void {
    if (hold.settled) return;
    hold.settled = true;
    this.#open.delete(hold);
    settle(hold.accounts, hold.amountNanos, row.costNanos);
    this.#store.settleHold(hold.id, { ...row, ts: this.#now(), keyId: hold.key.record.id, keyName: hold.key.record.name, session: hold.session, tag: hold.tag });
    if (row.costNanos > 0) for (const a of hold.accounts) this.#checkThresholds(a);
    this.onChange?.();
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
      try {
        if (this.#store.markThreshold(a.budgetId, a.periodStart, pct, this.#now())) {
          this.#store.insertEvent({
            ts: this.#now(),
            kind: 'threshold',
            budget: a.liftName,
            channel: 'auto',
            capBeforeNanos: null,
            capAfterNanos: null,
            detail: `${a.label} reached ${pct}% of its cap: spent ${formatUsd(a.spentNanos)} of ${formatUsd(a.capNanos)} (${a.periodLabel}, ${a.mode})`,
          });
        }
      } catch {
        // An alert must never fail a request that already settled.
      }
    }
  }

  /** Block and cut events: one per budget per EVENT_QUIET_MS, so an agent's retries do not flood the log. */
  #event(kind: 'block' | 'cut', a: Account, detail: string): void {
    const now = this.#now();
    const k = `${kind}:${a.id}`;
    const last = this.#lastEvent.get(k);
    if (last !== undefined && now - last < EVENT_QUIET_MS) return;
    this.#lastEvent.set(k, now);
    try {
      this.#store.insertEvent({ ts: now, kind, budget: a.liftName, channel: 'auto', capBeforeNanos: null, capAfterNanos: null, detail });
    } catch {
      // The refusal itself must not fail on its audit line.
    }
  }

  /** A request refused before any hold: still one ledger row, at no cost. */
  recordBlocked(key: KeyEntry, session: string | null, provider: ProviderId, model: string, requestId: string, detail: string, status: number): void {
    this.#store.insertLedger({
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
      detail,
    });
    // The relay's detail is "<code>: <account label>": the account it names gets a block event.
    const m = /^(E_[A-Z_]+): (.*)$/.exec(detail);
    const account = m ? this.#lastAccounts.find((a) => a.label === m[2]) : undefined;
    if (account) this.#event('block', account, `${m![1]}: a request on ${account.label} was refused (${model})`);
    this.onChange?.();
  }
}

/**
 * The message a blocked or cut client sees: which budget, what it spent, when it resets, how to
 * lift it. `cut` says the response was ended here; a block says what the request would have needed.
 */
/** Meta key `spendcap reconcile` sets when it corrects ledger rows: a running Bank then re-sums spent. */
export const LEDGER_CORRECTED_META = 'ledger_corrected_at';

export function describeRefusal(refusal: Refusal, context: 'block' | 'cut' | 'provider' = 'block'): string {
  const a = refusal.account;
  const cap = formatUsd(a.capNanos);
  const resets = a.periodEnd === null ? '' : `, resets ${new Date(a.periodEnd).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
  const period = a.periodLabel === 'session' ? 'this session' : a.periodLabel;
  if (refusal.code === 'E_KILLED') {
    const what = context === 'cut' ? 'was killed; this response was cut here' : 'was killed';
    return `spendcap: ${a.label} ${what} (spent ${formatUsd(a.spentNanos)} of ${cap}, ${period}). Re-open it: spendcap unkill ${a.liftName}`;
  }
  if (context === 'provider') {
    // The provider's own limit on the key (spendcap provider-key) refused it: the second wall held.
    return `spendcap: ${a.label} reached its cap at the provider: the provider key's own limit refused this request (spendcap counts ${formatUsd(a.spentNanos)} of ${cap}, ${period}${resets}). Raise it: spendcap lift ${a.liftName} --add 5`;
  }
  if (context === 'cut') {
    return `spendcap: ${a.label} reached its cap of ${cap} (${period}${resets}); this response was cut here. Raise it: spendcap lift ${a.liftName} --add 5`;
  }
  const inFlight = a.heldNanos > 0 ? ` (+${formatUsd(a.heldNanos)} held by requests in flight)` : '';
  const room = a.capNanos - a.spentNanos - a.heldNanos;
  // With some room left, say why it is not enough: the prompt alone may cost more.
  const needs = room > 0 && !a.exhausted && refusal.neededNanos > room ? `; this request needs up to ${formatUsd(refusal.neededNanos)} to start` : '';
  return `spendcap: ${a.label} reached its cap: spent ${formatUsd(a.spentNanos)}${inFlight} of ${cap} (${period}${resets})${needs}. Raise it: spendcap lift ${a.liftName} --add 5`;
}
