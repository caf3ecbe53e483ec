import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Account, Bank, KeyEntry } from '../budgets/index.js';
import type { Nanos, PriceBook, ProviderId } from '../pricing/index.js';
import type { Upstream } from '../providers/registry.js';
import type { ErrorCode, ProviderAdapter } from '../providers/types.js';
import type { PromptMemory } from './prompt-memory.js';

export interface ProxyOptions {
  /**
   * Output tokens every open stream keeps paid for ahead of what spendcap has read, at the least; on top
   * of it the stream's own rate × abort latency (src/budgets/inflight.ts) covers the tokens in flight.
   */
  marginTokens: number;
  /** How far a hold grows ahead at once, so the store is written once per step, not per token (at most 1/64 of the smallest cap). */
  stepTokens: number;
  maxBodyBytes: number;
  /** A whole (JSON) reply is buffered to be settled before the client sees it; past this it is refused with a 502. */
  maxReplyBytes: number;
  /** One SSE event is held whole until it ends (so a cut lands on a boundary); past this the stream is ended. */
  maxEventBytes: number;
}

export const DEFAULT_PROXY_OPTIONS: ProxyOptions = { marginTokens: 8, stepTokens: 256, maxBodyBytes: 32 * 1024 * 1024, maxReplyBytes: 64 * 1024 * 1024, maxEventBytes: 32 * 1024 * 1024 };

export interface ProxyContext {
  bank: Bank;
  prices: PriceBook;
  dispatcher: Dispatcher;
  options: ProxyOptions;
  /** One line per finished request, for the terminal; never carries a key. */
  log: (line: string) => void;
  /** Exact input counts of earlier turns of the same conversations (made on first use). */
  promptMemory?: PromptMemory;
  /** Sets rows charged from spendcap's estimate on OpenRouter to the cost OpenRouter reports later (a cut's refund). */
  cutReconciler?: { schedule(row: { generationId: string; providerKey: string; base: string }): void };
  /** Hold-and-approve (src/alerts/ask.ts): a refusal on a budget in ask mode waits for a person's answer. */
  approval?: ApprovalGate;
}

/** A budget in ask mode keeps a refused request waiting; true means approved, try admission again. */
export interface ApprovalGate {
  applies(account: Account): boolean | Promise<boolean>;
  wait(w: { account: Account; key: KeyEntry; neededNanos: Nanos; model: string; stream: boolean; res: ServerResponse }): Promise<boolean>;
}

/** One request's way through spendcap, decided from its path and its key. */
export interface Route {
  adapter: ProviderAdapter;
  /** The key's provider: prices, auth header and ledger rows follow it. */
  provider: ProviderId;
  upstream: Upstream;
  /** Path without query, as the provider knows it (API version included). */
  path: string;
  /** The client's query minus credentials ("" or "?…"). */
  query: string;
}

export function sendError(res: ServerResponse, adapter: ProviderAdapter, code: ErrorCode, message: string): void {
  const reply = adapter.errorReply(code, message, res.req?.headers);
  if (res.headersSent) {
    // A stream held for approval already has its SSE headers: the refusal is its one event.
    if (!res.writableEnded && String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) res.end(`event: error\ndata: ${reply.body}\n\n`);
    else res.destroy();
    return;
  }
  res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply.body), ...reply.headers });
  res.end(reply.body);
}
