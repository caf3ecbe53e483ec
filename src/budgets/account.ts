import type { Nanos } from '../pricing/index.js';
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
  capNanos: Nanos;
  mode: BudgetMode;
  killed: boolean;
  spentNanos: Nanos;
  heldNanos: Nanos;
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
  /** n$ the request needed on this account. */
  neededNanos: Nanos;
}

export function roomNanos(a: Account): Nanos {
  return a.capNanos - a.spentNanos - a.heldNanos;
}

/**
 * Why `accounts` cannot take `extraNanos` more, or null if every one can. Soft accounts never refuse.
 * `live`: for a request already running (a stream's hold growing), a budget marked reached still
 * lends what is left of its cap: a cut blocks new requests, while the streams still open use the room
 * the cut one gave back, instead of leaving it unused below the cap.
 */
export function findRefusal(accounts: readonly Account[], extraNanos: Nanos, live = false): Refusal | null {
  for (const a of accounts) {
    if (a.mode !== 'hard') continue;
    if (a.killed) return { code: 'E_KILLED', account: a, neededNanos: extraNanos };
  }
  if (extraNanos <= 0) return null;
  for (const a of accounts) {
    if (a.mode !== 'hard') continue;
    if ((a.exhausted && !live) || roomNanos(a) < extraNanos) return { code: 'E_CAP_REACHED', account: a, neededNanos: extraNanos };
  }
  return null;
}

/** Adds `extraNanos` to every account's hold if all have room; all or nothing. */
export function reserve(accounts: readonly Account[], extraNanos: Nanos, live = false): Refusal | null {
  const refusal = findRefusal(accounts, extraNanos, live);
  if (refusal) return refusal;
  for (const a of accounts) a.heldNanos += extraNanos;
  return null;
}

/** The largest amount every hard account could still take (Infinity when none is hard). */
export function commonRoom(accounts: readonly Account[], live = false): Nanos {
  let room = Number.POSITIVE_INFINITY;
  for (const a of accounts) {
    if (a.mode !== 'hard') continue;
    if (a.killed || (a.exhausted && !live)) return 0;
    room = Math.min(room, roomNanos(a));
  }
  return room;
}

export function release(accounts: readonly Account[], nanos: Nanos): void {
  for (const a of accounts) a.heldNanos -= nanos;
}

/** The hold of `heldNanos` becomes a charge of `chargeNanos`. */
export function settle(accounts: readonly Account[], heldNanos: Nanos, chargeNanos: Nanos): void {
  for (const a of accounts) {
    a.heldNanos -= heldNanos;
    a.spentNanos += chargeNanos;
  }
}
