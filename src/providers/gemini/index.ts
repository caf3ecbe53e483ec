// Everything Gemini-specific in spendcap; the rest of the proxy sees only ProviderAdapter.
export { geminiAdapter } from './adapter.js';
export { parseGeminiRequest, thinkingCapFor } from './request.js';
export type { GeminiRequestInfo } from './request.js';
export { GEMINI_TOKENIZER_FACTOR, GEMINI_TOKENS_PER_SECOND, GeminiStreamMeter } from './stream-meter.js';
export { CUT_FINISH_REASON, buildGeminiCutTail, geminiSseEvent } from './cut.js';
export { countsFromMetadata, usageFromCounts, usageFromGenerateContentJson } from './usage.js';
export type { GeminiCounts } from './usage.js';
export { GEMINI_ERRORS, REFUSAL_RETRY_DELAY, geminiErrorBody, geminiErrorReply } from './errors.js';
