import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bareModel, tokenizerFactor, isOpenAIModel, reasoningTokensPerSecond } from './models.js';

test('model ids: router prefixes are dropped; OpenAI models are told from open-weight gpt-oss', () => {
  assert.equal(bareModel('openai/GPT-5'), 'gpt-5');
  assert.equal(isOpenAIModel('gpt-4o-2024-08-06'), true);
  assert.equal(isOpenAIModel('ft:gpt-4o-mini:org::abc'), true);
  assert.equal(isOpenAIModel('openai/o4-mini'), true);
  assert.equal(isOpenAIModel('openai/gpt-oss-120b'), false);
  assert.equal(isOpenAIModel('llama-3.3-70b'), false);
  assert.equal(isOpenAIModel('qwen/gpt-clone'), false);
});

test('tokenizer factor: 1 for o200k models, the Claude factor for Claude, more for unknown vocabularies', () => {
  assert.equal(tokenizerFactor('gpt-4o'), 1);
  assert.equal(tokenizerFactor('openai/gpt-oss-20b'), 1);
  assert.equal(tokenizerFactor('anthropic/claude-sonnet-4.5'), 1.15);
  assert.equal(tokenizerFactor('anthropic/claude-opus-4.7'), 1.45);
  assert.equal(tokenizerFactor('mistralai/mistral-7b-instruct'), 1.45);
});

test('hidden-reasoning speed bound (one rule for Chat and Responses): 500 tokens/s for OpenAI and Claude, 3000 for spark and open models on fast hosts', () => {
  assert.equal(reasoningTokensPerSecond('o3'), 500);
  assert.equal(reasoningTokensPerSecond('gpt-5-nano'), 500);
  assert.equal(reasoningTokensPerSecond('anthropic/claude-sonnet-4.5'), 500);
  assert.equal(reasoningTokensPerSecond('gpt-5.3-codex-spark'), 3000);
  assert.equal(reasoningTokensPerSecond('openai/gpt-oss-120b'), 3000);
  assert.equal(reasoningTokensPerSecond('deepseek/deepseek-r1'), 3000);
});
