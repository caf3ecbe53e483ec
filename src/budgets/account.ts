import type { Micros } from '../pricing/index.js';
import type { BudgetMode } from '../store/types.js';

/**
 * The live money state of one budget (a key's cap, or one session of a key) inside a running server.
 * Pure data; the functions below are the only writers, and the proxy runs them synchronously, so a
 * check-and-reserve over several accounts is atomic by construction (one JS thread).
 */
export interface Account {
  readonly id: string;
  /** What the user calls it in messages: `key "work"`, `session 3f2a… of key "work"`. */
  readonly label: string;
  /** The name to pass to `spendcap lift`. */
  readonly liftName: string;
  capMicros: Micros;
  mode: BudgetMode;
  killed: boolean;
  spentMicros: Micros;
  heldMicros: Micros;
  /** Epoch ms of the next reset, null for totals. */
  periodEnd: number | null;
  periodLabel: string;
  /** Set when a stream on this budget was cut: the cap is reached, new requests are blocked until a lift or reset. */
  exhausted: boolean;
  /** The stored budget this account draws on; absent for a session (sessions are not stored budgets). */
  budgetId?: number;
  scope?: 'key' | 'global' | 'tag' | 'session';
  /** Epoch ms the current period started (thresholds fire once per period). */
  periodStart?: number;
  /** Highest threshold percentage already fired this period. */
  thresholdFired?: number;
  /** When this budget is the one short of room, lower the request's output limit to what it can pay for instead of refusing. */
  clamp?: boolean;
}

export type RefusalCode = 'E_KILLED' | 'E_CAP_REACHED';

export interface Refusal {
  code: RefusalCode;
  account: Account;
  /** µ$ the request needed on this account. */
  neededMicros: Micros;
}

export function roomMicros(a: Account): Micros {
  return a.capMicros - a.spentMicros - a.heldMicros;
}

/** Why `accounts` cannot take `extraMicros` more, or null if every one can. Soft accounts never refuse. */
export function findRefusal(accounts: readonly Account[], extraMicros: Micros): Refusal | null {
  for (const a of accounts) {
    if (a.mode !== 'hard') continue;
    if (a.killed) return { code: 'E_KILLED', account: a, neededMicros: extraMicros };
  }
  if (extraMicros <= 0) return null;
  for (const a of accounts) {
    if (a.mode !== 'hard') continue;
    if (a.exhausted || roomMicros(a) < extraMicros) return { code: 'E_CAP_REACHED', account: a, neededMicros: extraMicros };
  }
  return null;
}

/** Adds `extraMicros` to every account's hold if all have room; all or nothing. */
export function reserve(accounts: readonly Account[], extraMicros: Micros): Refusal | null {
  const refusal = findRefusal(accounts, extraMicros);
  if (refusal) return refusal;
  for (const a of accounts) a.heldMicros += extraMicros;
  return null;
}

/** The largest amount every hard account could still take (Infinity when none is hard). */
export function commonRoom(accounts: readonly Account[]): Micros {
  let room = Number.POSITIVE_INFINITY;
  for (const a of accounts) {
    if (a.mode !== 'hard') continue;
    if (a.killed || a.exhausted) return 0;
    room = Math.min(room, roomMicros(a));
  }
  return room;
}

export function release(accounts: readonly Account[], micros: Micros): void {
  for (const a of accounts) a.heldMicros -= micros;
}

/** The hold of `heldMicros` becomes a charge of `chargeMicros`. */
export function settle(accounts: readonly Account[], heldMicros: Micros, chargeMicros: Micros): void {
  for (const a of accounts) {
    a.heldMicros -= heldMicros;
    a.spentMicros += chargeMicros;
  }
}
