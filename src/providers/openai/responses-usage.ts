import type { Usage } from '../../pricing/types.js';
import { asRecord, num } from '../json.js';

/**
 * A Responses `usage` object → Usage. OpenAI counts cached (and, where reported, cache-write) tokens
 * INSIDE input_tokens; Usage keeps its input kinds disjoint, so they are taken out of inputTokens.
 * output_tokens already includes output_tokens_details.reasoning_tokens (billed as output).
 * Null when there is no usage object.
 */
export function usageFromResponsesUsage(v: unknown): Usage | null {
  const u = asRecord(v);
  if (!u) return null;
  const input = num(u['input_tokens']) ?? 0;
  const details = asRecord(u['input_tokens_details']);
  // A count larger than the total it is part of would be a provider bug: clamp so no kind goes negative.
  const cached = Math.min(input, Math.max(0, num(details?.['cached_tokens']) ?? 0));
  const written = Math.min(input - cached, Math.max(0, num(details?.['cache_write_tokens']) ?? 0));
  return {
    inputTokens: input - cached - written,
    outputTokens: num(u['output_tokens']) ?? 0,
    cacheReadTokens: cached,
    cacheWrite5mTokens: written,
    cacheWrite1hTokens: 0,
  };
}

/** Usage of a whole Response object (non-streamed reply, or the `response` of a terminal event). */
export function usageFromResponseJson(json: unknown): Usage | null {
  return usageFromResponsesUsage(asRecord(json)?.['usage']);
}

/** OpenRouter adds usage.cost (USD credits charged) to OpenAI-shaped usage: in n$, rounded up; null when absent. */
export function providerCostFromResponsesUsage(v: unknown): number | null {
  const cost = num(asRecord(v)?.['cost']);
  return cost === undefined || cost < 0 ? null : Math.ceil(Math.round(cost * 1e9) / 1e3);
}

export function providerCostFromResponseJson(json: unknown): number | null {
  return providerCostFromResponsesUsage(asRecord(json)?.['usage']);
}
