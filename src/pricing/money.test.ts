import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUsd, nanosToUsd, usdToNanos } from './money.js';

test('usdToNanos rounds to integer nano-dollars', () => {
  assert.equal(usdToNanos(3), 3_000_000_000);
  assert.equal(usdToNanos(0.3), 300_000_000);
  assert.equal(usdToNanos(0.08), 80_000_000);
  assert.equal(usdToNanos(22.5), 22_500_000_000);
  assert.equal(usdToNanos(0.15), 150_000_000);
  assert.equal(usdToNanos(0.00003255), 32_550);
  assert.equal(usdToNanos(0.0000000004), 0);
  assert.throws(() => usdToNanos(Number.NaN), RangeError);
  assert.throws(() => usdToNanos(Infinity), RangeError);
});

test('nanosToUsd prints back exactly to the nano-dollar', () => {
  assert.equal(JSON.stringify(nanosToUsd(32_550)), '0.00003255');
  assert.equal(JSON.stringify(nanosToUsd(723_750)), '0.00072375');
  assert.equal(JSON.stringify(nanosToUsd(123_456_789_012)), '123.456789012');
});

test('formatUsd: at least cents, up to 9 decimals, trailing zeros trimmed', () => {
  assert.equal(formatUsd(15_000_000_000), '$15.00');
  assert.equal(formatUsd(1_500_000_000), '$1.50');
  assert.equal(formatUsd(1_230_000_000), '$1.23');
  assert.equal(formatUsd(1_234_500_000), '$1.2345');
  assert.equal(formatUsd(12_345_678_000), '$12.345678');
  assert.equal(formatUsd(1_234_000), '$0.001234');
  assert.equal(formatUsd(32_550), '$0.00003255');
  assert.equal(formatUsd(1), '$0.000000001');
  assert.equal(formatUsd(999_999_999), '$0.999999999');
  assert.equal(formatUsd(0), '$0.00');
  assert.equal(formatUsd(-250_000_000), '-$0.25');
  assert.equal(formatUsd(1_234_567_890_000_000), '$1234567.89');
});
