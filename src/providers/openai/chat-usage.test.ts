import { test } from 'node:test';
import assert from 'node:assert/strict';
import { providerCostFromUsage, usageFromChatCompletionJson, usageFromChatUsage, usdFloatToNanos } from './chat-usage.js';

test('prompt_tokens includes cached (and written) tokens: the input kinds come out disjoint; reasoning stays inside output', () => {
  assert.deepEqual(
    usageFromChatUsage({
      prompt_tokens: 1000,
      completion_tokens: 300,
      total_tokens: 1300,
      prompt_tokens_details: { cached_tokens: 600, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 200, audio_tokens: 0 },
    }),
    { inputTokens: 400, outputTokens: 300, cacheReadTokens: 600, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 },
  );
  assert.deepEqual(usageFromChatUsage({ prompt_tokens: 1000, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 100, cache_write_tokens: 300 } }), {
    inputTokens: 600,
    outputTokens: 10,
    cacheReadTokens: 100,
    cacheWrite5mTokens: 300,
    cacheWrite1hTokens: 0,
  });
});

test('minimal, odd and missing usage', () => {
  assert.deepEqual(usageFromChatUsage({ prompt_tokens: 17, completion_tokens: 10, total_tokens: 27 }), {
    inputTokens: 17,
    outputTokens: 10,
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
  });
  // A provider whose reasoning count exceeds its completion count cannot be counting it inside: both are billed.
  assert.equal(usageFromChatUsage({ prompt_tokens: 5, completion_tokens: 10, completion_tokens_details: { reasoning_tokens: 50 } })!.outputTokens, 60);
  // cached above prompt is clamped
  assert.equal(usageFromChatUsage({ prompt_tokens: 5, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 50 } })!.cacheReadTokens, 5);
  assert.equal(usageFromChatUsage(null), null);
  assert.equal(usageFromChatUsage(undefined), null);
  assert.equal(usageFromChatCompletionJson({ error: { message: 'x' } }), null);
  assert.equal(usageFromChatCompletionJson({ usage: { prompt_tokens: 3, completion_tokens: 4 } })!.outputTokens, 4);
});

test("OpenRouter's usage.cost in n$, rounded up without float noise; BYOK adds the upstream bill", () => {
  assert.equal(usdFloatToNanos(0.0001), 100_000);
  assert.equal(usdFloatToNanos(0.000123), 123_000);
  assert.equal(usdFloatToNanos(0.0000001), 100);
  assert.equal(usdFloatToNanos(0.00003255), 32_550);
  assert.equal(usdFloatToNanos(0.0000000001), 1);
  assert.equal(usdFloatToNanos(1.5), 1_500_000_000);
  assert.equal(providerCostFromUsage({ prompt_tokens: 1, completion_tokens: 1, cost: 0.00042 }), 420_000);
  assert.equal(providerCostFromUsage({ cost: 0.001, is_byok: true, cost_details: { upstream_inference_cost: 0.02 } }), 21_000_000);
  assert.equal(providerCostFromUsage({ cost: 0.001, is_byok: false, cost_details: { upstream_inference_cost: 0.02 } }), 1_000_000);
  assert.equal(providerCostFromUsage({ prompt_tokens: 1 }), null);
  assert.equal(providerCostFromUsage({ cost: -1 }), null);
  assert.equal(providerCostFromUsage(null), null);
});
