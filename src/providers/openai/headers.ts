import type { ForwardedHeaders } from '../types.js';

/**
 * What OpenAI-protocol clients send that the provider uses: organization/project scoping and betas
 * (OpenAI), Codex CLI's session and client headers, OpenRouter's app attribution.
 */
export const OPENAI_FORWARDED_HEADERS: ForwardedHeaders = {
  names: ['openai-organization', 'openai-project', 'openai-beta', 'originator', 'session-id', 'session_id', 'thread-id', 'x-client-request-id', 'http-referer', 'x-title'],
  prefixes: ['x-codex-'],
};
