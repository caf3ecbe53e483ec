import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { KeyEntry, TokenBinding } from '../budgets/index.js';
import { hashToken } from '../secrets/index.js';
import type { ProxyContext } from './context.js';
import { credentialFrom } from './credentials.js';

/** spendcap's own header, then the ones agents send on every request of a run (Claude Code, Codex CLI, opencode). */
const SESSION_HEADERS = ['x-spendcap-session', 'x-claude-code-session-id', 'session-id', 'x-session-id'] as const;

export function sessionOf(headers: IncomingHttpHeaders): string | null {
  for (const h of SESSION_HEADERS) {
    const v = headers[h];
    if (typeof v === 'string' && v.length > 0) return v.slice(0, 200);
  }
  return null;
}

/** The request's token hash, made once by authenticate: admission looks up the token's binding by it without parsing and hashing again. */
const tokenHashes = new WeakMap<IncomingMessage, string>();

/**
 * The hashes of tokens that authenticated lately: an agent sends the same token on every request,
 * and its sha256 was ~5–8 µs of each (profiled). Only tokens that matched a key are kept (junk
 * cannot grow it), at most KNOWN_TOKENS, the oldest dropped first. It maps token to hash only: the
 * key is still looked up by hash on every request, so a revoked or removed key is refused at once.
 */
const knownTokenHashes = new Map<string, string>();
const KNOWN_TOKENS = 256;

function hashOf(token: string): string {
  return knownTokenHashes.get(token) ?? hashToken(token);
}

function rememberToken(token: string, hash: string): void {
  if (knownTokenHashes.has(token)) return;
  if (knownTokenHashes.size >= KNOWN_TOKENS) knownTokenHashes.delete(knownTokenHashes.keys().next().value!);
  knownTokenHashes.set(token, hash);
}

export async function authenticate(ctx: ProxyContext, req: IncomingMessage, query: URLSearchParams): Promise<KeyEntry | string> {
  // A key added or changed by a CLI command counts from the very next request (the next event-loop turn).
  await ctx.bank.refresh({ perTurn: true });
  const token = credentialFrom(req.headers, query);
  if (!token) {
    return `spendcap: no spendcap key in the request. Give your client the key that \`spendcap key add\` printed (sc-…) as its API key.`;
  }
  const hash = hashOf(token);
  const key = ctx.bank.authenticate(hash);
  if (key) {
    tokenHashes.set(req, hash);
    rememberToken(token, hash);
    return key;
  }
  if (!token.startsWith('sc-')) {
    return `spendcap: this is not a spendcap key. Give your agent the sc-… key that \`spendcap key add\` printed; spendcap adds the provider key itself.`;
  }
  return `spendcap: unknown spendcap key. It may have been removed; list keys with \`spendcap key list\` or create one with \`spendcap key add\`.`;
}

/** The binding a `spendcap run` token carries (its session and cap), if the request's token is one. */
export function boundTo(ctx: ProxyContext, req: IncomingMessage): TokenBinding | undefined {
  const known = tokenHashes.get(req);
  if (known !== undefined) return ctx.bank.bindingOf(known);
  const token = credentialFrom(req.headers, new URL(req.url ?? '/', 'http://spendcap.invalid').searchParams);
  return token === undefined ? undefined : ctx.bank.bindingOf(hashOf(token));
}
