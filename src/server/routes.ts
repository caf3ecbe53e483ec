import type { ProviderId } from '../pricing/index.js';
import type { Protocol } from '../providers/types.js';

/** What a request path asks for, before the key says which provider answers it. */
export interface RouteMatch {
  /** 'by-key': a path several providers share (GET /v1/models): the key's provider decides. */
  protocol: Protocol | 'by-key';
  /** metered: priced, held and settled; pass: free calls (model lists, token counts) forwarded as they are. */
  kind: 'metered' | 'pass';
  /** The provider's path, API version included, without query. */
  path: string;
  /** Set by an explicit prefix (/openai/…): only a key of this provider may use the route. */
  forced: ProviderId | null;
}

const PREFIXES: readonly [string, ProviderId][] = [
  ['/anthropic', 'anthropic'],
  ['/openai', 'openai'],
  ['/openrouter', 'openrouter'],
  ['/gemini', 'gemini'],
];

const GEMINI_ACTION = /^\/(v1beta|v1|v1alpha)\/models\/[^/:]+:(generateContent|streamGenerateContent|countTokens)$/;

/** Maps a request line to a route, or null when spendcap serves no such call. */
export function matchRoute(method: string, rawPath: string): RouteMatch | null {
  let path = rawPath;
  let forced: ProviderId | null = null;
  for (const [prefix, provider] of PREFIXES) {
    if (path === prefix || path.startsWith(`${prefix}/`)) {
      forced = provider;
      path = path.slice(prefix.length) || '/';
      break;
    }
  }
  const gemini = GEMINI_ACTION.exec(path);
  if (gemini) {
    if (method !== 'POST') return null;
    return { protocol: 'gemini', kind: gemini[2] === 'countTokens' ? 'pass' : 'metered', path, forced };
  }
  // SDK base URLs differ on whether they include /v1 (the AI SDK and OpenAI SDKs do, Claude Code does not).
  const v1 = path.startsWith('/v1/') || path.startsWith('/v1beta/') ? path : `/v1${path}`;
  if (method === 'POST') {
    if (v1 === '/v1/messages') return { protocol: 'anthropic-messages', kind: 'metered', path: v1, forced };
    if (v1 === '/v1/messages/count_tokens') return { protocol: 'anthropic-messages', kind: 'pass', path: v1, forced };
    if (v1 === '/v1/chat/completions') return { protocol: 'openai-chat', kind: 'metered', path: v1, forced };
    if (v1 === '/v1/responses') return { protocol: 'openai-responses', kind: 'metered', path: v1, forced };
    if (v1 === '/v1/responses/input_tokens') return { protocol: 'openai-responses', kind: 'pass', path: v1, forced };
    return null;
  }
  if (method === 'GET') {
    if (v1 === '/v1/models' || v1.startsWith('/v1/models/') || v1 === '/v1beta/models' || v1.startsWith('/v1beta/models/')) {
      return { protocol: 'by-key', kind: 'pass', path: v1, forced };
    }
  }
  return null;
}
