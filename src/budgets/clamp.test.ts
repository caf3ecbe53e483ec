import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clampTokens, MIN_CLAMP_TOKENS } from './clamp.js';
import type { Account } from './account.js';

const account = (over: Partial<Account> = {}): Account => ({
  id: 'a',
  label: 'key "a"',
  liftName: 'a',
  capNanos: 1_000_000,
  mode: 'hard',
  killed: false,
  spentNanos: 0,
  heldNanos: 0,
  periodEnd: null,
  periodLabel: 'day',
  exhausted: false,
  clamp: true,
  ...over,
});
// $15 per Mtok output: $1 buys 66,666 tokens.
const base = { inputNanos: 0, outputRate: 15_000_000, maxTokens: 200_000, stream: false, marginTokens: 128 };

test('clamp: a non-stream is lowered to exactly what the tightest budget can pay for', () => {
  assert.equal(clampTokens({ ...base, accounts: [account()] }), 66_666);
  assert.equal(clampTokens({ ...base, accounts: [account({ spentNanos: 400_000 })], inputNanos: 100_000 }), 33_333);
});

test('clamp: a stream leaves room for the estimate and the margin, so it ends by itself', () => {
  assert.equal(clampTokens({ ...base, stream: true, accounts: [account()] }), Math.floor(66_666 / 1.5) - 128);
});

test('clamp: left alone when the limit fits, when the tightest budget did not opt in, or when too little is left', () => {
  assert.equal(clampTokens({ ...base, maxTokens: 1000, accounts: [account()] }), null);
  assert.equal(clampTokens({ ...base, accounts: [account({ clamp: false })] }), null);
  // The key opted in but a tag budget with less room did not: refuse rather than clamp on its behalf.
  assert.equal(clampTokens({ ...base, accounts: [account(), account({ id: 't', clamp: false, capNanos: 500_000 })] }), null);
  assert.equal(clampTokens({ ...base, accounts: [account({ spentNanos: 999_990 })] }), null);
  assert.ok(clampTokens({ ...base, accounts: [account({ spentNanos: 1_000_000 - Math.ceil((MIN_CLAMP_TOKENS * 15_000_000) / 1e6) })] }) === MIN_CLAMP_TOKENS);
  assert.equal(clampTokens({ ...base, accounts: [account({ killed: true })] }), null);
  // A soft budget never refuses, so it never needs a clamp.
  assert.equal(clampTokens({ ...base, accounts: [account({ mode: 'soft' })] }), null);
});
