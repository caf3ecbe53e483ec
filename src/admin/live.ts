import type { ServerResponse } from 'node:http';

/** One budget's money as /api/live pushes it (USD, like every other admin answer). */
export interface LiveBudget {
  name: string;
  scope: string;
  period: string;
  mode: string;
  killed: boolean;
  capUsd: number;
  spentUsd: number;
  heldUsd: number;
  remainingUsd: number;
}

/** The budgets whose figures changed since `prev`, and the names that are gone. `prev` becomes the new state. */
export function diffBudgets(prev: Map<string, LiveBudget>, next: readonly LiveBudget[]): { changed: LiveBudget[]; removed: string[] } {
  const changed: LiveBudget[] = [];
  const seen = new Set<string>();
  for (const b of next) {
    seen.add(b.name);
    const p = prev.get(b.name);
    if (
      p === undefined ||
      p.spentUsd !== b.spentUsd ||
      p.heldUsd !== b.heldUsd ||
      p.capUsd !== b.capUsd ||
      p.remainingUsd !== b.remainingUsd ||
      p.killed !== b.killed ||
      p.mode !== b.mode ||
      p.period !== b.period
    ) {
      changed.push(b);
    }
    prev.set(b.name, b);
  }
  const removed = [...prev.keys()].filter((n) => !seen.has(n));
  for (const n of removed) prev.delete(n);
  return { changed, removed };
}

/** One Server-Sent Event; data is one JSON line, so no line of it can break the framing. */
export function sseMessage(event: string, data: unknown, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export interface LiveFeedOptions {
  /** How often budgets are compared while someone listens (the fallback when nobody calls notify). */
  pollMs?: number;
  /** notify() bursts (every hold growth of every stream) are merged into at most one push per this many ms. */
  minIntervalMs?: number;
  /** A comment line this often keeps proxies and browsers from closing an idle stream. */
  heartbeatMs?: number;
  now?: () => number;
}

/**
 * The /api/live stream: every listener gets a `snapshot` of all budgets, then a `spend` event with
 * the budgets that changed each time money moves. Money moves are learnt from notify() (the bank
 * calls it on open, grow, settle, block) and from a poll while anyone listens.
 */
export class LiveFeed {
  readonly #snapshot: () => LiveBudget[] | Promise<LiveBudget[]>;
  readonly #clients = new Set<ServerResponse>();
  readonly #state = new Map<string, LiveBudget>();
  readonly #pollMs: number;
  readonly #minIntervalMs: number;
  readonly #heartbeatMs: number;
  readonly #now: () => number;
  #poll: NodeJS.Timeout | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #pending: NodeJS.Timeout | null = null;
  #lastPush = 0;
  #seq = 0;
  /** Called when computing a snapshot fails (the store is closing, say). */
  onError: ((err: Error) => void) | null = null;

  constructor(snapshot: () => LiveBudget[] | Promise<LiveBudget[]>, opts: LiveFeedOptions = {}) {
    this.#snapshot = snapshot;
    this.#pollMs = opts.pollMs ?? 250;
    this.#minIntervalMs = opts.minIntervalMs ?? 50;
    this.#heartbeatMs = opts.heartbeatMs ?? 15_000;
    this.#now = opts.now ?? Date.now;
  }

  get listeners(): number {
    return this.#clients.size;
  }

  async subscribe(res: ServerResponse): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    let budgets: LiveBudget[];
    try {
      budgets = await this.#snapshot();
    } catch (err) {
      res.end(sseMessage('error', { message: (err as Error).message }));
      return;
    }
    // A first listener starts from the current figures, so its first diff is a real change.
    if (this.#clients.size === 0) {
      this.#state.clear();
      diffBudgets(this.#state, budgets);
    }
    res.write('retry: 2000\n\n');
    res.write(sseMessage('snapshot', { ts: new Date(this.#now()).toISOString(), budgets }, ++this.#seq));
    this.#clients.add(res);
    res.on('close', () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) this.#stopTimers();
    });
    this.#startTimers();
  }

  /** Money moved: push what changed soon (merged with other calls in the same few ms). Cheap when nobody listens. */
  notify(): void {
    if (this.#clients.size === 0 || this.#pending !== null) return;
    const wait = Math.max(0, this.#lastPush + this.#minIntervalMs - this.#now());
    this.#pending = setTimeout(() => {
      this.#pending = null;
      void this.#push();
    }, wait);
    this.#pending.unref();
  }

  close(): void {
    this.#stopTimers();
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  /** One at a time: a poll arriving while a snapshot is read waits for the next tick. */
  #pushing = false;

  async #push(): Promise<void> {
    if (this.#clients.size === 0 || this.#pushing) return;
    this.#lastPush = this.#now();
    let budgets: LiveBudget[];
    this.#pushing = true;
    try {
      budgets = await this.#snapshot();
    } catch (err) {
      this.onError?.(err as Error);
      return;
    } finally {
      this.#pushing = false;
    }
    const { changed, removed } = diffBudgets(this.#state, budgets);
    if (changed.length === 0 && removed.length === 0) return;
    const msg = sseMessage('spend', { ts: new Date(this.#lastPush).toISOString(), budgets: changed, removed }, ++this.#seq);
    for (const res of this.#clients) res.write(msg);
  }

  #startTimers(): void {
    if (this.#poll === null) {
      this.#poll = setInterval(() => void this.#push(), this.#pollMs);
      this.#poll.unref();
    }
    if (this.#heartbeat === null) {
      this.#heartbeat = setInterval(() => {
        for (const res of this.#clients) res.write(': ping\n\n');
      }, this.#heartbeatMs);
      this.#heartbeat.unref();
    }
  }

  #stopTimers(): void {
    if (this.#poll !== null) clearInterval(this.#poll);
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    if (this.#pending !== null) clearTimeout(this.#pending);
    this.#poll = this.#heartbeat = this.#pending = null;
  }
}
