import { findRefusal, hiddenMarginTokens, HIDDEN_CLOCK_MS, InflightMargin, planGrowth, UpstreamLatency } from '../budgets/index.js';
import type { Bank, Hold, Refusal } from '../budgets/index.js';
import type { Nanos } from '../pricing/index.js';
import type { StreamMeter } from '../providers/types.js';
import { streamCostNanos } from './cost.js';
import type { CostModel } from './cost.js';
import { safeTokens } from './usage-guard.js';

/**
 * How long an abort may take to stop the provider: one round trip and its reaction, bounded by the
 * quickest recent time to response headers of the same upstream (see UpstreamLatency), kept within these.
 */
const MIN_ABORT_LATENCY_MS = 5;
const MAX_ABORT_LATENCY_MS = 2000;
/** Before the provider's headers, when the round trip is not known yet. */
const ABORT_LATENCY_BEFORE_HEADERS_MS = 100;
/** How often a stream with hidden output (thinking) has its hold re-checked between events. */
export const CLOCK_MS = HIDDEN_CLOCK_MS;

/** Each upstream's recent times to headers (provider and base URL): the one registry, process-wide. */
const upstreamLatencies = new Map<string, UpstreamLatency>();

function upstreamLatency(hold: Hold): UpstreamLatency {
  const k = `${hold.key.record.provider}\u0000${hold.key.record.baseUrl ?? ''}`;
  let l = upstreamLatencies.get(k);
  if (l === undefined) upstreamLatencies.set(k, (l = new UpstreamLatency()));
  return l;
}

/**
 * One request's hold from admission to settlement: what it holds, how it grows or shrinks as the
 * stream runs, the clock that re-checks it while output is hidden, and whether it is settled.
 * Every decision about money while a request runs is made here; the relay steps only move bytes.
 */
export class HoldLife {
  #settled = false;
  #clock: NodeJS.Timeout | null = null;
  readonly #inflight: InflightMargin;

  constructor(
    readonly bank: Bank,
    readonly hold: Hold,
    readonly model: CostModel,
    /** How far the hold grows at once (0 for a whole reply: its hold never grows). */
    readonly stepNanos: Nanos,
    marginTokens: number,
  ) {
    this.#inflight = new InflightMargin(marginTokens, ABORT_LATENCY_BEFORE_HEADERS_MS);
  }

  get amountNanos(): Nanos {
    return this.hold.amountNanos;
  }

  /** Settled: the ledger has (or is getting) this request's row; nothing more is charged or re-checked. */
  get settled(): boolean {
    return this.#settled;
  }

  /** The provider's time to headers, once known: the quickest recent one of its upstream is how long an abort may take to stop it. */
  providerAnswered(afterMs: number): void {
    const latency = upstreamLatency(this.hold);
    latency.observe(afterMs);
    this.#inflight.latencyMs = Math.min(MAX_ABORT_LATENCY_MS, Math.max(MIN_ABORT_LATENCY_MS, latency.floor(afterMs)));
  }

  /**
   * Output tokens to pay for ahead of what the meter has read: what may be in flight. Hidden output until
   * the next clock check is held ahead, not charged: a cut stops the clock, and what the provider generated
   * until now is already in the meter's clock estimate.
   */
  #marginTokens(m: StreamMeter, now: number, out: number, forCharge: boolean): number {
    this.#inflight.observe(now, out);
    // On the clock the meter bounds the provider's speed (hidden output is counted at it): so is what may be in flight.
    const speed = m.needsClock ? m.hiddenTokensPerSecond : undefined;
    const t = forCharge ? this.#inflight.chargeTokens(now, out, speed) : this.#inflight.tokens(now, out, speed);
    return m.needsClock && !forCharge ? Math.max(t, hiddenMarginTokens(m.hiddenTokensPerSecond)) : t;
  }

  /** What a stream may have cost so far, plus the margin in flight (`forCharge`: what a cut now is charged). */
  costSoFar(m: StreamMeter, forCharge = false): Nanos {
    const out = safeTokens(m.outputTokensForHold());
    return streamCostNanos(this.model, m.usage, m.inputKnown, out + this.#marginTokens(m, Date.now(), out, forCharge));
  }

  /** Cost the provider may bill when spendcap has not seen the final usage: everything seen plus what may be in flight. */
  estimatedCharge(m: StreamMeter | null): Nanos {
    if (!m) return this.hold.amountNanos;
    return Math.min(this.hold.amountNanos, this.costSoFar(m, true));
  }

  /** Grows (or shrinks) the hold to what the stream may have cost so far; a refusal means cut. */
  reassess(m: StreamMeter): Refusal | null {
    const needed = this.costSoFar(m);
    // A running request may take what a budget marked reached has left (see findRefusal's `live`).
    const room = this.bank.room(this.hold.accounts, true);
    // Team mode grows a reserve ahead of the need: when the instance's slice is dry, the stream runs on
    // it while the top-up comes, and is cut only when the need itself does not fit (as without it).
    const ahead = this.bank.aheadNanos(this.stepNanos);
    let plan = planGrowth(this.hold.amountNanos, needed + ahead, this.stepNanos, room);
    if (plan.action === 'cut' && ahead > 0) {
      this.bank.short(this.hold.accounts, needed + ahead - this.hold.amountNanos);
      plan = planGrowth(this.hold.amountNanos, needed, this.stepNanos, room);
    }
    if (plan.action === 'grow') return this.bank.grow(this.hold, plan.extraNanos);
    if (plan.action === 'shrink') this.bank.shrink(this.hold, plan.releaseNanos);
    else if (plan.action === 'cut') return findRefusal(this.hold.accounts, needed - this.hold.amountNanos, true) ?? { code: 'E_CAP_REACHED', account: this.hold.accounts[0]!, neededNanos: needed };
    return null;
  }

  /** A charge past the hold: the hold grows to it when the budgets have room; the refusal when they do not. */
  growTo(chargeNanos: Nanos): Refusal | null {
    if (chargeNanos <= this.hold.amountNanos) return null;
    return this.bank.grow(this.hold, chargeNanos - this.hold.amountNanos);
  }

  /** The budget that refused is out of room: later requests on it are refused at admission. */
  exhaust(refusal: Refusal): void {
    this.bank.markExhausted(refusal);
  }

  /**
   * Re-checks the hold every CLOCK_MS while the provider may generate output the stream does not
   * show; `tick` decides what a refusal does (the caller knows whether a response has started).
   */
  startClock(tick: () => void): void {
    if (this.#clock !== null || this.#settled) return;
    // The check runs after the event loop's I/O phase, not in the timer phase: after a stall the timer
    // fires before the chunks that arrived meanwhile are read, and it would charge (or cut on) as hidden
    // output what is already in the socket's buffer, counted exactly once read.
    const afterIo = (): void => {
      if (this.#clock !== null) tick();
    };
    this.#clock = setInterval(() => setImmediate(afterIo), CLOCK_MS);
  }

  stopClock(): void {
    if (this.#clock !== null) clearInterval(this.#clock);
    this.#clock = null;
  }

  /** Marks the hold settled (once) and stops its clock; the caller writes the ledger row. */
  markSettled(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.stopClock();
    return true;
  }
}
