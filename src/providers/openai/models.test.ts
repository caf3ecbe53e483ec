import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenizerFactor as claudeTokenizerFactor } from '../anthropic/index.js';
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

test('tokenizer factor: o200k models are not inflated, a Claude id through a router is held like Claude, unknown vocabularies more', () => {
  // What each factor must cover is asserted by its effect in ../tokenizer-factors.test.ts.
  assert.equal(tokenizerFactor('gpt-4o'), 1);
  assert.equal(tokenizerFactor('openai/gpt-oss-20b'), 1);
  assert.equal(tokenizerFactor('anthropic/claude-sonnet-4.5'), claudeTokenizerFactor('claude-sonnet-4-5'));
  assert.equal(tokenizerFactor('anthropic/claude-opus-4.7'), claudeTokenizerFactor('claude-opus-4-7'));
  assert.ok(tokenizerFactor('mistralai/mistral-7b-instruct') > tokenizerFactor('anthropic/claude-sonnet-4.5'));
});

test('hidden-reasoning speed bound (one rule for Chat and Responses): 500 tokens/s for OpenAI and Claude, 3000 for spark and open models on fast hosts', () => {
  assert.equal(reasoningTokensPerSecond('o3'), 500);
  assert.equal(reasoningTokensPerSecond('gpt-5-nano'), 500);
  assert.equal(reasoningTokensPerSecond('anthropic/claude-sonnet-4.5'), 500);
  assert.equal(reasoningTokensPerSecond('gpt-5.3-codex-spark'), 3000);
  assert.equal(reasoningTokensPerSecond('openai/gpt-oss-120b'), 3000);
  assert.equal(reasoningTokensPerSecond('deepseek/deepseek-r1'), 3000);
});
