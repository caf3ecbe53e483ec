import type pg from 'pg';
import { admitLocal, applyFlush, applyGrant, beginReturn, DEFAULT_LEASE_POLICY, fairShare, leaseFree, newLease, planFlush, refill, releaseLocal, settleLocal, topUp, undoReturn } from '../../budgets/lease.js';
import type { LeasePolicy, LocalLease, RoomView } from '../../budgets/lease.js';
import type { HoldRecord, LedgerRow } from '../types.js';
import { ensureRoom, flushBatch, grantLease, reclaimLeases } from './leases.js';
import type { Reclaimed, RoomRow, Slot } from './leases.js';
import { BudgetListener } from './notify.js';
import type { BudgetChange, ShortSignal } from './notify.js';

export interface TeamOptions {
  pool: pg.Pool;
  /** Connection URL for the LISTEN connection (a pool cannot hold one). */
  url: string;
  /** Stable across restarts of the same instance: its restart recovers its own holds and leases, no one else's. */
  instanceId: string;
  policy?: LeasePolicy;
  /** How often batched writes go out (holds, settlements, returned room, heartbeat). */
  flushMs?: number;
  now?: () => number;
}

/** One budget's state on this instance. */
interface SlotState {
  slot: Slot;
  lease: LocalLease;
  room: RoomView | null;
  killed: boolean;
  mode: 'hard' | 'soft';
  /** A cap change or kill arrived: keep no free slice until the next flush has given it back. */
  revoking: boolean;
  /** A grant in flight for this slot: later top-ups wait on it instead of sending their own. */
  pending: Promise<void> | null;
  /** When a grant last gave less than asked: prefetches skip the slot for a flush round (near the cap every ask would be refused). */
  refusedAt: number;
  /** Another instance is short on this budget: the next flush (sent at once) gives half the free slice back. */
  giveBack: boolean;
  /** When this instance last told the others it is short (one signal per SIGNAL_EVERY of a flush round). */
  signalledAt: number;
}

/**
 * How long a request that found the room all leased out keeps asking, in flush rounds: the others
 * hear its refused grant (NOTIFY) and give back within about one round trip, their fair-share flush
 * at the latest within one round; a loaded machine stretches both. When no other instance holds a
 * lease there is nothing to wait for but this instance's own streams settling: a shorter wait.
 */
const SHORT_WAIT_ROUNDS = 5;
const ALONE_WAIT_ROUNDS = 2;
/** While short, the grant is asked again every this much of a flush round. */
const SHORT_RETRY = 0.25;
/** At most one short signal per slot per this much of a flush round. */
const SIGNAL_EVERY = 0.5;

/**
 * This instance's side of team mode: its leases on every budget it serves, the in-memory
 * admission against them, and one batched write every `flushMs`. Requests never wait on the
 * database unless their budget's slice is used up (then one round trip tops it up).
 */
export class TeamLedger {
  readonly #o: Required<Omit<TeamOptions, 'policy'>> & { policy: LeasePolicy };
  readonly #slots = new Map<string, SlotState>();
  readonly #byBudget = new Map<number, SlotState[]>();
  readonly #holds = new Map<string, HoldRecord>();
  readonly #settled: { holdId: string; row: LedgerRow }[] = [];
  readonly #listener: BudgetListener;
  #timer: NodeJS.Timeout | null = null;
  #reclaimTimer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;
  #stopped = false;
  /** Counters for the figures in docs/deploy.md: admissions, those that waited on a grant, flushes and their time. */
  readonly stats = { admits: 0, waited: 0, grants: 0, grantMs: 0, flushes: 0, flushMs: 0 };
  /** Called when a budget changed anywhere (null: changes may have been missed, reload all). */
  onBudgetChange: ((change: BudgetChange | null) => void) | null = null;
  /** Called when this instance reclaimed dead instances' leases or holds. */
  onReclaim: ((r: { leases: Reclaimed[]; holds: number }) => void) | null = null;
  /** Called when a flush or grant failed (the database is away); the ledger keeps its queue and retries. */
  onError: ((err: Error) => void) | null = null;

  constructor(opts: TeamOptions) {
    this.#o = { policy: DEFAULT_LEASE_POLICY, flushMs: 100, now: Date.now, ...opts };
    this.#listener = new BudgetListener(
      opts.url,
      (c) => this.#changed(c),
      (sig) => this.#heardShort(sig),
    );
  }

  get instanceId(): string {
    return this.#o.instanceId;
  }

  /**
   * Joins the team: registers the heartbeat, settles what this instance's previous run left
   * (its own holds and leases only) and starts listening. Run before serving requests.
   */
  async start(): Promise<{ recovered: Reclaimed[]; holds: number }> {
    const now = this.#o.now();
    await flushBatch(this.#o.pool, this.#batch(now, [], []));
    const own = await reclaimLeases(this.#o.pool, { instanceId: this.#o.instanceId, now, staleBefore: now, own: true });
    await this.#listener.start();
    // A tick while a flush still runs is skipped: the next one carries its writes, flushes never pile up.
    this.#timer = setInterval(() => {
      if (!this.#flushing) void this.flush().catch(() => undefined);
    }, this.#o.flushMs);
    this.#timer.unref();
    // Every instance looks for dead ones twice per TTL; the DELETE … RETURNING lets one win each lease.
    this.#reclaimTimer = setInterval(() => {
      this.reclaimDead().then(
        (r) => {
          if (r.leases.length > 0 || r.holds > 0) this.onReclaim?.(r);
        },
        (err: Error) => this.onError?.(err),
      );
    }, Math.max(50, Math.floor(this.#o.policy.ttlMs / 2)));
    this.#reclaimTimer.unref();
    return { recovered: own.leases, holds: own.holds };
  }

  /** Takes back leases of instances that stopped beating (charged as spent). Any instance may run it; one wins each lease. */
  async reclaimDead(): Promise<{ leases: Reclaimed[]; holds: number }> {
    const now = this.#o.now();
    return reclaimLeases(this.#o.pool, { instanceId: this.#o.instanceId, now, staleBefore: now - this.#o.policy.ttlMs, own: false });
  }

  #state(slot: Slot): SlotState {
    const k = `${slot.budgetId}:${slot.periodStart}`;
    let s = this.#slots.get(k);
    if (!s) {
      s = { slot, lease: newLease(), room: null, killed: false, mode: 'hard', revoking: false, pending: null, refusedAt: -Infinity, giveBack: false, signalledAt: -Infinity };
      this.#slots.set(k, s);
      const list = this.#byBudget.get(slot.budgetId) ?? [];
      list.push(s);
      this.#byBudget.set(slot.budgetId, list);
    }
    return s;
  }

  /** What this instance may still admit on a slot without asking the database. */
  free(slot: Slot): number {
    const s = this.#state(slot);
    return s.revoking ? 0 : leaseFree(s.lease);
  }

  killed(budgetId: number): boolean {
    return (this.#byBudget.get(budgetId) ?? []).some((s) => s.killed);
  }

  /** In memory only: `nanos` on every slot or on none. */
  tryAdmit(slots: readonly Slot[], nanos: number): boolean {
    const states = slots.map((s) => this.#state(s));
    for (const s of states) if (s.killed || s.revoking || (s.mode === 'hard' && leaseFree(s.lease) < nanos)) return false;
    for (const s of states) {
      if (s.mode === 'hard') admitLocal(s.lease, nanos);
      else s.lease.heldNanos += nanos;
    }
    return true;
  }

  /**
   * Admits `nanos` on every slot, topping up the slices that are short (one round trip each, in
   * parallel). When the room is all leased out, the refused grant tells the other instances, which
   * give part of their free slices back at once: the grant is asked again every quarter of a flush
   * round, for SHORT_WAIT_ROUNDS rounds (ALONE_WAIT_ROUNDS when no other instance holds a lease),
   * before refusing.
   */
  async admit(slots: readonly Slot[], nanos: number): Promise<boolean> {
    this.stats.admits++;
    if (this.tryAdmit(slots, nanos)) return true;
    this.stats.waited++;
    const states = slots.map((s) => this.#state(s));
    const started = this.#o.now();
    // Bounded: a 'retry' comes back only after another grant landed or room appeared.
    for (let round = 0; round < 64; round++) {
      if (this.tryAdmit(slots, nanos)) return true;
      if (states.some((s) => s.killed) || this.#stopped) return false;
      const short = states.filter((s) => s.mode === 'hard' && leaseFree(s.lease) < nanos);
      const results = await Promise.all(short.map((s) => this.#topUp(s, nanos, true)));
      if (!results.includes('refused')) continue;
      if (this.tryAdmit(slots, nanos)) return true;
      const othersHold = short.some((s) => s.room !== null && s.room.leasedNanos > s.lease.grantedNanos);
      if (this.#o.now() - started >= (othersHold ? SHORT_WAIT_ROUNDS : ALONE_WAIT_ROUNDS) * this.#o.flushMs) return false;
      await new Promise((r) => setTimeout(r, Math.max(1, Math.floor(this.#o.flushMs * SHORT_RETRY))));
    }
    return this.tryAdmit(slots, nanos);
  }

  /**
   * A running stream on this instance needs `nanos` more than the slice has (it still holds a reserve
   * ahead, see Allowance.aheadNanos): a top-up goes out now, not after the prefetch's pause, and
   * when the room is all leased out the others are told. Off the stream's path.
   */
  short(slots: readonly Slot[], nanos: number): void {
    const now = this.#o.now();
    for (const slot of slots) {
      const s = this.#state(slot);
      if (s.pending || s.killed || s.revoking || s.mode !== 'hard' || this.#stopped || leaseFree(s.lease) >= nanos) continue;
      if (now - s.refusedAt < this.#o.flushMs * SHORT_RETRY) continue;
      void this.#topUp(s, nanos, true);
    }
  }

  /** One top-up (one round trip, or the one already on its way) of every hard slice with less than `nanos` free; never waits for give-backs. */
  async topUpOnce(slots: readonly Slot[], nanos: number): Promise<void> {
    const short = slots.map((s) => this.#state(s)).filter((s) => s.mode === 'hard' && !s.killed && !s.revoking && !this.#stopped && leaseFree(s.lease) < nanos);
    await Promise.all(short.map((s) => this.#topUp(s, nanos, true)));
  }

  /**
   * 'refused' when this call asked the database and got less than the shortfall; 'retry' otherwise.
   * `signal`: a request or a stream is short now (not a prefetch), so a refusal tells the others.
   * `kind`: 'need' takes `nanos` at once and keeps a fair share free beside it; 'refill' (a prefetch)
   * only wants `nanos` free, up to the fair share (see refill in budgets/lease.ts).
   */
  async #topUp(s: SlotState, nanos: number, signal = false, kind: 'need' | 'refill' = 'need'): Promise<'refused' | 'retry'> {
    // One grant at a time per slot: many requests short at once share it, then re-check.
    if (s.pending) {
      await s.pending.catch(() => undefined);
      return 'retry';
    }
    if (leaseFree(s.lease) >= nanos || s.killed) return 'retry';
    let refused = false;
    const run = async (): Promise<void> => {
      const now = this.#o.now();
      const t = kind === 'refill' ? refill(s.lease, nanos, s.room, this.#o.policy) : topUp(s.lease, nanos, s.room, this.#o.policy);
      const tell = signal && now - s.signalledAt >= this.#o.flushMs * SIGNAL_EVERY;
      if (tell) s.signalledAt = now;
      const args = { ...s.slot, instanceId: this.#o.instanceId, needNanos: t.needNanos, wantNanos: t.wantNanos, expiresAt: now + this.#o.policy.ttlMs, activeSince: now - this.#o.policy.ttlMs, signal: tell };
      const t0 = performance.now();
      let r = await grantLease(this.#o.pool, args);
      this.stats.grants++;
      this.stats.grantMs += performance.now() - t0;
      if (r.room === null) {
        // First use of this budget's period anywhere: its room row is created once.
        await ensureRoom(this.#o.pool, s.slot);
        r = await grantLease(this.#o.pool, args);
      }
      applyGrant(s.lease, r.grantedNanos);
      if (r.room) this.#apply(s, r.room);
      refused = r.grantedNanos < t.needNanos;
      if (r.grantedNanos < t.wantNanos) s.refusedAt = this.#o.now();
    };
    s.pending = run().finally(() => (s.pending = null));
    try {
      await s.pending;
    } catch (err) {
      this.onError?.(err as Error);
      return 'refused';
    }
    return refused ? 'refused' : 'retry';
  }

  /**
   * Off the request path: tops up every hard slice that has less than `nanos` free, so the next
   * request (or the next growth of a stream) finds room without waiting. One grant per slot at a time.
   */
  prefetch(slots: readonly Slot[], nanos: number): void {
    const now = this.#o.now();
    for (const slot of slots) {
      const s = this.#state(slot);
      if (s.pending || s.killed || s.revoking || s.mode !== 'hard' || this.#stopped) continue;
      // Half a fair share free at least: streams draw on the slice while the grant is on its way.
      const want = Math.max(nanos, s.room ? Math.floor(fairShare(s.room, s.lease.grantedNanos, this.#o.policy) / 2) : 0);
      if (leaseFree(s.lease) >= want || now - s.refusedAt < this.#o.flushMs) continue;
      void this.#topUp(s, want, false, 'refill');
    }
  }

  release(slots: readonly Slot[], nanos: number): void {
    for (const slot of slots) releaseLocal(this.#state(slot).lease, nanos);
  }

  /** A hold of `heldNanos` cost `costNanos`: in memory now, written in the next batch. */
  settle(slots: readonly Slot[], heldNanos: number, costNanos: number): void {
    for (const slot of slots) settleLocal(this.#state(slot).lease, heldNanos, costNanos);
  }

  /** The hold's row (new or grown) goes out with the next batch, tagged with this instance. */
  writeHold(h: HoldRecord): void {
    this.#holds.set(h.id, h);
  }

  /** The hold ends as this ledger row, in the next batch. */
  writeSettled(holdId: string, row: LedgerRow): void {
    this.#holds.delete(holdId);
    this.#settled.push({ holdId, row });
  }

  #batch(now: number, holds: HoldRecord[], settled: { holdId: string; row: LedgerRow }[]): Parameters<typeof flushBatch>[1] {
    return {
      instanceId: this.#o.instanceId,
      now,
      expiresAt: now + this.#o.policy.ttlMs,
      activeSince: now - this.#o.policy.ttlMs,
      holds,
      settled,
      rooms: [],
    };
  }

  /** Sends everything queued so far in one statement; resolves once it is written (after any flush already running). */
  async flush(opts: { returnAll?: boolean } = {}): Promise<void> {
    while (this.#flushing) await this.#flushing.catch(() => undefined);
    const run = this.#flushOnce(opts.returnAll ?? false).finally(() => {
      if (this.#flushing === run) this.#flushing = null;
    });
    this.#flushing = run;
    return run;
  }

  async #flushOnce(returnAll: boolean): Promise<void> {
    const now = this.#o.now();
    const holds = [...this.#holds.values()];
    this.#holds.clear();
    const settled = this.#settled.splice(0);
    const plans = [...this.#slots.values()].map((s) => {
      // A slice with nothing in flight goes back whole: near the cap another instance may be refusing for want of it.
      const idle = returnAll || s.revoking || s.killed || s.lease.heldNanos === 0;
      const plan = planFlush(s.lease, s.room, this.#o.policy, idle);
      if (idle) plan.returnNanos = Math.max(0, leaseFree(s.lease));
      // Another instance is short: half of the free slice goes back (each signal halves it again).
      else if (s.giveBack) plan.returnNanos = Math.max(plan.returnNanos, Math.ceil(Math.max(0, leaseFree(s.lease)) / 2));
      s.giveBack = false;
      const dec = Math.min(s.lease.grantedNanos, plan.spendNanos + plan.returnNanos);
      // The room going back leaves the slice now: admissions during the write cannot take it.
      return { s, plan, rest: beginReturn(s.lease, plan), dec };
    });
    const batch = this.#batch(now, holds, settled);
    batch.rooms = plans.map(({ s, plan, dec }) => ({ ...s.slot, spendNanos: plan.spendNanos, decNanos: dec }));
    let rooms: RoomRow[];
    const t0 = performance.now();
    try {
      rooms = await flushBatch(this.#o.pool, batch);
      this.stats.flushes++;
      this.stats.flushMs += performance.now() - t0;
    } catch (err) {
      // Nothing was written: requeue, newest hold state wins; the room is still this instance's.
      for (const { s, plan } of plans) undoReturn(s.lease, plan);
      for (const h of holds) if (!this.#holds.has(h.id)) this.#holds.set(h.id, h);
      this.#settled.unshift(...settled);
      this.onError?.(err as Error);
      throw err;
    }
    for (const { s, rest } of plans) {
      applyFlush(s.lease, rest);
      s.revoking = false;
    }
    for (const r of rooms) this.#apply(this.#state(r), r);
  }

  #apply(s: SlotState, r: RoomRow): void {
    s.room = { capNanos: r.capNanos, spentNanos: r.spentNanos, leasedNanos: r.leasedNanos, activeInstances: r.activeInstances };
    s.killed = r.killed;
    s.mode = r.mode;
  }

  /** Another instance was refused a grant on a slot this one holds free room of: give half of it back now. */
  #heardShort(sig: ShortSignal): void {
    if (sig.instanceId === this.#o.instanceId || this.#stopped) return;
    const s = this.#slots.get(`${sig.budgetId}:${sig.periodStart}`);
    if (!s || s.mode !== 'hard' || leaseFree(s.lease) <= 0) return;
    s.giveBack = true;
    // Not taken back by this instance's own prefetch at once: the short one asks again within a round.
    s.refusedAt = this.#o.now();
    void this.flush().catch(() => undefined);
  }

  /** A budget changed somewhere: a kill stops admissions at once; a cap change gives the free slice back before taking more. */
  #changed(c: BudgetChange | null): void {
    if (c) {
      for (const s of this.#byBudget.get(c.id) ?? []) {
        s.killed = c.killed;
        s.mode = c.mode;
        if (s.room && c.capNanos < s.room.capNanos) s.revoking = true;
        if (s.room) s.room = { ...s.room, capNanos: c.capNanos };
      }
    }
    this.onBudgetChange?.(c);
    if (c === null || c.killed) void this.flush().catch(() => undefined);
  }

  /** Stops as a killed process would (tests of kill -9): no last batch, nothing given back. */
  async halt(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#reclaimTimer) clearInterval(this.#reclaimTimer);
    this.#timer = null;
    this.#reclaimTimer = null;
    await this.#flushing?.catch(() => undefined);
    await this.#listener.stop();
  }

  /** Stops: a last batch gives every free slice back (holds still open stay leased until they settle or expire). */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#reclaimTimer) clearInterval(this.#reclaimTimer);
    this.#timer = null;
    this.#reclaimTimer = null;
    await this.#flushing?.catch(() => undefined);
    await this.flush({ returnAll: true }).catch(() => undefined);
    this.#stopped = true;
    await this.#listener.stop();
  }
}
