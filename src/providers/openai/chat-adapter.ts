import { chatOutputLimit } from '../output-limit.js';
import type { ProviderAdapter } from '../types.js';
import { OPENAI_FORWARDED_HEADERS } from './headers.js';
import { parseChatRequest } from './chat-request.js';
import type { ChatRequestInfo } from './chat-request.js';
import { ChatStreamMeter } from './chat-stream-meter.js';
import { providerCostFromChatJson, usageFromChatCompletionJson } from './chat-usage.js';
import { asRecord, str } from '../json.js';
import { openaiErrorReply } from './errors.js';
import { isOpenRouterKeyLimit } from './openrouter-limit.js';
import { exactTokenizersReady } from './exact-tokens.js';

/** POST /v1/chat/completions, for OpenAI, OpenRouter and any OpenAI-compatible endpoint (the key's provider). */
export const openaiChatAdapter: ProviderAdapter = {
  protocol: 'openai-chat',
  forwardedHeaders: OPENAI_FORWARDED_HEADERS,
  whenReady: exactTokenizersReady,
  authHeaders(providerKey) {
    return { authorization: `Bearer ${providerKey}` };
  },
  parseRequest: (body) => parseChatRequest(body),
  // parseRequest made this info, so it carries the chat fields.
  newStreamMeter: (info) => new ChatStreamMeter(info as ChatRequestInfo),
  usageFromJson: usageFromChatCompletionJson,
  providerCostFromJson: providerCostFromChatJson,
  responseIdFromJson: (json) => str(asRecord(json)?.['id']) ?? null,
  providerCapRefused: (provider, status, body) => provider === 'openrouter' && isOpenRouterKeyLimit(status, body),
  errorReply: openaiErrorReply,
  withOutputLimit: chatOutputLimit,
};
