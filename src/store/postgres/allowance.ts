import type { Account } from '../../budgets/account.js';
import type { Allowance } from '../../budgets/allowance.js';
import type { Nanos } from '../../pricing/index.js';
import type { HoldRecord, LedgerRow } from '../types.js';
import type { Slot } from './leases.js';
import type { TeamLedger } from './team.js';

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

  constructor(team: TeamLedger) {
    this.#team = team;
  }

  room(accounts: readonly Account[]): Nanos {
    let room = Number.POSITIVE_INFINITY;
    for (const slot of slotsOf(accounts)) room = Math.min(room, this.#team.free(slot));
    return room;
  }

  take(accounts: readonly Account[], nanos: Nanos): boolean {
    const slots = slotsOf(accounts);
    this.#team.stats.admits++;
    if (!this.#team.tryAdmit(slots, nanos)) {
      // The next request should not find the slice empty either.
      this.#team.prefetch(slots, nanos);
      return false;
    }
    // Keep about one more of these free: the top-up goes out now, off this request's path.
    this.#team.prefetch(slots, nanos);
    return true;
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
    if (ok) this.#team.release(slots, nanos);
    return ok;
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
