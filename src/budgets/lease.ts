import type { Nanos } from '../pricing/index.js';

/**
 * Team mode: several spendcap instances share one budget on Postgres. The database row holds
 * `spent` and `leased` (the sum of every instance's lease); an instance takes a slice of the room
 * with one conditional UPDATE and then admits and grows holds against that slice in memory, with no
 * round trip per request or per token. These are the pure decisions; the SQL is in
 * src/store/postgres/leases.ts and the timers in src/store/postgres/team.ts.
 *
 * Invariant: spent + leased <= cap in the database, and on each instance held + used <= granted, so
 * the money every instance can spend never exceeds the cap.
 */

export interface LeasePolicy {
  /** Smallest slice worth a round trip (far from the cap). */
  minChunkNanos: Nanos;
  /** Largest slice one instance takes at once: bounds what a crash strands until the lease expires. */
  maxChunkNanos: Nanos;
  /** A lease not renewed for this long belongs to a dead instance: the others reclaim it. */
  ttlMs: number;
}

export const DEFAULT_LEASE_POLICY: LeasePolicy = {
  minChunkNanos: 1_000_000, // $0.001
  maxChunkNanos: 500_000_000, // $0.50
  ttlMs: 10_000,
};

/** The budget's row as last read from the database. */
export interface RoomView {
  capNanos: Nanos;
  spentNanos: Nanos;
  /** Every instance's lease, this one's included. */
  leasedNanos: Nanos;
  /** Instances with a live heartbeat (this one included; at least 1). */
  activeInstances: number;
}

/** One instance's slice of one budget, in memory. */
export interface LocalLease {
  /** What the database counts as leased to this instance. */
  grantedNanos: Nanos;
  /** Holds of requests in flight on this instance. */
  heldNanos: Nanos;
  /** Settled on this instance, not yet written to the database's `spent`. */
  usedNanos: Nanos;
}

export function newLease(): LocalLease {
  return { grantedNanos: 0, heldNanos: 0, usedNanos: 0 };
}

/** Room left in this instance's slice. */
export function leaseFree(l: LocalLease): Nanos {
  return l.grantedNanos - l.heldNanos - l.usedNanos;
}

/**
 * The slice this instance should hold: a fair share of the room not leased to others, split by the
 * active instances, between the policy's bounds, never more than there is. Near the cap the share
 * shrinks, so little room sits unused on one instance while another refuses.
 */
export function fairShare(view: RoomView, mineNanos: Nanos, policy: LeasePolicy): Nanos {
  const available = Math.max(0, view.capNanos - view.spentNanos - (view.leasedNanos - mineNanos));
  const share = Math.floor(available / Math.max(1, view.activeInstances));
  return Math.min(available, Math.min(policy.maxChunkNanos, Math.max(policy.minChunkNanos, share)));
}

/** What to ask the database for so that `needNanos` more fits: at least the shortfall, ideally up to the fair share. */
export function topUp(l: LocalLease, needNanos: Nanos, view: RoomView | null, policy: LeasePolicy): { needNanos: Nanos; wantNanos: Nanos } {
  const free = leaseFree(l);
  const shortfall = Math.max(0, needNanos - free);
  const target = view ? fairShare(view, l.grantedNanos, policy) : policy.minChunkNanos;
  // After this request the slice should still have about the fair share free for the next ones.
  const after = Math.max(0, free - needNanos);
  return { needNanos: shortfall, wantNanos: shortfall + Math.min(policy.maxChunkNanos, Math.max(0, target - after)) };
}

/**
 * What a refill asks for, off any request's path: `levelNanos` free at least, up to the fair share
 * free. Nothing of it is taken at once, so unlike topUp it does not add the level on top of the fair
 * share: a refill that did (a level of half a share, then a share more) let the first instance to
 * ask on a fresh budget take half of the cap and the third find it all leased (three instances, 12
 * streams: the third's slice ran dry within 30 ms and one of its streams was cut at its first chunk).
 */
export function refill(l: LocalLease, levelNanos: Nanos, view: RoomView | null, policy: LeasePolicy): { needNanos: Nanos; wantNanos: Nanos } {
  const free = Math.max(0, leaseFree(l));
  const target = view ? fairShare(view, l.grantedNanos, policy) : policy.minChunkNanos;
  const need = Math.max(0, levelNanos - free);
  return { needNanos: need, wantNanos: Math.max(need, Math.min(policy.maxChunkNanos, target - free)) };
}

/** Takes `nanos` from the slice if it fits (the in-memory admission). */
export function admitLocal(l: LocalLease, nanos: Nanos): boolean {
  if (nanos > leaseFree(l)) return false;
  l.heldNanos += nanos;
  return true;
}

export function releaseLocal(l: LocalLease, nanos: Nanos): void {
  l.heldNanos -= nanos;
}

/** A hold of `heldNanos` ended costing `costNanos`. A cost above the hold (a late usage report) still counts in full. */
export function settleLocal(l: LocalLease, heldNanos: Nanos, costNanos: Nanos): void {
  l.heldNanos -= heldNanos;
  l.usedNanos += costNanos;
}

/** What one batched write moves: `spend` from leased into spent, `give back` from leased into room. */
export interface FlushPlan {
  spendNanos: Nanos;
  returnNanos: Nanos;
}

/**
 * The batch to write: everything used becomes spent; of the free slice, whatever exceeds the fair
 * share goes back to the room (all of it when nothing is held and `idle`). A cost above what was
 * granted (used + held > granted) is still written in full: the database's spent may then pass the
 * cap by that overshoot, which is the truth about the bill.
 */
export function planFlush(l: LocalLease, view: RoomView | null, policy: LeasePolicy, idle: boolean): FlushPlan {
  const spend = l.usedNanos;
  const free = Math.max(0, leaseFree(l));
  const keep = idle && l.heldNanos === 0 ? 0 : view ? fairShare(view, l.grantedNanos, policy) : free;
  return { spendNanos: spend, returnNanos: Math.max(0, free - keep) };
}

/** After the database took the flush: the slice shrinks by what was spent and returned. */
export function applyFlush(l: LocalLease, plan: FlushPlan): void {
  l.usedNanos -= plan.spendNanos;
  l.grantedNanos = Math.max(0, l.grantedNanos - plan.spendNanos - plan.returnNanos);
}

/**
 * While a flush is being written (one round trip, longer under load) requests go on being admitted:
 * the room it gives back must leave the slice when the flush is planned, not when it lands, or an
 * admission meanwhile takes room the database no longer counts as this instance's and the holds
 * then settle past the cap. Returns the plan left to apply once the write succeeded (the spend).
 */
export function beginReturn(l: LocalLease, plan: FlushPlan): FlushPlan {
  l.grantedNanos -= plan.returnNanos;
  return { spendNanos: plan.spendNanos, returnNanos: 0 };
}

/** The flush failed: the room it would have given back is this slice's again. */
export function undoReturn(l: LocalLease, plan: FlushPlan): void {
  l.grantedNanos += plan.returnNanos;
}

/** After the database granted `grantedNanos` more. */
export function applyGrant(l: LocalLease, grantedNanos: Nanos): void {
  l.grantedNanos += grantedNanos;
}
