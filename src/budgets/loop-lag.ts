/**
 * How late this process's event loop runs. spendcap reads an upstream only when its loop gets to the
 * socket; meanwhile the provider keeps writing, and billing. A loop starved by a loaded machine (or by
 * heavy work in the same process) reads tens to hundreds of ms late, and what the provider wrote in
 * that time is billed before spendcap sees it: a stream's in-flight margin must cover its token rate
 * over that lag as well as over the abort latency.
 *
 * Measured by timer drift: a timer due every `periodMs` that fires late was held up by the loop (or by
 * the OS not scheduling the process) for that long. The lag to plan with, over the last `windowMs`:
 * the largest drift (the next stall may come before a second one is seen), and stalls that recur with a
 * 50% allowance (a loaded machine's stalls vary: in CI a loop planned for its 300 ms stalls met 330 ms
 * ones, and the bill passed the cap by 10%); or the current one when the loop is late right now.
 */
export class LoopLag {
  #lastTick: number;
  /** The last tick's drift: how long the loop's latest turn kept I/O waiting. */
  #lastLateMs = 0;
  /** The window's drifts (time seen, ms late), oldest first: at most one per tick. */
  readonly #drifts: { t: number; lateMs: number }[] = [];
  /** The lag to plan with as of the last tick (see the class). */
  #planMs = 0;

  constructor(
    now: number,
    /** How often the timer is due, ms. */
    readonly periodMs: number = LOOP_SAMPLE_MS,
    /** How long a stall is remembered, ms: a loop that stalled is likely to stall again soon. */
    readonly windowMs: number = LOOP_LAG_WINDOW_MS,
  ) {
    this.#lastTick = now;
  }

  /** The timer fired at `now`. */
  tick(now: number): void {
    const late = Math.max(0, now - this.#lastTick - this.periodMs);
    this.#lastTick = now;
    this.#lastLateMs = late;
    const d = this.#drifts;
    if (late > 0) d.push({ t: now, lateMs: late });
    while (d.length > 0 && d[0]!.t < now - this.windowMs) d.shift();
    let first = 0;
    let second = 0;
    for (const x of d) {
      if (x.lateMs > first) [first, second] = [x.lateMs, first];
      else if (x.lateMs > second) second = x.lateMs;
    }
    // One stall is planned for as it was; a second says the loop stalls again and again, and by how much more.
    this.#planMs = Math.max(first, second * RECURRING_STALL_FACTOR);
  }

  /**
   * How late the loop may read a socket before the next check, ms: the window's plan (see the class),
   * or the current one when the loop is late right now (the timer has not had its turn).
   */
  lagMs(now: number): number {
    return Math.min(MAX_LOOP_LAG_MS, Math.max(this.#planMs, now - this.#lastTick - this.periodMs, 0));
  }

  /**
   * How late the loop reads right now, ms: the last tick's drift, or the current one when the timer is
   * overdue. What a read just now brought waited at most that long in the socket, so it bounds the
   * backlog behind it; `lagMs` is the one to plan ahead with.
   */
  currentLagMs(now: number): number {
    return Math.min(MAX_LOOP_LAG_MS, Math.max(0, this.#lastLateMs, now - this.#lastTick - this.periodMs));
  }
}

/** The sampler's period, ms: short enough to see a stall of a few ms, cheap (100 wake-ups a second). */
export const LOOP_SAMPLE_MS = 10;
/** The allowance on stalls that recur: the next one may be longer (measured: 10% in CI). */
export const RECURRING_STALL_FACTOR = 1.5;
/** How long a stall counts, ms. */
export const LOOP_LAG_WINDOW_MS = 1000;
/** A stall longer than this is not planned for: margins that large would refuse every stream anyway. */
export const MAX_LOOP_LAG_MS = 2000;

let sampler: LoopLag | null = null;

/** The process's sampler: starts on the first call; its timer never keeps the process alive. */
function processLag(): LoopLag {
  if (sampler === null) {
    const lag = new LoopLag(performance.now());
    setInterval(() => lag.tick(performance.now()), LOOP_SAMPLE_MS).unref();
    sampler = lag;
  }
  return sampler;
}

/** The process's event-loop lag to plan ahead with, ms: the largest of the last LOOP_LAG_WINDOW_MS (see LoopLag). */
export function loopLagMs(): number {
  return processLag().lagMs(performance.now());
}

/** How late the process's loop reads right now, ms (see LoopLag.currentLagMs). */
export function currentLoopLagMs(): number {
  return processLag().currentLagMs(performance.now());
}
