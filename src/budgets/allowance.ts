import type { Nanos } from '../pricing/index.js';
import type { HoldRecord, LedgerRow } from '../store/index.js';
import type { Account } from './account.js';

/**
 * Where the Bank's room comes from beyond its own accounts. Local (SQLite) mode has none: room is
 * cap − spent − held of the accounts, as always. Team mode plugs in this instance's leases
 * (src/store/postgres/allowance.ts): admission stays synchronous and in memory, against the slice
 * of each budget this instance leased; the hold and ledger writes go out in the lease ledger's batch.
 */
export interface Allowance {
  /** What the hard budgets among `accounts` still allow on this instance, now (may start a top-up). */
  room(accounts: readonly Account[]): Nanos;
  /** Takes `nanos` on every hard budget's slice, all or none, synchronously. */
  take(accounts: readonly Account[], nanos: Nanos): boolean;
  give(accounts: readonly Account[], nanos: Nanos): void;
  settle(accounts: readonly Account[], heldNanos: Nanos, costNanos: Nanos): void;
  /**
   * How far ahead of its need a stream's hold grows, for a hold that grows by `stepNanos`: room a
   * stream still holds when its instance's slice runs dry, so that a top-up (or other instances
   * giving back) can land before the stream needs it. 0: grow only when needed (local mode).
   */
  aheadNanos(stepNanos: Nanos): Nanos;
  /** A running stream wants `nanos` more than there is room for here: top up now (not awaited). */
  short(accounts: readonly Account[], nanos: Nanos): void;
  /** One top-up of the slices that have less than `nanos` free, awaited; no wait for other instances to give back. */
  topUp(accounts: readonly Account[], nanos: Nanos): Promise<void>;
  /** Top-ups (and waits for other instances to give back) for a bounded time; true when `nanos` would now fit. */
  waitForRoom(accounts: readonly Account[], nanos: Nanos): Promise<boolean>;
  /** The hold as it is now, written in the next batch. */
  writeHold(h: HoldRecord): void;
  writeSettled(holdId: string, row: LedgerRow): void;
  /** This instance's holds and leases left by its previous run, settled; the count of holds. */
  recover(): Promise<number>;
}
