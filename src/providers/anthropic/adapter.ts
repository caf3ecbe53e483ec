import { anthropicOutputLimit } from '../output-limit.js';
import type { ProviderAdapter } from '../types.js';
import { anthropicErrorReply } from './errors.js';
import { parseMessagesRequest } from './request.js';
import { AnthropicStreamMeter } from './stream-meter.js';
import { tokenizerFactor } from './tokenizer.js';
import { usageFromMessageJson } from './usage.js';

export const anthropicAdapter: ProviderAdapter = {
  protocol: 'anthropic-messages',
  // Versions and betas change the reply; x-app and Claude Code's own headers are how Anthropic sees the client.
  forwardedHeaders: { names: ['anthropic-version', 'anthropic-beta', 'anthropic-dangerous-direct-browser-access', 'x-app'], prefixes: ['x-claude-code-'] },
  authHeaders(providerKey) {
    return { 'x-api-key': providerKey };
  },
  parseRequest: (body) => parseMessagesRequest(body),
  newStreamMeter: (info) => new AnthropicStreamMeter(tokenizerFactor(info.model)),
  usageFromJson: usageFromMessageJson,
  errorReply: anthropicErrorReply,
  withOutputLimit: anthropicOutputLimit,
};
