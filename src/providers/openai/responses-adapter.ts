import { responsesOutputLimit } from '../output-limit.js';
import type { ProviderAdapter } from '../types.js';
import { asRecord, str } from '../json.js';
import { OPENAI_FORWARDED_HEADERS } from './headers.js';
import { openaiErrorReply } from './errors.js';
import { isOpenRouterKeyLimit } from './openrouter-limit.js';
import { parseResponsesRequest } from './responses-request.js';
import { ResponsesStreamMeter } from './responses-meter.js';
import { providerCostFromResponseJson, usageFromResponseJson } from './responses-usage.js';
import { exactTokenizersReady } from './exact-tokens.js';

/** OpenAI's Responses API (POST /v1/responses), as OpenAI, OpenRouter and compatible servers speak it; Codex CLI's only protocol. */
export const openaiResponsesAdapter: ProviderAdapter = {
  protocol: 'openai-responses',
  forwardedHeaders: OPENAI_FORWARDED_HEADERS,
  whenReady: exactTokenizersReady,
  authHeaders(providerKey) {
    return { authorization: `Bearer ${providerKey}` };
  },
  parseRequest: (body) => parseResponsesRequest(body),
  // parseRequest made this info, so it carries reasoningEffort (ResponsesRequestInfo).
  newStreamMeter: (info) => new ResponsesStreamMeter(info),
  usageFromJson: usageFromResponseJson,
  providerCostFromJson: providerCostFromResponseJson,
  responseIdFromJson: (json) => str(asRecord(json)?.['id']) ?? null,
  providerCapRefused: (provider, status, body) => provider === 'openrouter' && isOpenRouterKeyLimit(status, body),
  errorReply: openaiErrorReply,
  withOutputLimit: responsesOutputLimit,
};
