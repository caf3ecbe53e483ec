import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claudeVersion, NEWER_TOKENIZER_FACTOR, OLDER_TOKENIZER_FACTOR, tokenizerFactor } from './tokenizer.js';

test('Claude versions in both naming schemes', () => {
  assert.deepEqual(claudeVersion('claude-3-5-sonnet-20241022'), { major: 3, minor: 5 });
  assert.deepEqual(claudeVersion('claude-3-haiku-20240307'), { major: 3, minor: 0 });
  assert.deepEqual(claudeVersion('claude-sonnet-4-5-20250929'), { major: 4, minor: 5 });
  assert.deepEqual(claudeVersion('claude-opus-4-20250514'), { major: 4, minor: 0 });
  assert.deepEqual(claudeVersion('claude-opus-4-8'), { major: 4, minor: 8 });
  assert.deepEqual(claudeVersion('claude-fable-5-1'), { major: 5, minor: 1 });
  assert.equal(claudeVersion('my-local-model'), null);
});

test('the newer tokenizer factor for 4.7 and later, and for anything unrecognised', () => {
  for (const m of ['claude-3-7-sonnet-latest', 'claude-sonnet-4-5', 'claude-opus-4-6', 'claude-haiku-4-5-20251001', 'claude-opus-4-1']) assert.equal(tokenizerFactor(m), OLDER_TOKENIZER_FACTOR, m);
  for (const m of ['claude-opus-4-7', 'claude-opus-4-8', 'claude-sonnet-5', 'claude-opus-5-5', 'llama-3']) assert.equal(tokenizerFactor(m), NEWER_TOKENIZER_FACTOR, m);
});
