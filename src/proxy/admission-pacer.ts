/**
 * Sends a burst of streams upstream one per event-loop turn, so that the loop reads its sockets in between.
 *
 * The requests of a burst arrive in one loop turn, and their admissions, holds and upstream calls run
 * side by side. On a fresh process, before V8 has compiled that code, 32 of them kept the loop from
 * polling for about 20 ms. The first streams' response headers waited in their sockets all that time.
 * Time to headers is the bound spendcap keeps on the abort latency, so every cut stream of that burst
 * was charged 14-31 ms of output in flight, where a warm upstream shows 2-3 ms.
 *
 * So while streams wait, one goes on per loop turn, each after the loop's poll: the I/O of the
 * streams before it, their answers included, is read in between. A lone stream never waits.
 * - The pacer is passed once a stream's hold is open and on disk, just before its upstream call.
 *   Paced before its hold, the burst's first streams grew into the cap while the last ones waited,
 *   and 1 of 16 was refused.
 * - Only streams wait: a cut stream's charge is what the abort latency sizes. A whole reply is never
 *   cut. Pacing those too halved the JSON throughput of 32 keep-alive clients in `npm run bench`
 *   (0.23-0.28 of the floor, against 0.47-0.52).
 *
 * `budgetMs` lets more than one go on in the same turn, while that turn has run less than it.
 */
export const TURN_BUDGET_MS = 0;

export class AdmissionPacer {
  /** When the current loop turn's first stream went on (performance.now()), or null between turns. */
  #turnStart: number | null = null;
  readonly #waiting: Array<() => void> = [];

  constructor(
    private readonly budgetMs: number = TURN_BUDGET_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Streams waiting for a later loop turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Null: go on now. Else the promise of this stream's turn. */
  turn(): Promise<void> | null {
    if (this.#waiting.length === 0) {
      if (this.#turnStart === null) {
        this.#startTurn();
        return null;
      }
      if (this.now() - this.#turnStart < this.budgetMs) return null;
    }
    return new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  /**
   * The turn ends in the loop's check phase, after its I/O callbacks. Scheduled from a check phase, as
   * every later one is, the next end comes after the loop's next poll.
   */
  #startTurn(): void {
    this.#turnStart = this.now();
    setImmediate(this.#nextTurn);
  }

  /** A turn ends: if streams wait, a new turn starts, and they go on one at a time while its budget lasts. */
  readonly #nextTurn = (): void => {
    this.#turnStart = null;
    if (this.#waiting.length === 0) return;
    this.#startTurn();
    this.#admitNext();
  };

  /**
   * One stream goes on. The check after it is queued behind the stream's continuation, so it runs once
   * that continuation's synchronous part is done, and measures it.
   */
  readonly #admitNext = (): void => {
    this.#waiting.shift()?.();
    queueMicrotask(this.#continueTurn);
  };

  readonly #continueTurn = (): void => {
    if (this.#waiting.length === 0 || this.#turnStart === null) return;
    if (this.now() - this.#turnStart < this.budgetMs) this.#admitNext();
  };
}
