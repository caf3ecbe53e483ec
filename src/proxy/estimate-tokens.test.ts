import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { estimateTokenUnits, estimateTokens, StreamingTokenEstimate } from './estimate-tokens.js';

import { SAMPLES } from './token-samples.js';
import type { TokenSample as Sample } from './token-samples.js';

const real = (s: Sample): number => Math.max(s.claude, s.cl100k, s.o200k);

test('empty string is 0 tokens', () => {
  assert.equal(estimateTokens(''), 0);
  assert.equal(estimateTokenUnits(''), 0);
});

for (const s of SAMPLES) {
  test(`${s.name}: not below any real tokenizer`, () => {
    const est = estimateTokens(s.text);
    assert.ok(est >= real(s), `estimate ${est} < real ${real(s)}`);
  });
}

test('English prose: within 15% above the real count', () => {
  for (const s of SAMPLES.filter((x) => x.name.startsWith('prose'))) {
    const est = estimateTokens(s.text);
    assert.ok(est <= real(s) * 1.15, `${s.name}: estimate ${est} > 1.15 × ${real(s)}`);
  }
});

test('code, JSON and non-Latin text: at most 1.35× the real count', () => {
  for (const s of SAMPLES.filter((x) => !x.name.startsWith('prose'))) {
    const est = estimateTokens(s.text);
    assert.ok(est <= real(s) * 1.35, `${s.name}: estimate ${est} > 1.35 × ${real(s)}`);
  }
});

/** Split a text at every word boundary (a real stream sends about one token per delta). */
function deltas(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

test('summing fractional units over 1-token deltas stays tight on prose, rounding each delta would not', () => {
  for (const s of SAMPLES.filter((x) => x.name.startsWith('prose'))) {
    const parts = deltas(s.text);
    const units = Math.ceil(parts.reduce((a, d) => a + estimateTokenUnits(d), 0));
    assert.ok(units >= real(s) && units <= real(s) * 1.15, `${s.name}: ${units} vs ${real(s)}`);
    const rounded = parts.reduce((a, d) => a + estimateTokens(d), 0);
    assert.ok(rounded >= units);
  }
});

/**
 * Pieces of the cl100k_base pre-tokenizer (its regex, with the case-insensitive group spelled
 * out): no BPE token crosses them, so their count is a lower bound of that tokenizer's count.
 */
const PRE_TOKENIZER = /'(?:[sdmtSDMT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;
function pieces(text: string): number {
  return text.match(PRE_TOKENIZER)?.length ?? 0;
}

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

test('never below the pre-tokenizer piece count', () => {
  const texts = SAMPLES.map((s) => s.text);
  for (const f of readdirSync(FIXTURES, { withFileTypes: true })) if (f.isFile()) texts.push(readFileSync(FIXTURES + f.name, 'utf8'));
  texts.push(
    "o'clock rock'n'roll don't I'll we've they're 'quoted' it's",
    'getUserById XMLHttpRequest snake_case_name kebab-case-name CONSTANT_VALUE',
    '0x1F600 3.14159 1e-9 192.168.0.1 2025-11-23T19:13:00Z',
    'a  b   c\n\n\n  d\t\te\r\n',
    'café naïve Ärger façade Straße',
    '日本語のテキスト 한국어 텍스트 Русский текст Ελληνικά עברית العربية हिन्दी ไทย',
    '😀👍🏽 👨‍👩‍👧‍👦 🇯🇵 ❤️',
  );
  for (const t of texts) {
    assert.ok(estimateTokenUnits(t) >= pieces(t), `below the piece count: ${JSON.stringify(t.slice(0, 60))}`);
  }
});

test('never below the piece count on random text (seeded)', () => {
  const alphabet = 'abcXYZ019 \n\t\r.,;:\'"(){}[]-_/\\éßÉ日本😀Жωक\u200d\ufe0f’\u00a0';
  const chars = Array.from(alphabet);
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let n = 0; n < 5000; n++) {
    let t = '';
    const len = 1 + Math.floor(rnd() * 40);
    for (let i = 0; i < len; i++) t += chars[Math.floor(rnd() * chars.length)] ?? '';
    assert.ok(estimateTokenUnits(t) >= pieces(t), `below the piece count: ${JSON.stringify(t)}`);
  }
});

test('specific shapes', () => {
  assert.equal(estimateTokens('The'), 1);
  assert.equal(estimateTokens(' cat'), 1);
  // Rounded up: fractional weights are for sums over many deltas (estimateTokenUnits).
  assert.equal(estimateTokens('Hello'), 2);
  assert.ok(estimateTokenUnits('Hello') < 1.1);
  assert.equal(estimateTokens("don't"), 2); // don|'t
  assert.equal(estimateTokens('getUserById'), 4); // get|User|By|Id
  assert.equal(estimateTokens('1234567'), 3); // 123|456|7
  assert.ok(estimateTokens('日本語') >= 3);
  assert.ok(estimateTokens('😀') >= 2);
  assert.ok(estimateTokens(' '.repeat(1000)) >= 9, 'long whitespace runs are split by real tokenizers');
});

test('a word split across deltas counts once', () => {
  const whole = new StreamingTokenEstimate();
  whole.add(' the budget is spent');
  const split = new StreamingTokenEstimate();
  for (const piece of [' the bud', 'get', ' is sp', 'ent']) split.add(piece);
  assert.equal(split.units, whole.units);
  const perToken = new StreamingTokenEstimate();
  for (const piece of [' the', ' budget', ',', ' is']) perToken.add(piece);
  assert.ok(perToken.units >= 4);
});

test('with an exact counter each delta is counted in the model tokenizer, at least one token; null falls back to the estimate', () => {
  const words = (t: string): number => t.trim().split(/\s+/).filter(Boolean).length;
  const exact = new StreamingTokenEstimate((t) => words(t));
  for (const d of [' budgets', ' accounting', ' ', ' the']) exact.add(d);
  assert.equal(exact.units, 4, 'a whitespace delta is still one token');
  const loading = new StreamingTokenEstimate(() => null);
  const plain = new StreamingTokenEstimate();
  for (const d of [' budgets', ' accounting']) {
    loading.add(d);
    plain.add(d);
  }
  assert.equal(loading.units, plain.units);
});
