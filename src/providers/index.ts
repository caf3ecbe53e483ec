// Public face of the providers: the proxy and server import from here only.
import { anthropicAdapter } from './anthropic/index.js';
import { geminiAdapter } from './gemini/index.js';
import { openaiChatAdapter } from './openai/index.js';
import { openaiResponsesAdapter } from './openai/responses-adapter.js';
import type { ProviderId } from '../pricing/index.js';
import { protocolsOf } from './registry.js';
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

/**
 * Loads what the adapters of these providers' protocols load on first use (see ProviderAdapter.whenReady):
 * a server does it before it listens, so that no stream of its first burst runs during the load.
 */
export async function readyAdapters(providers: Iterable<ProviderId>): Promise<void> {
  const protocols = new Set<Protocol>();
  for (const p of providers) for (const protocol of protocolsOf(p)) protocols.add(protocol);
  for (const protocol of protocols) await ADAPTERS[protocol]?.whenReady?.();
}

/** The adapter for a protocol; every protocol a route names has one. */
export function adapterFor(protocol: Protocol): ProviderAdapter {
  const a = ADAPTERS[protocol];
  if (a === undefined) throw new Error(`no adapter for ${protocol}`);
  return a;
}
