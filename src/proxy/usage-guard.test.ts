import { test } from 'node:test';
import assert from 'node:assert/strict';
import { costMicros, usdToMicros } from '../pricing/index.js';
import { safeUsage, usageFlaw } from './usage-guard.js';

const ok = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 };
const rates = { input: usdToMicros(3), output: usdToMicros(15), cacheRead: usdToMicros(0.3), cacheWrite5m: usdToMicros(3.75), cacheWrite1h: usdToMicros(6) };

test('usage guard: negative, fractional, NaN and unsafe counts are found, and made safe to price', () => {
  assert.equal(usageFlaw(ok), null);
  for (const bad of [-1, 0.5, Number.NaN, 2 ** 53, Infinity]) {
    const u = { ...ok, outputTokens: bad };
    assert.equal(usageFlaw(u), `outputTokens=${String(bad)}`);
    assert.throws(() => costMicros(u, rates));
    const fixed = safeUsage(u);
    assert.equal(usageFlaw(fixed), null);
    assert.doesNotThrow(() => costMicros(fixed, rates));
  }
  assert.equal(safeUsage({ ...ok, inputTokens: 2.1 }).inputTokens, 3);
  assert.equal(safeUsage({ ...ok, inputTokens: -7 }).inputTokens, 0);
});
