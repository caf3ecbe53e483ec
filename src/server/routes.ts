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

/**
 * A well-formed model id: one path segment of letters, digits and . _ - (OpenAI's fine-tuned ids add
 * ':'), starting with a letter or digit. So no dot segment, no percent-encoding (%2f, %2e, %5c), no
 * backslash can ever reach a provider inside a model name.
 */
const MODEL_ID = '[A-Za-z0-9][A-Za-z0-9._-]{0,127}';
const GEMINI_ACTION = new RegExp(`^/(v1beta|v1|v1alpha)/models/${MODEL_ID}:(generateContent|streamGenerateContent|countTokens)$`);
/** GET calls forwarded free: the model list and one model by id (OpenAI's fine-tuned ids are ft:…:…). */
const MODEL_GET = new RegExp(`^/(v1|v1beta)/models(/(${MODEL_ID}|ft(:${MODEL_ID})+))?$`);

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
  // An allowlist of exact paths: a pass-through is forwarded unmetered with the real provider key,
  // so anything else (other endpoints, dot segments, encoded slashes) must never match.
  if (method === 'GET' && MODEL_GET.test(v1) && !v1.includes('..')) {
    return { protocol: 'by-key', kind: 'pass', path: v1, forced };
  }
  return null;
}
