// Public face of the providers: the proxy and server import from here only.
import { anthropicAdapter } from './anthropic/index.js';
import { geminiAdapter } from './gemini/index.js';
import { openaiChatAdapter } from './openai/index.js';
import { openaiResponsesAdapter } from './openai/responses-adapter.js';
import type { Protocol, ProviderAdapter } from './types.js';

export type { ErrorCode, ErrorReply, Protocol, ProviderAdapter, RequestError, RequestInfo, StreamMeter } from './types.js';
export { BASE_URL_ENV, DEFAULT_BASE_URLS, mainProtocol, PROTOCOL_NAMES, speaks, upstreamFor } from './registry.js';
export type { Upstream } from './registry.js';

const ADAPTERS: Partial<Record<Protocol, ProviderAdapter>> = {
  'anthropic-messages': anthropicAdapter,
  gemini: geminiAdapter,
  'openai-chat': openaiChatAdapter,
  'openai-responses': openaiResponsesAdapter,
};

/** The adapter for a protocol; every protocol a route names has one. */
export function adapterFor(protocol: Protocol): ProviderAdapter {
  const a = ADAPTERS[protocol];
  if (a === undefined) throw new Error(`no adapter for ${protocol}`);
  return a;
}
