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

export interface RequestInfo {
  model: string;
  stream: boolean;
  maxTokens: number;
  /** An upper estimate of the prompt's tokens, before the provider counts them. */
  estimatedInputTokens: number;
  /** Whether the prompt asks for cache writes, so the estimate is priced at the write rate. */
  cacheWriteTtl: 'none' | '5m' | '1h';
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
  /** Output tokens to hold money for: the provider's count or, mid-stream, a conservative estimate. */
  outputTokensForHold(): number;
  /** SSE text that ends the stream well-formed after the last forwarded event, telling the user why. */
  cutTail(notice: string): string;
}

export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface ProviderAdapter {
  readonly id: ProviderId;
  /** The spendcap key the client sent, from whichever header this provider's clients use. */
  credentialFrom(headers: IncomingHttpHeaders): string | undefined;
  /** Headers that carry the provider key upstream. */
  authHeaders(providerKey: string): Record<string, string>;
  /** Client headers that must never go upstream (they carry the spendcap key). */
  readonly credentialHeaders: readonly string[];
  parseRequest(body: Buffer): RequestInfo | RequestError;
  /** A meter for one response stream; the request tells it which tokenizer to expect. */
  newStreamMeter(info: RequestInfo): StreamMeter;
  usageFromJson(json: unknown): Usage | null;
  errorReply(code: ErrorCode, message: string): ErrorReply;
}
