// The provider call on undici's dispatch API: a handler that hands the status, headers and body
// bytes to the meter directly. `request()` wrapped every call in a promise-returning handler, a
// Readable body stream and an AbortSignal listener: ~35–50 µs of CPU a call more on this VM
// (sequential calls to a local mock, 2026-12-02), on every metered request.
import type { Dispatcher } from 'undici';
import { errors } from 'undici';

/** The provider's answer as the meter reads it. */
export interface UpstreamResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: UpstreamBody;
  /**
   * ms from the request's last byte on the socket to the response's headers: the provider's time to
   * answer, without the wait for a connection (or a connect) in front of it (see HoldLife.providerAnswered).
   */
  answeredAfterMs: number;
}

/**
 * Stops one provider call (the client left, a cut, a kill): before the call connects it is refused
 * at once; after, undici aborts it and its body ends with an error.
 */
export class CallAbort {
  aborted = false;
  #hook: (() => void) | null = null;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const hook = this.#hook;
    this.#hook = null;
    hook?.();
  }

  /** Called by the call once it can be aborted. */
  onAbort(hook: () => void): void {
    if (this.aborted) hook();
    else this.#hook = hook;
  }
}

type DataListener = (chunk: Buffer) => void;
type EndListener = () => void;
type ErrorListener = (err: Error) => void;

/**
 * The body's bytes as events, with the little of a Readable the meter uses (on, pause, resume,
 * destroy). Chunks that arrive before a 'data' listener (the headers and the first bytes often come
 * in one read) wait for it; 'end' and 'error' come after the last chunk and never synchronously
 * inside the call that caused them, as a Readable's do (the relay settles before it hears them).
 */
export class UpstreamBody {
  readonly #data: DataListener[] = [];
  readonly #end: EndListener[] = [];
  readonly #error: ErrorListener[] = [];
  #queue: Buffer[] = [];
  #flowing = false;
  #paused = false;
  /** undici was told to stop reading (onData returned false): resume() must restart it. */
  #held = false;
  #ended = false;
  #failed: Error | null = null;
  #destroyed = false;
  #drainScheduled = false;

  constructor(
    private readonly resumeUpstream: () => void,
    private readonly abortUpstream: () => void,
  ) {}

  on(event: 'data', fn: DataListener): this;
  on(event: 'end', fn: EndListener): this;
  on(event: 'error', fn: ErrorListener): this;
  on(event: 'data' | 'end' | 'error', fn: DataListener | EndListener | ErrorListener): this {
    if (event === 'data') {
      this.#data.push(fn as DataListener);
      this.#flowing = true;
      // Listeners attached together (data, end, error) all hear what arrived before them.
      if (this.#queue.length > 0 || this.#ended || this.#failed !== null) this.#scheduleDrain();
    } else if (event === 'end') this.#end.push(fn as EndListener);
    else this.#error.push(fn as ErrorListener);
    return this;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#drain();
    if (this.#held && !this.#paused) {
      this.#held = false;
      this.resumeUpstream();
    }
  }

  /** The reader is done with the body: nothing more is delivered and the call is aborted. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#queue = [];
    this.abortUpstream();
  }

  /** From undici: one chunk; false asks it to stop reading until resume(). */
  push(chunk: Buffer): boolean {
    if (this.#destroyed) return true;
    if (this.#flowing && !this.#paused && this.#queue.length === 0) {
      for (const fn of this.#data) fn(chunk);
    } else this.#queue.push(chunk);
    if (!this.#paused) return true;
    this.#held = true;
    return false;
  }

  /** From undici: the body is complete. */
  finish(): void {
    this.#ended = true;
    this.#scheduleDrain();
  }

  /** From undici: the call failed after its headers (connection lost, aborted). */
  fail(err: Error): void {
    if (this.#ended || this.#failed !== null) return;
    this.#failed = err;
    this.#scheduleDrain();
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled || !this.#flowing) return;
    this.#drainScheduled = true;
    queueMicrotask(() => {
      this.#drainScheduled = false;
      this.#drain();
    });
  }

  #drain(): void {
    while (this.#queue.length > 0 && !this.#paused && !this.#destroyed) {
      const chunk = this.#queue.shift()!;
      for (const fn of this.#data) fn(chunk);
    }
    if (this.#queue.length > 0 || this.#paused || this.#destroyed) return;
    if (this.#ended) {
      this.#ended = false;
      this.#destroyed = true;
      for (const fn of this.#end) fn();
    } else if (this.#failed !== null) {
      const err = this.#failed;
      this.#destroyed = true;
      for (const fn of this.#error) fn(err);
    }
  }
}

/** Response headers as undici's request() gives them: lower-cased names, repeated ones as arrays, latin1 values. */
function parseHeaders(raw: Buffer[]): Record<string, string | string[] | undefined> {
  const out = Object.create(null) as Record<string, string | string[] | undefined>;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const had = out[name];
    if (had === undefined) out[name] = value;
    else if (typeof had === 'string') out[name] = [had, value];
    else had.push(value);
  }
  return out;
}

/** One call's handler: resolves with the response at its headers, or rejects with what failed before them. */
class CallHandler implements Dispatcher.DispatchHandler {
  #abortCall: ((err?: Error) => void) | null = null;
  #body: UpstreamBody | null = null;
  /** When the call was handed to undici, then when its last byte was written (performance.now()). */
  #sentAt = performance.now();

  constructor(
    private readonly stop: CallAbort,
    private readonly resolve: (r: UpstreamResponse) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  #abort = (): void => {
    this.#abortCall?.(new errors.RequestAbortedError());
  };

  onConnect(abort: (err?: Error) => void): void {
    this.#abortCall = abort;
    this.stop.onAbort(this.#abort);
  }

  /** undici wrote the whole request (not in its handler types, called when present). */
  onRequestSent(): void {
    this.#sentAt = performance.now();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx (informational) answers are not the response.
    if (statusCode < 200) return true;
    this.#body = new UpstreamBody(resume, this.#abort);
    this.resolve({ statusCode, headers: parseHeaders(rawHeaders), body: this.#body, answeredAfterMs: performance.now() - this.#sentAt });
    return true;
  }

  onData(chunk: Buffer): boolean {
    return this.#body?.push(chunk) ?? true;
  }

  onComplete(): void {
    // Done: a later abort (the client closing after its answer) has nothing to stop.
    this.#abortCall = null;
    this.#body?.finish();
  }

  onError(err: Error): void {
    this.#abortCall = null;
    if (this.#body === null) this.reject(err);
    else this.#body.fail(err);
  }
}

/** Sends one request through `dispatcher`; resolves at the response's headers. */
export function callUpstream(dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, stop: CallAbort): Promise<UpstreamResponse> {
  return new Promise<UpstreamResponse>((resolve, reject) => {
    if (stop.aborted) {
      reject(new errors.RequestAbortedError());
      return;
    }
    dispatcher.dispatch(opts, new CallHandler(stop, resolve, reject));
  });
}
