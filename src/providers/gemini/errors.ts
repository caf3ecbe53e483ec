import type { IncomingHttpHeaders } from 'node:http';
import { refusalStatus } from '../clients.js';
import type { ErrorCode, ErrorReply } from '../types.js';

/** HTTP status and google.rpc status name for each spendcap error code. */
export const GEMINI_ERRORS: Readonly<Record<ErrorCode, { status: number; rpc: string }>> = {
  E_CAP_REACHED: { status: 429, rpc: 'RESOURCE_EXHAUSTED' },
  E_KILLED: { status: 429, rpc: 'RESOURCE_EXHAUSTED' },
  E_UNAUTHORIZED: { status: 401, rpc: 'UNAUTHENTICATED' },
  E_UNKNOWN_MODEL: { status: 400, rpc: 'INVALID_ARGUMENT' },
  E_BAD_REQUEST: { status: 400, rpc: 'INVALID_ARGUMENT' },
  E_TOO_LARGE: { status: 413, rpc: 'INVALID_ARGUMENT' },
  E_NOT_FOUND: { status: 404, rpc: 'NOT_FOUND' },
  E_UPSTREAM: { status: 502, rpc: 'UNAVAILABLE' },
};

/**
 * A cap refusal's RetryInfo delay. gemini-cli (packages/core googleQuotaErrors.ts) retries every 429
 * except one whose details make it terminal; a RetryInfo over 300 s is terminal and keeps our message.
 */
export const REFUSAL_RETRY_DELAY = '3600s';

/** Google's RPC error body: {"error":{"code","message","status","details"?}}. */
export function geminiErrorBody(code: ErrorCode, message: string): string {
  const e = GEMINI_ERRORS[code];
  const error: Record<string, unknown> = { code: e.status, message, status: e.rpc };
  if (code === 'E_CAP_REACHED' || code === 'E_KILLED') {
    error['details'] = [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: code === 'E_KILLED' ? 'SPENDCAP_KILLED' : 'SPENDCAP_CAP_REACHED', domain: 'spendcap' },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: REFUSAL_RETRY_DELAY },
    ];
  }
  return JSON.stringify({ error });
}

/**
 * The full reply. @google/genai 3.x ignores x-should-retry: by default it makes one attempt (no
 * retryOptions); a caller who sets httpOptions.retryOptions gets 429 retried a bounded number of
 * times (5 attempts by default), each refused here again without reaching the provider. The header
 * is still sent for other clients and proxies that read it; no retry-after (it invites a retry).
 * E_UPSTREAM keeps the clients' normal retry of a 5xx.
 */
export function geminiErrorReply(code: ErrorCode, message: string, clientHeaders?: IncomingHttpHeaders): ErrorReply {
  const headers: Record<string, string> = code === 'E_UPSTREAM' ? {} : { 'x-should-retry': 'false' };
  return { status: refusalStatus(code, GEMINI_ERRORS[code].status, clientHeaders), headers, body: geminiErrorBody(code, message) };
}
