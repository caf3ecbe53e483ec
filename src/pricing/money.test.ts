import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUsd, usdToMicros } from './money.js';

test('usdToMicros rounds to integer micro-dollars', () => {
  assert.equal(usdToMicros(3), 3_000_000);
  assert.equal(usdToMicros(0.3), 300_000);
  assert.equal(usdToMicros(0.08), 80_000);
  assert.equal(usdToMicros(22.5), 22_500_000);
  assert.equal(usdToMicros(0.0000004), 0);
  assert.throws(() => usdToMicros(Number.NaN), RangeError);
  assert.throws(() => usdToMicros(Infinity), RangeError);
});

test('formatUsd: at least cents, up to 6 decimals, trailing zeros trimmed', () => {
  assert.equal(formatUsd(15_000_000), '$15.00');
  assert.equal(formatUsd(1_500_000), '$1.50');
  assert.equal(formatUsd(1_230_000), '$1.23');
  assert.equal(formatUsd(1_234_500), '$1.2345');
  assert.equal(formatUsd(12_345_678), '$12.345678');
  assert.equal(formatUsd(1234), '$0.001234');
  assert.equal(formatUsd(1), '$0.000001');
  assert.equal(formatUsd(999_999), '$0.999999');
  assert.equal(formatUsd(0), '$0.00');
  assert.equal(formatUsd(-250_000), '-$0.25');
  assert.equal(formatUsd(123_456_789_000_000), '$123456789.00');
});
