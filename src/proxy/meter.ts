import { describeRefusal } from '../budgets/index.js';
import type { Refusal } from '../budgets/index.js';
import type { Usage } from '../pricing/index.js';
import type { StreamMeter } from '../providers/types.js';
import { ByteQueue } from './byte-queue.js';
import { sendError } from './context.js';
import { estimateNanos } from './cost.js';
import type { Exchange } from './exchange.js';
import { finish, finishFromEstimate, finishPastHold, settleFromUsage } from './settle.js';
import { SseParser } from './sse.js';
import type { SseEvent } from './sse-types.js';
import type { UpstreamBody, UpstreamResponse } from './upstream-call.js';
import { safeTokens } from './usage-guard.js';

/**
 * Step 3, meter: relay the provider's answer to the client while reading what it costs. Only a
 * stream is metered from its events; an error or JSON reply is settled from its body.
 */
export async function meter(x: Exchange, upstreamRes: UpstreamResponse): Promise<void> {
  const contentType = String(upstreamRes.headers['content-type'] ?? '');
  const isSse = upstreamRes.statusCode === 200 && contentType.startsWith('text/event-stream');
  if (!isSse) {
    x.meter = null;
    return relayWhole(x, upstreamRes);
  }
  return new StreamRelay(x, upstreamRes).run();
}

/** What a whole reply may cost at most: the prompt's upper estimate and the whole output limit (a non-streamed request's hold). */
function wholeReplyNanos(x: Exchange): number {
  return estimateNanos(x.admitted.model, safeTokens(x.admitted.info.maxTokens));
}

/** Reads a whole reply up to `limit` bytes; 'too-large' past it (the rest is not read). */
function readWhole(body: UpstreamBody, limit: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  return new Promise((resolve) => {
    body.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) return void chunks.push(c);
      chunks.length = 0;
      body.destroy();
      resolve('too-large');
    });
    body.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    body.on('error', () => resolve(Buffer.concat(chunks)));
  });
}

/**
 * A JSON reply is only usable whole: it is settled before its last byte reaches the client, so a
 * finished request always has its ledger row. It is buffered up to a limit.
 */
async function relayWhole(x: Exchange, upstreamRes: UpstreamResponse): Promise<void> {
  const { ctx, route, res, life, admitted } = x;
  const { adapter } = route;
  const status = upstreamRes.statusCode;
  const limit = ctx.options.maxReplyBytes;
  const whole = await readWhole(upstreamRes.body, limit);
  if (x.settled) return;
  if (whole === 'too-large') {
    x.abort.abort();
    // The provider produced the whole reply, so it may bill it: the most the request could cost.
    const charge = status === 200 ? Math.max(life.amountNanos, wholeReplyNanos(x)) : 0;
    finishPastHold(x, 'error', null, charge, `reply larger than ${limit} bytes, not forwarded`);
    sendError(res, adapter, 'E_UPSTREAM', `spendcap: the provider's reply is larger than ${limit} bytes; spendcap does not forward it. Lower the output limit or stream the reply.`);
    return;
  }
  if (status !== 200 && adapter.providerCapRefused?.(route.provider, status, whole) === true) {
    // The provider's limit on the key (the second wall) refused it: the client sees a spendcap cap refusal; nothing is billed.
    const account = life.hold.accounts.find((a) => a.scope === 'key') ?? life.hold.accounts[0]!;
    finish(x, 'blocked', null, 0, `E_CAP_REACHED: the provider's limit on the key (upstream status ${status})`);
    await x.ledgerWrite;
    sendError(res, adapter, 'E_CAP_REACHED', describeRefusal({ code: 'E_CAP_REACHED', account, neededNanos: 0 }, 'provider'));
    return;
  }
  if (res.headersSent) {
    // Held for approval, so the client already has SSE headers: the provider's error becomes an error event.
    finish(x, 'error', null, 0, `upstream status ${status}`);
    x.endAfterSettle(`event: error\ndata: ${whole.toString('utf8')}\n\n`);
    return;
  }
  res.writeHead(status, x.clientHeaders(upstreamRes.headers));
  if (status === 200) {
    let usage: Usage | null = null;
    try {
      const json: unknown = JSON.parse(whole.toString('utf8'));
      usage = adapter.usageFromJson(json);
      x.providerCostNanos = adapter.providerCostFromJson?.(json) ?? null;
      x.bodyId = adapter.responseIdFromJson?.(json) ?? undefined;
    } catch {
      usage = null;
    }
    // A whole reply to a stream request (backends that ignore `stream`) held only a stream's
    // margin: it settles like a non-streamed one, and says so when it costs past the cap.
    const stream = admitted.info.stream;
    if (usage) settleFromUsage(x, 'ok', usage, x.providerCostNanos, stream ? 'a whole (JSON) reply to a stream request' : null);
    else finishPastHold(x, 'error', null, stream ? Math.max(life.amountNanos, wholeReplyNanos(x)) : life.amountNanos, 'response without usage; charged the most it could cost');
  } else {
    // Providers do not bill requests they reject.
    finish(x, 'error', null, 0, `upstream status ${status}`);
  }
  // Settled above: the last byte leaves only after the ledger row is on disk.
  x.endAfterSettle(whole);
}

/**
 * A socket read this large may not be all the socket had: Node reads at most 64 KiB at a time, and
 * the HTTP chunk framing is counted out of the body bytes seen.
 */
const WHOLE_READ_BYTES = 32 * 1024;

/**
 * An SSE stream, metered event by event: bytes pass through untouched (or rewritten when the meter
 * must hide something), each complete event is read, the hold grows with the output, and the stream
 * is cut on an event boundary when a budget has no room left.
 */
class StreamRelay {
  readonly #m: StreamMeter;
  readonly #rewrite: ((ev: SseEvent) => string) | undefined;
  readonly #parser: SseParser;
  /** Bytes of the event not yet complete, forwarded once it is. */
  readonly #pending = new ByteQueue();
  #received = 0;
  #forwarded = 0;
  /** Set once spendcap ended the client's stream itself (cut, kill, overlong event): nothing more is forwarded. */
  #ended = false;
  /** The client reads slower than the provider sends: the provider's stream is paused until it drains. */
  #paused = false;
  /** A refused stream reading the rest of the socket read that brought its refusal, cut after it (see #refused). */
  #cutAfterRead: Refusal | null = null;
  /** The socket read in progress (plain-HTTP upstreams): bytes so far, and the last read's once it ended. */
  readonly #read = { open: false, bytes: 0, lastBytes: 0 };
  readonly #endRead: () => void;
  /**
   * Over plain HTTP one socket read reaches this relay as its chunks in one run of JS, and a microtask
   * runs only after the last of them (undici parses the whole read at once). Over TLS each record is its
   * own callback, with microtasks between them, so a read is never known to be whole there.
   */
  readonly #readsWhole: boolean;
  readonly #sendBound: (data: Buffer | string) => void;
  readonly #onDrain: () => void;

  constructor(
    private readonly x: Exchange,
    private readonly up: UpstreamResponse,
  ) {
    x.meter ??= x.route.adapter.newStreamMeter(x.admitted.info);
    this.#m = x.meter;
    this.#rewrite = this.#m.rewrite?.bind(this.#m);
    this.#parser = new SseParser(this.#rewrite !== undefined);
    this.#sendBound = (data) => this.#send(data);
    this.#onDrain = () => {
      this.#paused = false;
      this.up.body.resume();
    };
    this.#readsWhole = x.route.upstream.origin.startsWith('http:');
    this.#endRead = () => {
      this.#read.open = false;
      this.#read.lastBytes = this.#read.bytes;
    };
  }

  async run(): Promise<void> {
    const { x, up } = this;
    const res = x.res;
    if (!res.headersSent) {
      res.writeHead(up.statusCode, x.clientHeaders(up.headers));
      res.flushHeaders();
    }
    x.cutStream = (refusal) => this.#cut(refusal);
    up.body.on('data', x.guarded((chunk: Buffer) => this.#onChunk(chunk)));
    // Hidden output may be running before the first event, too.
    x.syncClock();
    await new Promise<void>((resolve) => {
      up.body.on('end', () => {
        x.guarded(() => this.#onEnd())();
        resolve();
      });
      up.body.on('error', (err: Error) => {
        if (!x.settled) {
          finishFromEstimate(x, 'error', `upstream stream failed: ${err.message}`);
          // Transparent: the client sees the provider's connection drop as a drop.
          res.destroy();
        }
        resolve();
      });
    });
  }

  /** Backpressure: when the client reads slower than the provider sends, the provider's stream waits (its TCP window fills) instead of spendcap buffering it. */
  #send(data: Buffer | string): void {
    const res = this.x.res;
    if (res.write(data) || this.#paused || res.destroyed) return;
    this.#paused = true;
    this.up.body.pause();
    res.once('drain', this.#onDrain);
  }

  /** Forwards bytes up to the last complete event; a partial event waits for its end so a cut always lands on a boundary. */
  #forwardComplete(chunk: Buffer): void {
    const upTo = this.#received - this.#parser.pendingBytes;
    if (this.#pending.length === 0 && upTo === this.#received) {
      this.#send(chunk);
      this.#forwarded = this.#received;
      return;
    }
    this.#pending.push(chunk);
    const n = upTo - this.#forwarded;
    if (n <= 0) return;
    this.#pending.take(n, this.#sendBound);
    this.#forwarded += n;
  }

  /** What the client gets for a chunk: its complete events' bytes, or their rewrites when the meter must change them. */
  #relayOut(chunk: Buffer, events: readonly SseEvent[]): void {
    const rewrite = this.#rewrite;
    if (rewrite === undefined) return this.#forwardComplete(chunk);
    let out = '';
    for (const ev of events) out += ev.comment === undefined ? rewrite(ev) : `:${ev.comment}\n\n`;
    if (out !== '') this.#send(out);
  }

  #readEvents(events: readonly SseEvent[]): void {
    const m = this.#m;
    for (const ev of events) if (ev.comment === undefined) m.onEvent(ev);
  }

  #onChunk(chunk: Buffer): void {
    if (this.#ended) return;
    const { x } = this;
    const m = this.#m;
    this.#received += chunk.length;
    this.#countRead(chunk.length);
    const events = this.#parser.push(chunk);
    // One event is held whole until its end: past the limit the stream is cut rather than the memory spent.
    if (this.#parser.pendingBytes > x.ctx.options.maxEventBytes) return this.#overlong(chunk, events);
    if (events.length === 0 || x.settled) return this.#relayOut(chunk, events);
    this.#readEvents(events);
    if (m.complete && m.hasFinalUsage) {
      // Whole, even when it was refused earlier in this read: the bill is known, nothing is cut.
      this.#cutAfterRead = null;
      // Settle before the client sees the end, so a finished stream always has its row.
      settleFromUsage(x, 'ok', m.usage, m.providerCostNanos ?? null, null);
      this.#relayOut(chunk, events);
      return;
    }
    // The events already read are paid for by the margin held before them: the client gets them at
    // once (the first byte does not wait on the hold's growth), then the hold follows, or the tail.
    this.#relayOut(chunk, events);
    // Refused earlier in this read: its rest is billed whatever spendcap does, so it is read and passed on, then cut.
    if (this.#cutAfterRead !== null) return;
    const refusal = x.life.reassess(m);
    if (refusal) return this.#refused(refusal);
    x.syncClock();
  }

  #countRead(bytes: number): void {
    if (!this.#readsWhole) return;
    if (!this.#read.open) {
      this.#read.open = true;
      this.#read.bytes = 0;
      queueMicrotask(this.#endRead);
    }
    this.#read.bytes += bytes;
  }

  /**
   * A refusal on a chunk of a plain-HTTP upstream is carried out once the rest of its socket read is in:
   * the provider wrote (and billed) those events before the cut could reach it, and a cut that drops
   * them unread must charge the loop's whole lag for them. Read, they are counted exactly, and only the
   * abort latency is left in flight. A read near the socket's read size (more may wait behind it), or a
   * paused upstream (its parser stops too), is not whole: the cut is at once, charged for the lag.
   */
  #refused(refusal: Refusal): void {
    const x = this.x;
    x.life.exhaust(refusal);
    if (!this.#readsWhole || this.#m.needsClock || this.#paused) return this.#cut(refusal);
    this.#cutAfterRead = refusal;
    queueMicrotask(
      x.guarded(() => {
        if (this.#cutAfterRead === null) return;
        this.#cut(refusal, this.#read.lastBytes < WHOLE_READ_BYTES && !this.#paused);
      }),
    );
  }

  /** Ends the client's stream well-formed at the last forwarded event, with the refusal as its tail (`afterRead`: see #refused). */
  #cut(refusal: Refusal, afterRead = false): void {
    const { x } = this;
    if (x.settled || this.#ended) return;
    this.#ended = true;
    this.#cutAfterRead = null;
    x.abort.abort();
    finishFromEstimate(x, 'cut', `${refusal.code}: ${refusal.account.label}`, afterRead);
    x.endAfterSettle(this.#m.cutTail(describeRefusal(refusal, 'cut')));
  }

  #overlong(chunk: Buffer, events: readonly SseEvent[]): void {
    const { x } = this;
    this.#readEvents(events);
    this.#relayOut(chunk, events);
    this.#ended = true;
    x.abort.abort();
    const notice = `spendcap: the provider sent an event larger than ${x.ctx.options.maxEventBytes} bytes; the stream was ended there`;
    finishFromEstimate(x, 'error', notice);
    x.endAfterSettle(this.#m.cutTail(notice));
  }

  #onEnd(): void {
    const { x } = this;
    const m = this.#m;
    const res = x.res;
    if (!x.settled) {
      if (m.hasFinalUsage) settleFromUsage(x, m.complete ? 'ok' : 'error', m.usage, m.providerCostNanos ?? null, m.complete ? null : 'stream ended without its final event');
      else finishFromEstimate(x, 'error', 'stream ended before the provider reported usage');
    }
    if (!res.writableEnded && !res.destroyed) {
      // A last event without its blank line is passed on as it came (a rewritten stream drops it: it was never whole).
      if (this.#rewrite === undefined) this.#pending.take(this.#pending.length, (b) => res.write(b));
      x.endAfterSettle();
    }
  }
}
