// Everything OpenAI-protocol-specific in spendcap; the rest of the proxy sees only ProviderAdapter.
export { openaiChatAdapter } from './chat-adapter.js';
export { CHAT_CUT_FINISH_REASON, buildChatCutTail } from './chat-cut.js';
export { ChatStreamMeter, stripHiddenUsage } from './chat-stream-meter.js';
export { parseChatRequest } from './chat-request.js';
export type { ChatRequestInfo } from './chat-request.js';
export { usageFromChatUsage } from './chat-usage.js';
