import { geminiOutputLimit } from '../output-limit.js';
import type { ProviderAdapter, RequestInfo } from '../types.js';
import { geminiErrorReply } from './errors.js';
import { parseGeminiRequest } from './request.js';
import type { GeminiRequestInfo } from './request.js';
import { GeminiStreamMeter } from './stream-meter.js';
import { usageFromGenerateContentJson } from './usage.js';

/** The relay hands back the object parseRequest returned; a bare RequestInfo (tests) gets the defaults. */
function meterOptions(info: RequestInfo): Pick<GeminiRequestInfo, 'thinkingCap' | 'candidateCount'> {
  const g = info as Partial<GeminiRequestInfo>;
  return { thinkingCap: g.thinkingCap ?? null, candidateCount: g.candidateCount ?? 1 };
}

export const geminiAdapter: ProviderAdapter = {
  protocol: 'gemini',
  // @google/genai's client tag and its server-side timeout.
  forwardedHeaders: { names: ['x-goog-api-client', 'x-server-timeout'], prefixes: [] },
  authHeaders(providerKey) {
    return { 'x-goog-api-key': providerKey };
  },
  parseRequest: parseGeminiRequest,
  newStreamMeter: (info) => new GeminiStreamMeter(meterOptions(info)),
  usageFromJson: usageFromGenerateContentJson,
  errorReply: geminiErrorReply,
  withOutputLimit: geminiOutputLimit,
};
