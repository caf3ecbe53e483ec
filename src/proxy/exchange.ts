import type { ServerResponse } from 'node:http';
import { describeRefusal } from '../budgets/index.js';
import type { Account, Refusal } from '../budgets/index.js';
import type { Nanos } from '../pricing/index.js';
import type { ErrorCode, StreamMeter } from '../providers/types.js';
import type { Admitted } from './admit.js';
import { sendError } from './context.js';
import type { ProxyContext, Route } from './context.js';
import { responseHeadersForClient } from './headers.js';
import { HoldLife } from './hold-life.js';
import { finish, finishFromEstimate } from './settle.js';
import { CallAbort } from './upstream-call.js';

/**
 * One admitted request on its way through dispatch, meter and settle: what the steps learn about
 * it (status, ids, the meter, the provider's own cost) and how it can be stopped. The money side
 * (hold, growth, clock, settled) is its HoldLife.
 */
export class Exchange {
  /** Stops the provider call (an AbortController and its signal were ~5 µs a request, profiled). */
  readonly abort = new CallAbort();
  readonly life: HoldLife;
  requestId: string;
  status: number | null = null;
  /** A stream's meter exists from the moment the request leaves: a model may think for a long time before the provider's headers, and that thinking is billed. */
  meter: StreamMeter | null;
  providerCostNanos: Nanos | null = null;
  /** OpenRouter without a generation-id header: the id in the body is what reconcile asks for. */
  bodyIdWins = false;
  bodyId: string | undefined;
  /** Set once the response is a stream: how a refusal or a kill ends it from then on. */
  cutStream: ((refusal: Refusal) => void) | null = null;

  constructor(
    readonly ctx: ProxyContext,
    readonly route: Route,
    readonly res: ServerResponse,
    readonly admitted: Admitted,
  ) {
    this.life = new HoldLife(ctx.bank, admitted.hold, admitted.model, admitted.stepNanos, ctx.options.marginTokens);
    this.requestId = admitted.hold.id;
    this.meter = admitted.info.stream ? route.adapter.newStreamMeter(admitted.info) : null;
  }

  /** The settle's commit (group commit): the response's last byte waits for it, so a finished request is on disk first. */
  ledgerWrite: Promise<void> = Promise.resolve();

  get settled(): boolean {
    return this.life.settled;
  }

  /** Ends the response once its ledger row is durable. */
  endAfterSettle(last?: string | Buffer): void {
    const res = this.res;
    void this.ledgerWrite.then(() => {
      if (res.destroyed) return;
      if (last === undefined) res.end();
      else res.end(last);
    });
  }

  /** What the provider may bill for this request now (`afterRead`: see HoldLife.estimatedCharge). */
  estimatedCharge(afterRead = false): Nanos {
    return this.life.estimatedCharge(this.meter, afterRead);
  }

  clientHeaders(h: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
    const c = this.admitted.clampedTo;
    return c === null ? responseHeadersForClient(h) : { ...responseHeadersForClient(h), 'x-spendcap-clamped-max-tokens': String(c) };
  }

  /** Before the response started: stop the provider, charge what it may have produced, answer with the refusal. */
  refuseBeforeResponse(code: ErrorCode, notice: string, detail: string): void {
    this.abort.abort();
    finishFromEstimate(this, 'cut', detail);
    sendError(this.res, this.route.adapter, code, notice);
  }

  /** The hold's clock found no room left: cut the stream, or refuse the request if its response has not started. */
  onClockRefusal(refusal: Refusal): void {
    this.life.stopClock();
    this.life.exhaust(refusal);
    if (this.cutStream) this.cutStream(refusal);
    else if (!this.settled) this.refuseBeforeResponse(refusal.code, describeRefusal(refusal), `${refusal.code}: ${refusal.account.label} (before the response started)`);
  }

  /** `spendcap kill` (or a budget killed) reached this request. */
  onKill(account: Account): void {
    const refusal: Refusal = { code: 'E_KILLED', account, neededNanos: 0 };
    if (this.cutStream) this.cutStream(refusal);
    else if (!this.settled) this.refuseBeforeResponse('E_KILLED', describeRefusal(refusal), 'killed before the response started');
  }

  /** Re-checks the hold on the clock while the meter says output may be hidden (thinking). */
  syncClock(): void {
    const m = this.meter;
    if (m === null) return;
    if (m.needsClock) this.life.startClock((this.#tick ??= this.guarded(() => this.#onTick())));
    else this.life.stopClock();
  }

  /** Made once per request, not per chunk: syncClock runs on every chunk. */
  #tick: (() => void) | null = null;

  #onTick(): void {
    const m = this.meter;
    if (this.settled || m === null) return this.life.stopClock();
    const refusal = this.life.reassess(m);
    if (refusal !== null) this.onClockRefusal(refusal);
  }

  /**
   * The last resort for one request: a bug or an input nobody foresaw, thrown from a stream
   * callback, ends this request (charged what it may have cost) instead of the process.
   */
  fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.ctx.log(`internal error on ${this.route.path} for ${this.life.hold.key.record.name}: ${message}`);
    this.abort.abort();
    try {
      if (!this.settled) {
        let charge = this.life.amountNanos;
        try {
          charge = this.estimatedCharge();
        } catch {
          // The hold is what this request may cost at most.
        }
        finish(this, 'error', null, charge, `spendcap internal error: ${message}`);
      }
    } catch (settleErr) {
      this.ctx.log(`could not settle after an internal error: ${(settleErr as Error).message}`);
    }
    if (!this.res.headersSent) sendError(this.res, this.route.adapter, 'E_UPSTREAM', `spendcap internal error: ${message}`);
    else this.res.destroy();
  }

  guarded<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
    return (...args: A): void => {
      try {
        fn(...args);
      } catch (err) {
        this.fail(err);
      }
    };
  }
}
