import type { ProviderId } from '../pricing/index.js';
import type { Protocol } from './types.js';

/** Which wire protocols each provider's API speaks: a key may only be used on these. */
const SPEAKS: Readonly<Record<ProviderId, readonly Protocol[]>> = {
  anthropic: ['anthropic-messages'],
  openai: ['openai-chat', 'openai-responses'],
  openrouter: ['openai-chat', 'openai-responses'],
  'openai-compatible': ['openai-chat', 'openai-responses'],
  gemini: ['gemini'],
};

/** Official endpoints; an env variable or a key's --base-url replaces them. OpenAI-style ones are SDK base URLs (ending in /v1). */
export const DEFAULT_BASE_URLS: Readonly<Record<Exclude<ProviderId, 'openai-compatible'>, string>> = {
  anthropic: 'https://api.anthropic.com',
  openai: 'https://api.openai.com/v1',
  openrouter: 'https://openrouter.ai/api/v1',
  gemini: 'https://generativelanguage.googleapis.com',
};

export const BASE_URL_ENV: Readonly<Record<Exclude<ProviderId, 'openai-compatible'>, string>> = {
  anthropic: 'SPENDCAP_ANTHROPIC_BASE_URL',
  openai: 'SPENDCAP_OPENAI_BASE_URL',
  openrouter: 'SPENDCAP_OPENROUTER_BASE_URL',
  gemini: 'SPENDCAP_GEMINI_BASE_URL',
};

export const PROTOCOL_NAMES: Readonly<Record<Protocol, string>> = {
  'anthropic-messages': 'Anthropic Messages',
  'openai-chat': 'OpenAI Chat Completions',
  'openai-responses': 'OpenAI Responses',
  gemini: 'Gemini',
};

export function protocolsOf(provider: ProviderId): readonly Protocol[] {
  return SPEAKS[provider];
}

export function speaks(provider: ProviderId, protocol: Protocol): boolean {
  return SPEAKS[provider].includes(protocol);
}

/** The protocol a provider's shared-path calls (GET /v1/models) are answered in. */
export function mainProtocol(provider: ProviderId): Protocol {
  return SPEAKS[provider][0]!;
}

export interface Upstream {
  origin: string;
  /** Path prefix of the base URL (e.g. "" or "/api"), joined before the request path. */
  basePath: string;
}

/**
 * Where a provider's requests go. Request paths keep their API version (/v1/chat/completions,
 * /v1beta/models/…), so an OpenAI-style SDK base URL loses its trailing /v1 here:
 * https://openrouter.ai/api/v1 + /v1/chat/completions → https://openrouter.ai/api/v1/chat/completions.
 */
export function upstreamFor(provider: ProviderId, baseUrl: string): Upstream {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new Error(`upstream base URL "${baseUrl}" for ${provider} is not a URL (expected e.g. ${provider === 'openai-compatible' ? 'https://api.mistral.ai/v1' : DEFAULT_BASE_URLS[provider]})`);
  }
  let basePath = u.pathname.replace(/\/+$/, '');
  if (SPEAKS[provider].includes('openai-chat')) basePath = basePath.replace(/\/v1$/, '');
  return { origin: u.origin, basePath };
}
