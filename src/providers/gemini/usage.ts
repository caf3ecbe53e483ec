import type { Usage } from '../../pricing/types.js';
import { asRecord, num } from '../json.js';

/** The counters of one usageMetadata object, each 0 when absent (proto3 JSON omits zeros). */
export interface GeminiCounts {
  prompt: number;
  cached: number;
  toolUsePrompt: number;
  candidates: number;
  thoughts: number;
}

export function countsFromMetadata(u: Record<string, unknown>): GeminiCounts {
  return {
    prompt: num(u['promptTokenCount']) ?? 0,
    cached: num(u['cachedContentTokenCount']) ?? 0,
    toolUsePrompt: num(u['toolUsePromptTokenCount']) ?? 0,
    candidates: num(u['candidatesTokenCount']) ?? 0,
    thoughts: num(u['thoughtsTokenCount']) ?? 0,
  };
}

/**
 * Gemini counts → disjoint Usage. promptTokenCount includes the cached tokens, so the uncached
 * input is prompt − cached; tool-use prompt tokens (code execution, search results fed back) are
 * billed as input; thoughts are billed as output. Gemini has no cache-write charge per request
 * (explicit caches are created by their own call and charged for storage).
 */
export function usageFromCounts(c: GeminiCounts): Usage {
  const cached = Math.min(c.cached, c.prompt);
  return {
    inputTokens: c.prompt - cached + c.toolUsePrompt,
    outputTokens: c.candidates + c.thoughts,
    cacheReadTokens: cached,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
  };
}

/**
 * Usage of a whole generateContent response (one GenerateContentResponse). Also accepts the JSON
 * array a stream without alt=sse returns (its last usageMetadata holds the running totals), in
 * case one ever reaches the JSON path. Null without usageMetadata (an error body).
 */
export function usageFromGenerateContentJson(json: unknown): Usage | null {
  if (Array.isArray(json)) {
    for (let i = json.length - 1; i >= 0; i--) {
      const u = usageFromGenerateContentJson(json[i]);
      if (u) return u;
    }
    return null;
  }
  const u = asRecord(asRecord(json)?.['usageMetadata']);
  return u ? usageFromCounts(countsFromMetadata(u)) : null;
}
