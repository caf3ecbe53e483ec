import { test } from 'node:test';
import assert from 'node:assert/strict';
import { costMicros, inputCostMicros, outputRateFor, tokensCostMicros, totalInputTokens } from './cost.js';
import { PriceBook } from './price-book.js';
import { ZERO_USAGE } from './types.js';
import type { ModelRates, Usage } from './types.js';

const book = new PriceBook({ overrides: [], now: () => new Date('2026-11-01T00:00:00Z') });
function rates(model: string): ModelRates {
  const r = book.resolve('anthropic', model);
  if (r instanceof Error) throw r;
  return r.rates;
}
const usage = (u: Partial<Usage>): Usage => ({ ...ZERO_USAGE, ...u });
const sonnet = rates('claude-sonnet-4-5');

test('claude-sonnet-4-5 plain cost: $3 in / $15 out', () => {
  // 1000 × $3/M + 500 × $15/M = $0.003 + $0.0075
  assert.equal(costMicros(usage({ inputTokens: 1000, outputTokens: 500 }), sonnet), 10_500);
  assert.equal(costMicros(usage({ inputTokens: 100_000, outputTokens: 100_000 }), sonnet), 1_800_000);
  assert.equal(costMicros(ZERO_USAGE, sonnet), 0);
});

test('cache read, 5-minute and 1-hour write rates', () => {
  const haiku = rates('claude-haiku-4-5');
  assert.equal(costMicros(usage({ cacheReadTokens: 1_000_000 }), haiku), 100_000);
  assert.equal(costMicros(usage({ cacheWrite5mTokens: 1_000_000 }), haiku), 1_250_000);
  assert.equal(costMicros(usage({ cacheWrite1hTokens: 1_000_000 }), haiku), 2_000_000);
  assert.equal(
    costMicros(usage({ inputTokens: 10, outputTokens: 20, cacheReadTokens: 30, cacheWrite5mTokens: 40, cacheWrite1hTokens: 50 }), sonnet),
    // 10×3 + 20×15 + 30×0.3 + 40×3.75 + 50×6 = 30+300+9+150+300 = 789 µ$
    789,
  );
});

test('long context: 250k input on claude-sonnet-4-5 bills every token at $6 / $22.50', () => {
  assert.equal(costMicros(usage({ inputTokens: 250_000, outputTokens: 1000 }), sonnet), 1_500_000 + 22_500);
  assert.equal(outputRateFor(sonnet, 250_000), 22_500_000);
  assert.equal(outputRateFor(sonnet, 200_000), 15_000_000);
});

test('long context: cache kinds count toward the threshold and use the premium multipliers', () => {
  const u = usage({ inputTokens: 50_000, cacheReadTokens: 150_000, cacheWrite5mTokens: 30_000, cacheWrite1hTokens: 20_000 });
  assert.equal(totalInputTokens(u), 250_000);
  // 50k×6 + 150k×0.6 + 30k×7.5 + 20k×12 (µ$/tok ×1e-6) = 300_000 + 90_000 + 225_000 + 240_000
  assert.equal(costMicros(u, sonnet), 855_000);
  // Mostly cached, only 1000 fresh tokens: still over 200k in total, so premium.
  assert.equal(costMicros(usage({ inputTokens: 1000, cacheReadTokens: 199_001 }), sonnet), 125_401); // 6000 + 119_400.6
});

test('long context threshold is strictly greater: exactly 200k stays at base', () => {
  assert.equal(costMicros(usage({ inputTokens: 200_000 }), sonnet), 600_000);
  assert.equal(costMicros(usage({ inputTokens: 200_001 }), sonnet), 1_200_006);
  assert.equal(costMicros(usage({ inputTokens: 100_000, cacheReadTokens: 100_000 }), sonnet), 330_000);
});

test('rounding: one ceiling per request, always up', () => {
  assert.equal(tokensCostMicros(1, 3_000_000), 3); // 1 token at $3/Mtok
  assert.equal(tokensCostMicros(1, 300_000), 1); // 0.3 µ$ → 1
  assert.equal(tokensCostMicros(0, 300_000), 0);
  assert.equal(tokensCostMicros(10, 300_000), 3);
  assert.equal(costMicros(usage({ inputTokens: 1 }), sonnet), 3);
  assert.equal(costMicros(usage({ cacheReadTokens: 1 }), sonnet), 1);
  // 3 × 0.3 µ$ = 0.9 µ$: summed before the ceiling, so 1 µ$, not 3.
  assert.equal(costMicros(usage({ cacheReadTokens: 3 }), sonnet), 1);
});

test('inputCostMicros: input side only, tier-aware; hold = input + output never under-reserves', () => {
  const u = usage({ inputTokens: 1000, outputTokens: 999_999, cacheReadTokens: 3 });
  assert.equal(inputCostMicros(u, sonnet), 3001); // 3000 + ceil(0.9)
  assert.equal(inputCostMicros(usage({ inputTokens: 250_000 }), sonnet), 1_500_000);
  const hold = inputCostMicros(u, sonnet) + tokensCostMicros(u.outputTokens, outputRateFor(sonnet, totalInputTokens(u)));
  assert.ok(hold >= costMicros(u, sonnet));
});

test('no float drift: integer totals stay exact over many requests', () => {
  const u = usage({ inputTokens: 1234, outputTokens: 567, cacheReadTokens: 89_012, cacheWrite5mTokens: 345 });
  const one = costMicros(u, sonnet);
  let total = 0;
  for (let i = 0; i < 100_000; i++) total += costMicros(u, sonnet);
  assert.equal(total, one * 100_000);
  assert.ok(Number.isSafeInteger(total));
  // The float way drifts: 0.1 USD ten times is not 1 USD.
  let usd = 0;
  for (let i = 0; i < 10; i++) usd += 0.1;
  assert.notEqual(usd, 1);
  let micros = 0;
  for (let i = 0; i < 10; i++) micros += tokensCostMicros(1_000_000, 100_000);
  assert.equal(micros, 1_000_000);
});

test('products past 2^53 are exact (BigInt path)', () => {
  // 99_999_999 × 999_999_999 = 99_999_998_900_000_001 > 2^53; / 1e6 then ceil.
  assert.equal(tokensCostMicros(99_999_999, 999_999_999), 99_999_998_901);
  assert.equal(tokensCostMicros(100_000_000, 1_000_000_000), 100_000_000_000);
  const huge: ModelRates = { input: 1_000_000_000, output: 1_000_000_000, cacheRead: 1, cacheWrite5m: 1, cacheWrite1h: 1 };
  assert.equal(costMicros(usage({ inputTokens: 99_999_999, outputTokens: 100_000_000, cacheReadTokens: 1 }), huge), 199_999_999_001);
});

test('bad token counts throw instead of poisoning a cap', () => {
  assert.throws(() => costMicros(usage({ inputTokens: Number.NaN }), sonnet), RangeError);
  assert.throws(() => costMicros(usage({ outputTokens: -1 }), sonnet), RangeError);
  assert.throws(() => costMicros(usage({ cacheReadTokens: 1.5 }), sonnet), RangeError);
  assert.throws(() => tokensCostMicros(1, 0.5), RangeError);
});
