import { test } from 'node:test';
import assert from 'node:assert/strict';
import { providerCostFromResponseJson, usageFromResponseJson, usageFromResponsesUsage } from './responses-usage.js';

test('cached (and cache-write) tokens are taken out of input_tokens; reasoning stays in output', () => {
  const u = usageFromResponsesUsage({
    input_tokens: 9500,
    input_tokens_details: { cached_tokens: 8000, cache_write_tokens: 500 },
    output_tokens: 1200,
    output_tokens_details: { reasoning_tokens: 1000 },
    total_tokens: 10700,
  });
  assert.deepEqual(u, { inputTokens: 1000, outputTokens: 1200, cacheReadTokens: 8000, cacheWrite5mTokens: 500, cacheWrite1hTokens: 0 });
});

test('missing details read as zero; counts above their total are clamped, never negative', () => {
  assert.deepEqual(usageFromResponsesUsage({ input_tokens: 37, output_tokens: 11, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 48 }), {
    inputTokens: 37,
    outputTokens: 11,
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
  });
  const odd = usageFromResponsesUsage({ input_tokens: 10, input_tokens_details: { cached_tokens: 50 }, output_tokens: 1 });
  assert.deepEqual([odd?.inputTokens, odd?.cacheReadTokens], [0, 10]);
  assert.equal(usageFromResponsesUsage(null), null);
  assert.equal(usageFromResponsesUsage('x'), null);
});

test('a whole Response: usage, or null for an error body', () => {
  assert.equal(usageFromResponseJson({ id: 'resp_1', usage: { input_tokens: 5, output_tokens: 2 } })?.outputTokens, 2);
  assert.equal(usageFromResponseJson({ error: { message: 'no' } }), null);
});

test("OpenRouter's usage.cost in USD becomes n$, rounded up, without float noise", () => {
  assert.equal(providerCostFromResponseJson({ usage: { input_tokens: 1, output_tokens: 1, cost: 0.0001 } }), 100);
  assert.equal(providerCostFromResponseJson({ usage: { cost: 0.0000123456 } }), 13);
  assert.equal(providerCostFromResponseJson({ usage: { input_tokens: 1 } }), null);
  assert.equal(providerCostFromResponseJson({ usage: { cost: -1 } }), null);
});
