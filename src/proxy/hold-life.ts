import { findRefusal, hiddenMarginTokens, HIDDEN_CLOCK_MS, InflightMargin, currentLoopLagMs, generationTokensPerMs, loopLagMs, MAX_GENERATION_TOKENS_PER_MS, planGrowth, UpstreamLatency, UpstreamRate } from '../budgets/index.js';
import type { Bank, Hold, KeyEntry, Refusal } from '../budgets/index.js';
import type { Nanos } from '../pricing/index.js';
import type { StreamMeter } from '../providers/types.js';
import { streamCostNanos } from './cost.js';
import type { CostModel } from './cost.js';
import { safeTokens } from './usage-guard.js';

/**
 * How long an abort may take to stop the provider: one round trip and its reaction, bounded by the
 * quickest recent time to response headers of the same upstream (see UpstreamLatency), kept within these.
 */
const MIN_ABORT_LATENCY_MS = 2;
const MAX_ABORT_LATENCY_MS = 2000;
/** Before the provider's headers, when the round trip is not known yet. */
const ABORT_LATENCY_BEFORE_HEADERS_MS = 100;
/** How often a stream with hidden output (thinking) has its hold re-checked between events. */
export const CLOCK_MS = HIDDEN_CLOCK_MS;

/** A stream's rate counts for the upstream's prior once it has run this long (a shorter one is a burst). */
const RATE_SAMPLE_MIN_AGE_MS = 100;

/** What spendcap knows of one upstream (provider and base URL): recent times to headers and stream rates; one registry, process-wide. */
interface UpstreamStats {
  latency: UpstreamLatency;
  rate: UpstreamRate;
}
const upstreams = new Map<string, UpstreamStats>();

function upstreamStats(key: KeyEntry): UpstreamStats {
  const k = `${key.record.provider}\u0000${key.record.baseUrl ?? ''}`;
  let u = upstreams.get(k);
  if (u === undefined) upstreams.set(k, (u = { latency: new UpstreamLatency(), rate: new UpstreamRate() }));
  return u;
}

function clampLatency(ms: number): number {
  return Math.min(MAX_ABORT_LATENCY_MS, Math.max(MIN_ABORT_LATENCY_MS, ms));
}

/** The abort latency before this request's headers: the upstream's quickest recent answer, or a guess before any. */
function latencyBeforeHeaders(u: UpstreamStats): number {
  return clampLatency(u.latency.floor(ABORT_LATENCY_BEFORE_HEADERS_MS));
}

/**
 * Which margin a cost counts: 'hold' looks ahead (the next chunk, the lag, hidden output until the next
 * check); 'charge' is what a stream stopped now may have in flight; 'after-read' the same once spendcap
 * has read everything its socket brought (see InflightMargin.chargeAfterReadTokens).
 */
type Charge = 'hold' | 'charge' | 'after-read';

/**
 * Output tokens the provider may write before spendcap first reads a new stream: the upstream's recent
 * rate over the abort latency and the loop's lag. Idle, a few tokens; on a starved loop hundreds, all
 * billed, while room admitted to others meanwhile would be gone. Admission holds it ahead when the
 * budgets have room for it (its first step), not as a condition of admission.
 */
export function firstReadTokens(key: KeyEntry): number {
  const u = upstreamStats(key);
  const rate = u.rate.fastest();
  const latency = latencyBeforeHeaders(u);
  const lag = loopLagMs();
  return Math.ceil(Math.min(rate * (latency + lag), rate * latency + MAX_GENERATION_TOKENS_PER_MS * lag));
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
    // The lag sampler runs from the first request on: a stall before this stream's first chunk counts too.
    const u = upstreamStats(hold.key);
    this.#inflight = new InflightMargin(marginTokens, latencyBeforeHeaders(u), loopLagMs(), u.rate.fastest());
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
    const latency = upstreamStats(this.hold.key).latency;
    latency.observe(afterMs);
    this.#inflight.latencyMs = clampLatency(latency.floor(afterMs));
  }

  /**
   * Output tokens to pay for ahead of what the meter has read: what may be in flight. Hidden output until
   * the next clock check is held ahead, not charged: a cut stops the clock, and what the provider generated
   * until now is already in the meter's clock estimate.
   */
  #marginTokens(m: StreamMeter, now: number, out: number, kind: Charge): number {
    // A starved event loop reads the upstream late while the provider keeps writing: the margin looks that much further ahead.
    const lag = loopLagMs();
    this.#inflight.lagMs = lag;
    this.#inflight.currentLagMs = currentLoopLagMs();
    this.#inflight.generationTokensPerMs = generationTokensPerMs(m.hiddenTokensPerSecond);
    this.#inflight.observe(now, out);
    // On the clock the meter bounds the provider's speed (hidden output is counted at it): so is what may be in flight.
    const speed = m.needsClock ? m.hiddenTokensPerSecond : undefined;
    if (kind === 'hold') {
      const t = this.#inflight.tokens(now, out, speed);
      return m.needsClock ? Math.max(t, hiddenMarginTokens(m.hiddenTokensPerSecond, lag)) : t;
    }
    if (kind === 'charge' || m.needsClock) return this.#inflight.chargeTokens(now, out, speed);
    // Read to the end of its socket read, a stream has only the abort latency in flight: the upstream's
    // quickest recent answer now, which a burst's later answers may have lowered since this stream's own.
    // (Not on the clock: a clock meter's count runs at the provider's speed bound, not its measured rate.)
    // Only a relayed stream reads to the end of a socket read: its headers, and its own answer, are in the floor.
    this.#inflight.latencyMs = clampLatency(upstreamStats(this.hold.key).latency.floor(this.#inflight.latencyMs));
    return this.#inflight.chargeAfterReadTokens(now, out);
  }

  /** What a stream may have cost so far, plus the margin in flight of `kind` (see Charge). */
  costSoFar(m: StreamMeter, kind: Charge = 'hold'): Nanos {
    const out = safeTokens(m.outputTokensForHold());
    return streamCostNanos(this.model, m.usage, m.inputKnown, out + this.#marginTokens(m, Date.now(), out, kind));
  }

  /**
   * Cost the provider may bill when spendcap has not seen the final usage: everything seen plus what may
   * be in flight. `afterRead`: spendcap has read the whole socket read the stream's last bytes came in
   * (see StreamRelay's cut), so nothing read late waits behind it.
   */
  estimatedCharge(m: StreamMeter | null, afterRead = false): Nanos {
    if (!m) return this.hold.amountNanos;
    const estimate = this.costSoFar(m, afterRead ? 'after-read' : 'charge');
    // What the stream showed is billed, past the hold or not: a loop stalled longer than its margin
    // planned for reads the provider's output late, in one burst past the hold (16 streams on $0.02
    // at load 8: cut at up to 216 tokens on holds of 143, charged at their holds, billed 1.28 of the
    // cap). Then the hold bounds nothing, and the charge is what was read plus what is in flight.
    // Hidden output on the clock is an estimate (elapsed × a speed bound): it stays within the hold.
    if (!m.needsClock && this.#readCost(m) > this.hold.amountNanos) return estimate;
    return Math.min(this.hold.amountNanos, estimate);
  }

  /** What the output the stream showed so far costs, without any margin. */
  #readCost(m: StreamMeter): Nanos {
    return streamCostNanos(this.model, m.usage, m.inputKnown, safeTokens(m.outputTokensForHold()));
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
    const rate = this.#inflight.lifetimeTokensPerMs(RATE_SAMPLE_MIN_AGE_MS);
    if (rate !== null) upstreamStats(this.hold.key).rate.observe(rate);
    return true;
  }
}
