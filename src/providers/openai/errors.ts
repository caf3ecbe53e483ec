import type { IncomingHttpHeaders } from 'node:http';
import { refusalStatus } from '../clients.js';
import type { ErrorCode, ErrorReply } from '../types.js';

/** HTTP status and OpenAI error type/code for each spendcap error code. */
export const OPENAI_ERRORS: Readonly<Record<ErrorCode, { status: number; type: string; code: string }>> = {
  E_CAP_REACHED: { status: 429, type: 'insufficient_quota', code: 'insufficient_quota' },
  E_KILLED: { status: 429, type: 'insufficient_quota', code: 'insufficient_quota' },
  E_UNAUTHORIZED: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key' },
  E_UNKNOWN_MODEL: { status: 400, type: 'invalid_request_error', code: 'model_not_priced' },
  E_BAD_REQUEST: { status: 400, type: 'invalid_request_error', code: 'invalid_request' },
  E_TOO_LARGE: { status: 413, type: 'invalid_request_error', code: 'request_too_large' },
  E_NOT_FOUND: { status: 404, type: 'invalid_request_error', code: 'not_found' },
  E_UPSTREAM: { status: 502, type: 'server_error', code: 'upstream_unreachable' },
};

/** OpenAI's error body: {"error":{"message","type","param","code"}}. */
export function openaiErrorBody(type: string, code: string, message: string): string {
  return JSON.stringify({ error: { message, type, param: null, code } });
}

/**
 * The full reply. Refusals say x-should-retry: false (the openai SDKs obey it before retrying a 429).
 * Clients that mishandle a 429 (Codex, the AI SDK) get the same body as a 400 (see clients.ts).
 */
export function openaiErrorReply(code: ErrorCode, message: string, clientHeaders?: IncomingHttpHeaders): ErrorReply {
  const e = OPENAI_ERRORS[code];
  const status = refusalStatus(code, e.status, clientHeaders);
  const headers: Record<string, string> = code === 'E_UPSTREAM' ? {} : { 'x-should-retry': 'false' };
  return { status, headers, body: openaiErrorBody(e.type, e.code, message) };
}
