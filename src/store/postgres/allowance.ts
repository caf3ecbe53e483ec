import type { Account } from '../../budgets/account.js';
import type { Allowance } from '../../budgets/allowance.js';
import type { Nanos } from '../../pricing/index.js';
import type { HoldRecord, LedgerRow } from '../types.js';
import type { Slot } from './leases.js';
import type { TeamLedger } from './team.js';

/** Below this much free on a budget's slice, a top-up goes out before anyone needs it ($0.004). */
const LOW_WATER_NANOS = 4_000_000;

/**
 * The Bank's room in team mode: the lease of each hard budget the request draws on (key, global,
 * tag). Sessions and soft budgets stay per instance (they never refuse on another's spend).
 */
export function slotsOf(accounts: readonly Account[]): Slot[] {
  const slots: Slot[] = [];
  for (const a of accounts) {
    if (a.mode !== 'hard' || a.budgetId === undefined || a.periodStart === undefined || a.scope === 'session') continue;
    slots.push({ budgetId: a.budgetId, periodStart: a.periodStart });
  }
  return slots;
}

/** Team mode's Allowance over this instance's TeamLedger. Every call but waitForRoom and recover is synchronous. */
export class LeaseAllowance implements Allowance {
  readonly #team: TeamLedger;
  /**
   * Room a waitForRoom took for its caller, kept until the caller's admission right after (same
   * accounts array): handing it back first would let another waiter take it. Returned at the next
   * turn of the event loop if the caller did not use it.
   */
  readonly #credit = new WeakMap<readonly Account[], Nanos>();

  constructor(team: TeamLedger) {
    this.#team = team;
  }

  room(accounts: readonly Account[]): Nanos {
    const slots = slotsOf(accounts);
    let room = Number.POSITIVE_INFINITY;
    for (const slot of slots) room = Math.min(room, this.#team.free(slot));
    // Running low: the top-up goes out now, so a stream's next growth finds room without waiting.
    this.#team.prefetch(slots, LOW_WATER_NANOS);
    return room + (this.#credit.get(accounts) ?? 0);
  }

  take(accounts: readonly Account[], nanos: Nanos): boolean {
    const slots = slotsOf(accounts);
    this.#team.stats.admits++;
    const credit = this.#credit.get(accounts);
    if (credit !== undefined) {
      this.#credit.delete(accounts);
      if (credit >= nanos) {
        this.#team.release(slots, credit - nanos);
        return true;
      }
      this.#team.release(slots, credit);
    }
    if (!this.#team.tryAdmit(slots, nanos)) {
      // The next request should not find the slice empty either.
      this.#team.prefetch(slots, nanos);
      return false;
    }
    // Keep about one more of these free: the top-up goes out now, off this request's path. A slice
    // that could not fund another is short already (the room may all be leased out): top up at once.
    if (slots.some((s) => this.#team.free(s) < nanos)) this.#team.short(slots, nanos);
    else this.#team.prefetch(slots, nanos);
    return true;
  }

  /**
   * Half a growth step: a stream asks for its next step when half of the last one is left, so when
   * the slice is dry it still has that half to run on while the top-up (and, with the room all
   * leased out, the other instances' give-back) comes: a grant is one round trip, a give-back two.
   */
  aheadNanos(stepNanos: Nanos): Nanos {
    return Math.floor(stepNanos / 2);
  }

  short(accounts: readonly Account[], nanos: Nanos): void {
    this.#team.short(slotsOf(accounts), nanos);
  }

  topUp(accounts: readonly Account[], nanos: Nanos): Promise<void> {
    return this.#team.topUpOnce(slotsOf(accounts), nanos);
  }

  give(accounts: readonly Account[], nanos: Nanos): void {
    this.#team.release(slotsOf(accounts), nanos);
  }

  settle(accounts: readonly Account[], heldNanos: Nanos, costNanos: Nanos): void {
    this.#team.settle(slotsOf(accounts), heldNanos, costNanos);
  }

  async waitForRoom(accounts: readonly Account[], nanos: Nanos): Promise<boolean> {
    const slots = slotsOf(accounts);
    if (slots.length === 0) return false;
    // admit() tops up and waits at most one flush round; the room it took is handed back for the
    // caller's own (synchronous) admission right after.
    const ok = await this.#team.admit(slots, nanos);
    this.#team.stats.admits--;
    if (!ok) return false;
    const before = this.#credit.get(accounts);
    if (before !== undefined) this.#team.release(slots, before);
    this.#credit.set(accounts, nanos);
    setImmediate(() => {
      if (this.#credit.get(accounts) !== nanos) return;
      this.#credit.delete(accounts);
      this.#team.release(slots, nanos);
    });
    return true;
  }

  writeHold(h: HoldRecord): void {
    this.#team.writeHold(h);
  }

  writeSettled(holdId: string, row: LedgerRow): void {
    this.#team.writeSettled(holdId, row);
  }

  async recover(): Promise<number> {
    return (await this.#team.start()).holds;
  }
}
