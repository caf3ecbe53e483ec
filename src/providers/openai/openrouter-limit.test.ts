import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openaiChatAdapter } from './chat-adapter.js';
import { isOpenRouterKeyLimit } from './openrouter-limit.js';

const body = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

test('OpenRouter\'s key-limit refusals are recognised in both documented shapes, and nothing else is', () => {
  assert.equal(isOpenRouterKeyLimit(402, body({ error: { code: 402, message: 'more credits', metadata: { limit_source: 'openrouter_key_limit' } } })), true);
  assert.equal(isOpenRouterKeyLimit(403, body({ error: { code: 403, message: 'Key limit exceeded' } })), true);
  // The account's credits, OpenRouter's in-flight budget, another 403, a non-JSON body: not the key's cap.
  assert.equal(isOpenRouterKeyLimit(402, body({ error: { code: 402, message: 'Insufficient credits', metadata: { limit_source: 'openrouter_credits' } } })), false);
  assert.equal(isOpenRouterKeyLimit(402, body({ error: { code: 402, message: 'x', metadata: { limit_source: 'openrouter_in_flight_budget' } } })), false);
  assert.equal(isOpenRouterKeyLimit(403, body({ error: { code: 403, message: 'Forbidden: moderation' } })), false);
  assert.equal(isOpenRouterKeyLimit(402, Buffer.from('<html>')), false);
  assert.equal(isOpenRouterKeyLimit(429, body({ error: { message: 'Key limit exceeded' } })), false);
});

test('only a key whose provider is OpenRouter turns the refusal into a cap refusal', () => {
  const b = body({ error: { code: 403, message: 'Key limit exceeded' } });
  assert.equal(openaiChatAdapter.providerCapRefused?.('openrouter', 403, b), true);
  assert.equal(openaiChatAdapter.providerCapRefused?.('openai-compatible', 403, b), false);
  assert.equal(openaiChatAdapter.responseIdFromJson?.({ id: 'gen-123', object: 'chat.completion' }), 'gen-123');
});
