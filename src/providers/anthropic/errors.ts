import type { IncomingHttpHeaders } from 'node:http';
import { refusalStatus } from '../clients.js';
import type { ErrorCode, ErrorReply } from '../types.js';

/**
 * Anthropic's error body: {"type":"error","error":{"type":…,"message":…},"request_id":…}, plus the
 * message again at the top level: the TS SDK builds err.message from body.message and otherwise
 * shows the whole body as escaped JSON (`429 {"type":"error",…key \"dev\"…}`). Extra fields are
 * ignored by the other clients.
 */
export function anthropicErrorBody(type: string, message: string, requestId?: string): string {
  const body: Record<string, unknown> = { type: 'error', error: { type, message } };
  if (requestId !== undefined) body['request_id'] = requestId;
  body['message'] = message;
  return JSON.stringify(body);
}

/** HTTP status and Anthropic error type for each spendcap error code. */
export const ANTHROPIC_ERRORS: Readonly<Record<ErrorCode, { status: number; type: string }>> = {
  E_CAP_REACHED: { status: 429, type: 'rate_limit_error' },
  E_KILLED: { status: 429, type: 'rate_limit_error' },
  E_UNAUTHORIZED: { status: 401, type: 'authentication_error' },
  E_UNKNOWN_MODEL: { status: 400, type: 'invalid_request_error' },
  E_BAD_REQUEST: { status: 400, type: 'invalid_request_error' },
  E_TOO_LARGE: { status: 413, type: 'request_too_large' },
  E_NOT_FOUND: { status: 404, type: 'not_found_error' },
  E_UPSTREAM: { status: 502, type: 'api_error' },
};

export function anthropicError(code: ErrorCode, message: string): { status: number; body: string } {
  const e = ANTHROPIC_ERRORS[code];
  return { status: e.status, body: anthropicErrorBody(e.type, message) };
}

/**
 * The full reply, headers included. Every refusal of spendcap's own says x-should-retry: false:
 * both SDKs and Claude Code obey it before their status rules (they would retry a 429 otherwise),
 * and no retry-after is sent (Claude Code would wait and retry on one ≤ 60 s).
 * E_UPSTREAM (provider unreachable) keeps the SDKs' normal retry of 5xx.
 */
export function anthropicErrorReply(code: ErrorCode, message: string, clientHeaders?: IncomingHttpHeaders): ErrorReply {
  const { status: usual, body } = anthropicError(code, message);
  // Clients that retry a 429 whatever x-should-retry says (the AI SDK) get it as a 400 (clients.ts).
  const status = refusalStatus(code, usual, clientHeaders);
  const headers: Record<string, string> = code === 'E_UPSTREAM' ? {} : { 'x-should-retry': 'false' };
  return { status, headers, body };
}
