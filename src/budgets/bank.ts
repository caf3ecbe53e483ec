import { randomUUID } from 'node:crypto';
import { formatUsd } from '../pricing/index.js';
import type { Micros, ProviderId } from '../pricing/index.js';
import { decryptSecret } from '../secrets/index.js';
import type { BudgetRecord, KeyRecord, LedgerRow, SqliteStore } from '../store/index.js';
import { findRefusal, reserve, release, settle } from './account.js';
import type { Account, Refusal } from './account.js';
import { periodWindow } from './period.js';

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
  model: string;
  amountMicros: Micros;
  settled: boolean;
  /** Set by the proxy: ends the request at once (kill). */
  onKill: ((account: Account) => void) | null;
}

const SESSION_IDLE_MS = 24 * 3600_000;

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
  #byName = new Map<string, KeyEntry>();
  readonly #sessions = new Map<string, { account: Account; lastUsed: number }>();
  readonly #open = new Set<Hold>();
  #dataVersion = -1;
  /** Called after config was reloaded from the store (CLI changes), e.g. to refresh prices. */
  onReload: (() => void) | null = null;

  constructor(store: SqliteStore, masterKey: Buffer, now: () => number = Date.now) {
    this.#store = store;
    this.#masterKey = masterKey;
    this.#now = now;
  }

  get openHolds(): ReadonlySet<Hold> {
    return this.#open;
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
        costMicros: h.amountMicros,
        outcome: 'error',
        usageSource: 'estimate',
        status: null,
        durationMs: Math.max(0, this.#now() - h.ts),
        detail: 'spendcap stopped while this request was in flight; charged at its last hold',
      });
    }
    return holds.length;
  }

  /** Reloads keys and budgets when another process (a CLI command) changed the store. Cheap when nothing changed. */
  refresh(): void {
    const version = this.#store.dataVersion();
    if (version === this.#dataVersion) return;
    this.#dataVersion = version;
    this.#load();
  }

  #load(): void {
    const budgets = new Map<number, BudgetRecord>();
    for (const b of this.#store.listBudgets()) if (b.keyId !== null) budgets.set(b.keyId, b);
    const byHash = new Map<string, KeyEntry>();
    const byName = new Map<string, KeyEntry>();
    for (const record of this.#store.listKeys()) {
      const budget = budgets.get(record.id);
      if (!budget) continue;
      const previous = this.#byName.get(record.name);
      let entry: KeyEntry;
      if (previous && previous.record.id === record.id) {
        entry = previous;
        this.#applyBudget(entry, budget);
      } else {
        entry = { record, providerKey: decryptSecret(this.#masterKey, record.providerKeyEnc), budget, account: this.#newKeyAccount(record, budget) };
      }
      byHash.set(record.tokenHash, entry);
      byName.set(record.name, entry);
    }
    this.#byHash = byHash;
    this.#byName = byName;
    this.onReload?.();
    // A kill reaches streams already running, not only the next request.
    for (const hold of this.#open) {
      const killed = hold.accounts.find((a) => a.killed && a.mode === 'hard');
      if (killed && hold.onKill) hold.onKill(killed);
    }
  }

  #newKeyAccount(record: KeyRecord, budget: BudgetRecord): Account {
    const now = this.#now();
    const window = periodWindow(budget.period, now);
    return {
      id: `budget:${budget.id}`,
      label: `key "${record.name}"`,
      liftName: record.name,
      capMicros: budget.capMicros,
      mode: budget.mode,
      killed: budget.killed,
      spentMicros: this.#store.spentByKeySince(record.id, window.start),
      heldMicros: 0,
      periodEnd: window.end,
      periodLabel: budget.period,
      exhausted: false,
    };
  }

  #applyBudget(entry: KeyEntry, budget: BudgetRecord): void {
    const a = entry.account;
    const before = entry.budget;
    entry.budget = budget;
    if (budget.capMicros !== before.capMicros || (before.killed && !budget.killed)) a.exhausted = false;
    a.capMicros = budget.capMicros;
    a.mode = budget.mode;
    a.killed = budget.killed;
    if (budget.period !== before.period) {
      const window = periodWindow(budget.period, this.#now());
      a.spentMicros = this.#store.spentByKeySince(entry.record.id, window.start);
      a.periodEnd = window.end;
      a.periodLabel = budget.period;
      a.exhausted = false;
    }
    for (const [k, s] of this.#sessions) {
      if (!k.startsWith(`${entry.record.id}\u0000`)) continue;
      if (budget.sessionCapMicros === null) this.#sessions.delete(k);
      else {
        if (s.account.capMicros !== budget.sessionCapMicros) s.account.exhausted = false;
        s.account.capMicros = budget.sessionCapMicros;
        s.account.mode = budget.mode;
        s.account.killed = budget.killed;
      }
    }
  }

  authenticate(tokenHash: string): KeyEntry | undefined {
    return this.#byHash.get(tokenHash);
  }

  keyByName(name: string): KeyEntry | undefined {
    return this.#byName.get(name);
  }

  /** The accounts a request of `key` in `session` must fit: the key's budget, and the session's when the key has a session cap. */
  accountsFor(key: KeyEntry, session: string | null): Account[] {
    const now = this.#now();
    const a = key.account;
    if (a.periodEnd !== null && now >= a.periodEnd) {
      const window = periodWindow(key.budget.period, now);
      a.spentMicros = this.#store.spentByKeySince(key.record.id, window.start);
      a.periodEnd = window.end;
      a.exhausted = false;
    }
    const sessionCap = key.budget.sessionCapMicros;
    if (session === null || sessionCap === null) return [a];
    const sk = `${key.record.id}\u0000${session}`;
    let s = this.#sessions.get(sk);
    if (!s) {
      if (this.#sessions.size > 10_000) this.#pruneSessions(now);
      s = {
        account: {
          id: `session:${key.record.id}:${session}`,
          label: `session ${session} of key "${key.record.name}"`,
          liftName: key.record.name,
          capMicros: sessionCap,
          mode: key.budget.mode,
          killed: key.budget.killed,
          spentMicros: this.#store.spentBySession(key.record.id, session),
          heldMicros: 0,
          periodEnd: null,
          periodLabel: 'session',
          exhausted: false,
        },
        lastUsed: now,
      };
      this.#sessions.set(sk, s);
    }
    s.lastUsed = now;
    return [a, s.account];
  }

  #pruneSessions(now: number): void {
    for (const [k, s] of this.#sessions) if (now - s.lastUsed > SESSION_IDLE_MS && s.account.heldMicros === 0) this.#sessions.delete(k);
  }

  /** Checks without reserving (used to refuse a request before reading more of it). */
  check(accounts: readonly Account[], micros: Micros): Refusal | null {
    return findRefusal(accounts, micros);
  }

  /** Takes a hold of `amountMicros` on every account, atomically, and persists it before the request goes upstream. */
  open(key: KeyEntry, session: string | null, accounts: readonly Account[], model: string, amountMicros: Micros, provider: ProviderId): Hold | Refusal {
    const refusal = reserve(accounts, amountMicros);
    if (refusal) return refusal;
    const hold: Hold = { id: randomUUID(), key, session, accounts, startedAt: this.#now(), model, amountMicros, settled: false, onKill: null };
    try {
      this.#store.insertHold({ id: hold.id, ts: hold.startedAt, keyId: key.record.id, keyName: key.record.name, session, provider, model, amountMicros });
    } catch (err) {
      release(accounts, amountMicros);
      throw err;
    }
    this.#open.add(hold);
    return hold;
  }

  /** Grows the hold by `extraMicros` if every account has room; persisted so a crash charges the latest estimate. */
  grow(hold: Hold, extraMicros: Micros): Refusal | null {
    const refusal = reserve(hold.accounts, extraMicros);
    if (refusal) return refusal;
    hold.amountMicros += extraMicros;
    this.#store.updateHold(hold.id, hold.amountMicros, hold.model);
    return null;
  }

  shrink(hold: Hold, releaseMicros: Micros): void {
    release(hold.accounts, releaseMicros);
    hold.amountMicros -= releaseMicros;
    this.#store.updateHold(hold.id, hold.amountMicros, hold.model);
  }

  /** Marks every hard account the request could not grow on as reached: later requests are blocked until a lift or reset. */
  markExhausted(refusal: Refusal): void {
    refusal.account.exhausted = true;
  }

  /** The hold becomes one ledger row (in one transaction with the hold's removal). */
  settle(hold: Hold, row: Omit<LedgerRow, 'keyId' | 'keyName' | 'session' | 'ts'>): void {
    if (hold.settled) return;
    hold.settled = true;
    this.#open.delete(hold);
    settle(hold.accounts, hold.amountMicros, row.costMicros);
    this.#store.settleHold(hold.id, { ...row, ts: this.#now(), keyId: hold.key.record.id, keyName: hold.key.record.name, session: hold.session });
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
      costMicros: 0,
      outcome: 'blocked',
      usageSource: 'none',
      status,
      durationMs: 0,
      detail,
    });
  }
}

/**
 * The message a blocked or cut client sees: which budget, what it spent, when it resets, how to
 * lift it. `cut` says the response was ended here; a block says what the request would have needed.
 */
export function describeRefusal(refusal: Refusal, context: 'block' | 'cut' = 'block'): string {
  const a = refusal.account;
  const cap = formatUsd(a.capMicros);
  const resets = a.periodEnd === null ? '' : `, resets ${new Date(a.periodEnd).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
  const period = a.periodLabel === 'session' ? 'this session' : a.periodLabel;
  if (refusal.code === 'E_KILLED') {
    const what = context === 'cut' ? 'was killed; this response was cut here' : 'was killed';
    return `spendcap: ${a.label} ${what} (spent ${formatUsd(a.spentMicros)} of ${cap}, ${period}). Re-open it: spendcap unkill ${a.liftName}`;
  }
  if (context === 'cut') {
    return `spendcap: ${a.label} reached its cap of ${cap} (${period}${resets}); this response was cut here. Raise it: spendcap lift ${a.liftName} --add 5`;
  }
  const inFlight = a.heldMicros > 0 ? ` (+${formatUsd(a.heldMicros)} held by requests in flight)` : '';
  const room = a.capMicros - a.spentMicros - a.heldMicros;
  // With some room left, say why it is not enough: the prompt alone may cost more.
  const needs = room > 0 && !a.exhausted && refusal.neededMicros > room ? `; this request needs up to ${formatUsd(refusal.neededMicros)} to start` : '';
  return `spendcap: ${a.label} reached its cap: spent ${formatUsd(a.spentMicros)}${inFlight} of ${cap} (${period}${resets})${needs}. Raise it: spendcap lift ${a.liftName} --add 5`;
}
