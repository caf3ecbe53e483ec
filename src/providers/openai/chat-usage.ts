import type { Nanos, Usage } from '../../pricing/types.js';
import { asRecord, num } from '../json.js';

/**
 * Chat Completions usage → spendcap's Usage, whose input kinds are disjoint:
 * `prompt_tokens` includes `prompt_tokens_details.cached_tokens` (cache reads) and
 * `cache_write_tokens` (OpenRouter, and OpenAI from GPT-5.6, which bill writes at 1.25×), so
 * inputTokens = prompt − cached − written. `completion_tokens` includes
 * `completion_tokens_details.reasoning_tokens`, billed at the output price; a compatible provider
 * that reports more reasoning than completion tokens cannot be counting it inside, so the two are
 * added then. Null when `usage` is missing or not an object (OpenAI sends `"usage": null` on every
 * chunk but the last when include_usage is on).
 */
export function usageFromChatUsage(raw: unknown): Usage | null {
  const u = asRecord(raw);
  if (!u) return null;
  const prompt = Math.max(0, num(u['prompt_tokens']) ?? 0);
  const completion = Math.max(0, num(u['completion_tokens']) ?? 0);
  const pd = asRecord(u['prompt_tokens_details']);
  const cd = asRecord(u['completion_tokens_details']);
  const cached = Math.max(0, num(pd?.['cached_tokens']) ?? 0);
  const written = Math.max(0, num(pd?.['cache_write_tokens']) ?? 0);
  const reasoning = Math.max(0, num(cd?.['reasoning_tokens']) ?? 0);
  const cacheRead = Math.min(cached, prompt);
  const cacheWrite = Math.min(written, prompt - cacheRead);
  return {
    inputTokens: prompt - cacheRead - cacheWrite,
    outputTokens: reasoning > completion ? completion + reasoning : completion,
    cacheReadTokens: cacheRead,
    cacheWrite5mTokens: cacheWrite,
    cacheWrite1hTokens: 0,
  };
}

/** Usage of a whole (non-streamed) chat.completion body. */
export function usageFromChatCompletionJson(json: unknown): Usage | null {
  return usageFromChatUsage(asRecord(json)?.['usage']);
}

/** USD (a float) → n$, rounded up, without float noise turning $0.0001 into 101 n$. */
export function usdFloatToNanos(usd: number): Nanos {
  const pico = Math.round(usd * 1e12);
  return Math.ceil(pico / 1e3);
}

/**
 * OpenRouter's own figure for what a request cost (`usage.cost`, USD credits). With a BYOK key
 * (`is_byok: true`) `cost` is only OpenRouter's fee and the provider bills the user's own key
 * `cost_details.upstream_inference_cost` on top, so both are added. Null when not reported.
 */
export function providerCostFromUsage(raw: unknown): Nanos | null {
  const u = asRecord(raw);
  const cost = num(u?.['cost']);
  if (!u || cost === undefined || cost < 0) return null;
  let usd = cost;
  if (u['is_byok'] === true) usd += Math.max(0, num(asRecord(u['cost_details'])?.['upstream_inference_cost']) ?? 0);
  return usdFloatToNanos(usd);
}

export function providerCostFromChatJson(json: unknown): Nanos | null {
  return providerCostFromUsage(asRecord(json)?.['usage']);
}
