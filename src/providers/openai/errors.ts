import type { IncomingHttpHeaders } from 'node:http';
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

/** Codex CLI names itself in `originator` (codex_exec, codex-tui) and in its user agent. */
export function isCodex(headers: IncomingHttpHeaders | undefined): boolean {
  if (headers === undefined) return false;
  const originator = headers['originator'];
  if (typeof originator === 'string' && originator.startsWith('codex')) return true;
  const ua = headers['user-agent'];
  return typeof ua === 'string' && /^codex[_-]/.test(ua);
}

/**
 * The full reply. Refusals say x-should-retry: false (the openai SDKs obey it before retrying a 429).
 * Codex CLI never retries a 429 but shows its own "Quota exceeded" text instead of the message, so
 * Codex gets the same body as a 400, which it prints (docs/codex-experiment.md, H400).
 */
export function openaiErrorReply(code: ErrorCode, message: string, clientHeaders?: IncomingHttpHeaders): ErrorReply {
  const e = OPENAI_ERRORS[code];
  const refusal = code === 'E_CAP_REACHED' || code === 'E_KILLED';
  const status = refusal && isCodex(clientHeaders) ? 400 : e.status;
  const headers: Record<string, string> = code === 'E_UPSTREAM' ? {} : { 'x-should-retry': 'false' };
  return { status, headers, body: openaiErrorBody(e.type, e.code, message) };
}
