import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderId, Usage } from '../pricing/index.js';
import type { SseEvent } from '../proxy/sse-types.js';

/** Failures spendcap itself answers, each mapped to the provider's own error shape in one place per provider. */
export type ErrorCode =
  | 'E_CAP_REACHED'
  | 'E_KILLED'
  | 'E_UNAUTHORIZED'
  | 'E_UNKNOWN_MODEL'
  | 'E_BAD_REQUEST'
  | 'E_TOO_LARGE'
  | 'E_NOT_FOUND'
  | 'E_UPSTREAM';

/** A wire protocol spendcap meters. Providers speak one or more (OpenRouter speaks OpenAI's). */
export type Protocol = 'anthropic-messages' | 'openai-chat' | 'openai-responses' | 'gemini';

export interface RequestInfo {
  model: string;
  stream: boolean;
  maxTokens: number;
  /** An upper estimate of the prompt's tokens, before the provider counts them. */
  estimatedInputTokens: number;
  /** Whether the prompt asks for cache writes, so the estimate is priced at the write rate. */
  cacheWriteTtl: 'none' | '5m' | '1h';
  /** The body to send upstream when spendcap must change it (e.g. to ask for usage); absent = the client's bytes. */
  upstreamBody?: Buffer;
  /**
   * spendcap asked the provider for usage the client did not ask for (Chat Completions'
   * stream_options.include_usage): the stream meter strips it so the client sees what it would have seen.
   */
  hiddenUsage?: boolean;
}

export interface RequestError {
  code: 'E_BAD_REQUEST';
  message: string;
}

/** Reads one response stream's events: the provider's usage when it says it, an estimate while it has not. */
export interface StreamMeter {
  onEvent(ev: SseEvent): void;
  readonly usage: Usage;
  /** The provider reported final usage (output included). */
  readonly hasFinalUsage: boolean;
  /** The provider's input usage is known (message_start arrived). */
  readonly inputKnown: boolean;
  /** The stream reached its natural end event. */
  readonly complete: boolean;
  readonly model: string | undefined;
  /** True while the provider may be generating output the stream does not show (e.g. summarized thinking): the hold is then re-checked on a timer. */
  readonly needsClock: boolean;
  /** While `needsClock`: the fastest the provider may generate that unseen output, tokens/s (sizes the margin between two clock checks). */
  readonly hiddenTokensPerSecond?: number;
  /** Output tokens to hold money for: the provider's count or, mid-stream, a conservative estimate. */
  outputTokensForHold(): number;
  /** SSE text that ends the stream well-formed after the last forwarded event, telling the user why. */
  cutTail(notice: string): string;
  /**
   * Present only when the client must not see the provider's events as they are (hiddenUsage):
   * the text to send for one event instead of its bytes ('' drops it). Absent = bytes pass untouched.
   */
  rewrite?(ev: SseEvent): string;
  /** The provider's own figure for what the request cost, when it reports one (OpenRouter's usage.cost), in µ$. */
  readonly providerCostNanos?: number | null;
  /** The response's id as the stream gave it (OpenRouter's generation id, gen-…), for the ledger and reconcile. */
  readonly responseId?: string | undefined;
}

export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Request headers a protocol's clients send that its provider needs (an allowlist: everything else is dropped). */
export interface ForwardedHeaders {
  names: readonly string[];
  /** Families of headers an SDK sends with varying names (x-stainless-retry-count, …). */
  prefixes: readonly string[];
}

/**
 * Everything spendcap needs to know about one wire protocol. The proxy sees only this; the
 * provider folders implement it. `provider` is the key's provider, for a protocol several speak.
 */
export interface ProviderAdapter {
  readonly protocol: Protocol;
  /** Client headers forwarded upstream besides the common ones (content type, accept, user agent, SDK headers). */
  readonly forwardedHeaders: ForwardedHeaders;
  /** Headers that carry the provider key upstream. */
  authHeaders(providerKey: string, provider: ProviderId): Record<string, string>;
  /** `path` is the request path without query (Gemini names the model and streaming there). */
  parseRequest(body: Buffer, path: string, query: URLSearchParams): RequestInfo | RequestError;
  /** A meter for one response stream; the request tells it which tokenizer to expect. */
  newStreamMeter(info: RequestInfo): StreamMeter;
  /** Usage of a whole (non-streamed) JSON response, or null when it has none. */
  usageFromJson(json: unknown): Usage | null;
  /** The provider's own cost figure in a whole JSON response (OpenRouter), in n$. */
  providerCostFromJson?(json: unknown): number | null;
  /** spendcap's own refusal in this protocol's shape; the client's headers let it suit a known client (Codex). */
  errorReply(code: ErrorCode, message: string, clientHeaders?: IncomingHttpHeaders): ErrorReply;
  /** The response's id in a whole JSON body (OpenRouter's generation id, gen-…). */
  responseIdFromJson?(json: unknown): string | null;
  /**
   * The provider refused because its own cap on the provider key was reached (OpenRouter's key limit,
   * set by `spendcap provider-key`): the relay answers it as a spendcap cap refusal, uncharged.
   */
  providerCapRefused?(provider: ProviderId, status: number, body: Buffer): boolean;
  /** The upstream body with the output limit lowered to `tokens` (the budget clamp), or null when it cannot be. */
  withOutputLimit(body: Buffer, tokens: number): Buffer | null;
  /**
   * Null when the adapter can parse and meter at once; else the promise of what it loads first (OpenAI's
   * exact tokenizers): a request waits for it before it is parsed, so that the load's stall of the event
   * loop does not fall in its stream.
   */
  whenReady?(): Promise<void> | null;
}
