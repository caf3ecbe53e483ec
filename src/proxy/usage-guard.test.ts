import { test } from 'node:test';
import assert from 'node:assert/strict';
import { costNanos, usdToNanos } from '../pricing/index.js';
import { safeUsage, usageFlaw } from './usage-guard.js';

const ok = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 };
const rates = { input: usdToNanos(3), output: usdToNanos(15), cacheRead: usdToNanos(0.3), cacheWrite5m: usdToNanos(3.75), cacheWrite1h: usdToNanos(6) };

test('usage guard: negative, fractional, NaN and unsafe counts are found, and made safe to price', () => {
  assert.equal(usageFlaw(ok), null);
  for (const bad of [-1, 0.5, Number.NaN, 2 ** 53, Infinity]) {
    const u = { ...ok, outputTokens: bad };
    assert.equal(usageFlaw(u), `outputTokens=${String(bad)}`);
    assert.throws(() => costNanos(u, rates));
    const fixed = safeUsage(u);
    assert.equal(usageFlaw(fixed), null);
    assert.doesNotThrow(() => costNanos(fixed, rates));
  }
  assert.equal(safeUsage({ ...ok, inputTokens: 2.1 }).inputTokens, 3);
  assert.equal(safeUsage({ ...ok, inputTokens: -7 }).inputTokens, 0);
});
