// Follows GET /api/live (Server-Sent Events): a `snapshot` of every budget, then `spend` events as
// money moves. Nothing is polled: when spendcap is idle the only traffic is its 15 s ping comment.
// A dropped or refused connection is retried with exponential backoff until stop().
import type { AdminClient } from './api';
import { parseBudgets } from './model';
import type { Budget } from './model';

export interface SseEvent {
  event: string;
  data: string;
}

/** Incremental SSE parser: feed it chunks as they come, it returns the complete events. */
export class SseParser {
  #buf = '';
  #event = '';
  #data: string[] = [];

  push(chunk: string): SseEvent[] {
    this.#buf += chunk;
    const out: SseEvent[] = [];
    let nl: number;
    while ((nl = this.#buf.search(/\r\n|\n|\r/)) !== -1) {
      const line = this.#buf.slice(0, nl);
      const sep = this.#buf.startsWith('\r\n', nl) ? 2 : 1;
      // A lone "\r" at the end may be the first half of "\r\n": wait for the next chunk.
      if (sep === 1 && this.#buf[nl] === '\r' && nl === this.#buf.length - 1) break;
      this.#buf = this.#buf.slice(nl + sep);
      this.#line(line, out);
    }
    return out;
  }

  #line(line: string, out: SseEvent[]): void {
    if (line === '') {
      if (this.#data.length > 0) out.push({ event: this.#event || 'message', data: this.#data.join('\n') });
      this.#event = '';
      this.#data = [];
      return;
    }
    if (line.startsWith(':')) return; // a comment: spendcap's keep-alive ping
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
  }
}

/** Backoff before reconnect attempt `n` (0-based): 0.5 s doubling to 30 s, with ±20 % jitter from `rand`. */
export function backoffMs(attempt: number, rand: () => number = Math.random, baseMs = 500, maxMs = 30_000): number {
  const plain = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(plain * (0.8 + 0.4 * rand()));
}

export type LiveStatus = 'connecting' | 'live' | 'off' | 'unauthorized';

export interface LiveHandlers {
  snapshot(budgets: Budget[]): void;
  spend(changed: Budget[], removed: string[]): void;
  status(s: LiveStatus, detail?: string): void;
}

export interface LiveOptions {
  backoff?: (attempt: number) => number;
}

/** The follow loop's state, in one object. */
interface FollowState {
  stopped: boolean;
  attempt: number;
  abort: AbortController | null;
  timer: NodeJS.Timeout | null;
}

export class LiveFollower {
  readonly #client: AdminClient;
  readonly #h: LiveHandlers;
  readonly #backoff: (attempt: number) => number;
  readonly #s: FollowState = { stopped: true, attempt: 0, abort: null, timer: null };
  /** How many times a connection was opened (for tests and the tooltip). */
  connects = 0;

  constructor(client: AdminClient, handlers: LiveHandlers, opts: LiveOptions = {}) {
    this.#client = client;
    this.#h = handlers;
    this.#backoff = opts.backoff ?? ((n) => backoffMs(n));
  }

  start(): void {
    if (!this.#s.stopped) return;
    this.#s.stopped = false;
    this.#s.attempt = 0;
    void this.#connect();
  }

  stop(): void {
    this.#s.stopped = true;
    this.#s.abort?.abort();
    if (this.#s.timer !== null) clearTimeout(this.#s.timer);
    this.#s.timer = null;
  }

  /** Skips the wait of a pending reconnect (the user asked, or the token changed). */
  reconnectNow(): void {
    if (this.#s.stopped) return;
    if (this.#s.timer !== null) {
      clearTimeout(this.#s.timer);
      this.#s.timer = null;
      this.#s.attempt = 0;
      void this.#connect();
    }
  }

  async #connect(): Promise<void> {
    if (this.#s.stopped) return;
    this.#h.status('connecting');
    const abort = new AbortController();
    this.#s.abort = abort;
    this.connects++;
    let why = 'the live stream closed';
    try {
      const res = await fetch(`${this.#client.url}/api/live`, { headers: this.#client.headers({ accept: 'text/event-stream' }), signal: abort.signal });
      if (res.status === 401) {
        // Retrying a refused token only fills spendcap's log: wait for a new one (reconnectNow).
        await res.body?.cancel();
        this.#h.status('unauthorized', 'spendcap refused the admin token');
        this.#s.abort = null;
        this.#schedule(true);
        return;
      }
      if (!res.ok || res.body === null) {
        await res.body?.cancel();
        why = `/api/live answered HTTP ${res.status}`;
      } else {
        await this.#read(res.body);
      }
    } catch (err) {
      why = abort.signal.aborted ? 'stopped' : `spendcap does not answer at ${this.#client.url}`;
      void err;
    }
    this.#s.abort = null;
    if (this.#s.stopped) return;
    this.#h.status('off', why);
    this.#schedule(false);
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      for (const ev of parser.push(decoder.decode(chunk, { stream: true }))) this.#dispatch(ev);
    }
  }

  #dispatch(ev: SseEvent): void {
    let data: { budgets?: unknown; removed?: unknown };
    try {
      data = JSON.parse(ev.data) as typeof data;
    } catch {
      return;
    }
    if (ev.event === 'snapshot') {
      this.#s.attempt = 0; // a good connection resets the backoff
      this.#h.snapshot(parseBudgets(data.budgets));
      this.#h.status('live');
    } else if (ev.event === 'spend') {
      const removed = Array.isArray(data.removed) ? data.removed.filter((n): n is string => typeof n === 'string') : [];
      this.#h.spend(parseBudgets(data.budgets), removed);
    }
  }

  /** `parked`: an unauthorized stream waits long (or for reconnectNow) instead of hammering. */
  #schedule(parked: boolean): void {
    if (this.#s.stopped) return;
    const wait = parked ? 60_000 : this.#backoff(this.#s.attempt++);
    this.#s.timer = setTimeout(() => {
      this.#s.timer = null;
      void this.#connect();
    }, wait);
    this.#s.timer.unref?.();
  }
}
