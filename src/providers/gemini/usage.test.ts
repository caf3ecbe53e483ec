import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usageFromGenerateContentJson } from './usage.js';

test('cached tokens are taken out of the prompt, tool-use prompt tokens are input, thoughts are output', () => {
  const u = usageFromGenerateContentJson({
    candidates: [{ content: { parts: [{ text: 'hi' }] }, finishReason: 'STOP' }],
    usageMetadata: { promptTokenCount: 1000, cachedContentTokenCount: 800, toolUsePromptTokenCount: 50, candidatesTokenCount: 20, thoughtsTokenCount: 300, totalTokenCount: 1370 },
  });
  assert.deepEqual(u, { inputTokens: 250, outputTokens: 320, cacheReadTokens: 800, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 });
});

test('zero counters are omitted on the wire (proto3): missing reads as 0', () => {
  assert.deepEqual(usageFromGenerateContentJson({ usageMetadata: { promptTokenCount: 7, totalTokenCount: 7 } }), {
    inputTokens: 7,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
  });
});

test('no usageMetadata (an error body) is null; a JSON-array stream takes its last usage', () => {
  assert.equal(usageFromGenerateContentJson({ error: { code: 400, message: 'x', status: 'INVALID_ARGUMENT' } }), null);
  assert.equal(usageFromGenerateContentJson(null), null);
  const arr = [
    { usageMetadata: { promptTokenCount: 7, candidatesTokenCount: 1 } },
    { usageMetadata: { promptTokenCount: 7, candidatesTokenCount: 9 } },
  ];
  assert.equal(usageFromGenerateContentJson(arr)?.outputTokens, 9);
});
