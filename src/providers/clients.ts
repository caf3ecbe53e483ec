import type { IncomingHttpHeaders } from 'node:http';
import type { ErrorCode } from './types.js';

const header = (headers: IncomingHttpHeaders | undefined, name: string): string => {
  const v = headers?.[name];
  return typeof v === 'string' ? v : '';
};

/**
 * Clients whose handling of a 429 defeats a cap refusal, so they get the same body as a 400:
 * - Codex CLI (originator codex_exec / codex-tui) never retries a 429 but prints its own quota text
 *   instead of ours (docs/codex-experiment.md);
 * - the Vercel AI SDK (opencode and many apps; user-agent "… ai-sdk/…") retries every 429 with
 *   backoff whatever x-should-retry says: opencode waited over a minute before showing the message.
 * Both stop at once on a 400 and show its message (tried through spendcap, docs/agents.md).
 */
export function wantsRefusalAs400(headers: IncomingHttpHeaders | undefined): boolean {
  if (header(headers, 'originator').startsWith('codex')) return true;
  const ua = header(headers, 'user-agent');
  // A word of its own: @google/genai's "google-genai-sdk/…" must not match.
  return /^codex[_-]/.test(ua) || /(^|[\s(])ai-sdk\//.test(ua);
}

/** The HTTP status of a cap refusal (E_CAP_REACHED, E_KILLED) for this client; other codes keep theirs. */
export function refusalStatus(code: ErrorCode, usual: number, headers: IncomingHttpHeaders | undefined): number {
  return (code === 'E_CAP_REACHED' || code === 'E_KILLED') && wantsRefusalAs400(headers) ? 400 : usual;
}
