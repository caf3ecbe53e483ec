// Everything Anthropic-specific in spendcap; the rest of the proxy sees only ProviderAdapter.
export { anthropicAdapter } from './adapter.js';
export { parseMessagesRequest } from './request.js';
export type { MessagesRequestError, MessagesRequestInfo } from './request.js';
export { AnthropicStreamMeter, usageFromAnthropic } from './stream-meter.js';
export type { OpenBlock } from './stream-meter.js';
export { CUT_STOP_REASON, buildCutTail } from './cut.js';
export { usageFromMessageJson } from './usage.js';
export { ANTHROPIC_ERRORS, anthropicError, anthropicErrorBody, anthropicErrorReply } from './errors.js';
export { tokenizerFactor } from './tokenizer.js';
