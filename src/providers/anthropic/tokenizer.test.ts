import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claudeVersion, tokenizerFactor } from './tokenizer.js';

test('Claude versions in both naming schemes', () => {
  assert.deepEqual(claudeVersion('claude-3-5-sonnet-20241022'), { major: 3, minor: 5 });
  assert.deepEqual(claudeVersion('claude-3-haiku-20240307'), { major: 3, minor: 0 });
  assert.deepEqual(claudeVersion('claude-sonnet-4-5-20250929'), { major: 4, minor: 5 });
  assert.deepEqual(claudeVersion('claude-opus-4-20250514'), { major: 4, minor: 0 });
  assert.deepEqual(claudeVersion('claude-opus-4-8'), { major: 4, minor: 8 });
  assert.deepEqual(claudeVersion('claude-fable-5-1'), { major: 5, minor: 1 });
  assert.equal(claudeVersion('my-local-model'), null);
});

// How much each factor must cover is asserted by its effect in ../tokenizer-factors.test.ts (holds
// against independent counts) and test/tokenizer-factor-cap.test.ts (the bill stays under the cap).
test('4.7 and later, and anything unrecognised, are held above 4.6 and earlier (the newer tokenizer is finer)', () => {
  const older = ['claude-3-7-sonnet-latest', 'claude-sonnet-4-5', 'claude-opus-4-6', 'claude-haiku-4-5-20251001', 'claude-opus-4-1'];
  const newer = ['claude-opus-4-7', 'claude-opus-4-8', 'claude-sonnet-5', 'claude-opus-5-5', 'llama-3'];
  const smallestNewer = Math.min(...newer.map(tokenizerFactor));
  for (const m of older) assert.ok(tokenizerFactor(m) < smallestNewer, m);
  for (const m of older.slice(1)) assert.equal(tokenizerFactor(m), tokenizerFactor(older[0]!), m);
  for (const m of newer.slice(1)) assert.equal(tokenizerFactor(m), tokenizerFactor(newer[0]!), m);
});
