import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bareModel, chatTokenizerFactor, isOpenAIModel, OTHER_TOKENIZER_FACTOR, reasoningTokensPerSecond } from './tokenizer.js';

test('model ids: router prefixes are dropped; OpenAI models are told from open-weight gpt-oss', () => {
  assert.equal(bareModel('openai/GPT-5'), 'gpt-5');
  assert.equal(isOpenAIModel('gpt-4o-2024-08-06'), true);
  assert.equal(isOpenAIModel('ft:gpt-4o-mini:org::abc'), true);
  assert.equal(isOpenAIModel('openai/o4-mini'), true);
  assert.equal(isOpenAIModel('openai/gpt-oss-120b'), false);
  assert.equal(isOpenAIModel('llama-3.3-70b'), false);
});

test('tokenizer factor: 1 for o200k models, the Claude factor for Claude, more for unknown vocabularies', () => {
  assert.equal(chatTokenizerFactor('gpt-4o'), 1);
  assert.equal(chatTokenizerFactor('openai/gpt-oss-20b'), 1);
  assert.equal(chatTokenizerFactor('anthropic/claude-sonnet-4.5'), 1.15);
  assert.equal(chatTokenizerFactor('anthropic/claude-opus-4.7'), 1.45);
  assert.equal(chatTokenizerFactor('mistralai/mistral-7b-instruct'), OTHER_TOKENIZER_FACTOR);
});

test('hidden-reasoning speed bound: 400 tokens/s for OpenAI and Claude, more for spark and open models on fast hosts', () => {
  assert.equal(reasoningTokensPerSecond('o3'), 400);
  assert.equal(reasoningTokensPerSecond('gpt-5-nano'), 400);
  assert.equal(reasoningTokensPerSecond('anthropic/claude-sonnet-4.5'), 400);
  assert.equal(reasoningTokensPerSecond('gpt-5.3-codex-spark'), 2000);
  assert.equal(reasoningTokensPerSecond('deepseek/deepseek-r1'), 3000);
});
