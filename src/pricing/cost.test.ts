import { test } from 'node:test';
import assert from 'node:assert/strict';
import { costNanos, inputCostNanos, outputRateFor, tokensCostNanos, totalInputTokens } from './cost.js';
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
  assert.equal(costNanos(usage({ inputTokens: 1000, outputTokens: 500 }), sonnet), 10_500_000);
  assert.equal(costNanos(usage({ inputTokens: 100_000, outputTokens: 100_000 }), sonnet), 1_800_000_000);
  assert.equal(costNanos(ZERO_USAGE, sonnet), 0);
});

test('cache read, 5-minute and 1-hour write rates', () => {
  const haiku = rates('claude-haiku-4-5');
  assert.equal(costNanos(usage({ cacheReadTokens: 1_000_000 }), haiku), 100_000_000);
  assert.equal(costNanos(usage({ cacheWrite5mTokens: 1_000_000 }), haiku), 1_250_000_000);
  assert.equal(costNanos(usage({ cacheWrite1hTokens: 1_000_000 }), haiku), 2_000_000_000);
  assert.equal(
    costNanos(usage({ inputTokens: 10, outputTokens: 20, cacheReadTokens: 30, cacheWrite5mTokens: 40, cacheWrite1hTokens: 50 }), sonnet),
    // 10×3 + 20×15 + 30×0.3 + 40×3.75 + 50×6 = 30+300+9+150+300 = 789 µ$ = 789_000 n$
    789_000,
  );
});

test('long context: 250k input on claude-sonnet-4-5 bills every token at $6 / $22.50', () => {
  assert.equal(costNanos(usage({ inputTokens: 250_000, outputTokens: 1000 }), sonnet), 1_500_000_000 + 22_500_000);
  assert.equal(outputRateFor(sonnet, 250_000), 22_500_000_000);
  assert.equal(outputRateFor(sonnet, 200_000), 15_000_000_000);
});

test('long context: cache kinds count toward the threshold and use the premium multipliers', () => {
  const u = usage({ inputTokens: 50_000, cacheReadTokens: 150_000, cacheWrite5mTokens: 30_000, cacheWrite1hTokens: 20_000 });
  assert.equal(totalInputTokens(u), 250_000);
  // 50k×6 + 150k×0.6 + 30k×7.5 + 20k×12 (µ$/tok) = 300_000 + 90_000 + 225_000 + 240_000 µ$
  assert.equal(costNanos(u, sonnet), 855_000_000);
  // Mostly cached, only 1000 fresh tokens: still over 200k in total, so premium.
  assert.equal(costNanos(usage({ inputTokens: 1000, cacheReadTokens: 199_001 }), sonnet), 125_400_600); // 6000 + 119_400.6 µ$, exact in n$
});

test('long context threshold is strictly greater: exactly 200k stays at base', () => {
  assert.equal(costNanos(usage({ inputTokens: 200_000 }), sonnet), 600_000_000);
  assert.equal(costNanos(usage({ inputTokens: 200_001 }), sonnet), 1_200_006_000);
  assert.equal(costNanos(usage({ inputTokens: 100_000, cacheReadTokens: 100_000 }), sonnet), 330_000_000);
});

test('rounding: one ceiling per request, always up', () => {
  assert.equal(tokensCostNanos(1, 3_000_000_000), 3000); // 1 token at $3/Mtok
  assert.equal(tokensCostNanos(1, 37_500_000), 38); // $0.0375/Mtok: 37.5 n$ → 38
  assert.equal(tokensCostNanos(0, 37_500_000), 0);
  assert.equal(tokensCostNanos(2, 37_500_000), 75);
  assert.equal(tokensCostNanos(1, 300), 1); // 0.0003 n$ → 1
  assert.equal(costNanos(usage({ inputTokens: 1 }), sonnet), 3000);
  assert.equal(costNanos(usage({ cacheReadTokens: 1 }), sonnet), 300);
  // 3 × 0.3 n$ = 0.9 n$: summed before the ceiling, so 1 n$, not 3.
  const tiny: ModelRates = { input: 300, output: 300, cacheRead: 300_000, cacheWrite5m: 300, cacheWrite1h: 300 };
  assert.equal(costNanos(usage({ inputTokens: 3000 }), tiny), 1);
  assert.equal(costNanos(usage({ inputTokens: 1, outputTokens: 1, cacheWrite5mTokens: 1 }), tiny), 1);
});

test('inputCostNanos: input side only, tier-aware; hold = input + output never under-reserves', () => {
  const u = usage({ inputTokens: 1000, outputTokens: 999_999, cacheReadTokens: 3 });
  assert.equal(inputCostNanos(u, sonnet), 3_000_900); // 3000 + 0.9 µ$, exact in n$
  assert.equal(inputCostNanos(usage({ inputTokens: 250_000 }), sonnet), 1_500_000_000);
  const hold = inputCostNanos(u, sonnet) + tokensCostNanos(u.outputTokens, outputRateFor(sonnet, totalInputTokens(u)));
  assert.ok(hold >= costNanos(u, sonnet));
});

test('no float drift: integer totals stay exact over many requests', () => {
  const u = usage({ inputTokens: 1234, outputTokens: 567, cacheReadTokens: 89_012, cacheWrite5mTokens: 345 });
  const one = costNanos(u, sonnet);
  let total = 0;
  for (let i = 0; i < 100_000; i++) total += costNanos(u, sonnet);
  assert.equal(total, one * 100_000);
  assert.ok(Number.isSafeInteger(total));
  // The float way drifts: 0.1 USD ten times is not 1 USD.
  let usd = 0;
  for (let i = 0; i < 10; i++) usd += 0.1;
  assert.notEqual(usd, 1);
  let nanos = 0;
  for (let i = 0; i < 10; i++) nanos += tokensCostNanos(1_000_000, 100_000_000);
  assert.equal(nanos, 1_000_000_000);
});

test('products past 2^53 are exact (BigInt path)', () => {
  // 99_999_999 × 999_999_999 = 99_999_998_900_000_001 > 2^53; / 1e6 then ceil.
  assert.equal(tokensCostNanos(99_999_999, 999_999_999), 99_999_998_901);
  assert.equal(tokensCostNanos(100_000_000, 1_000_000_000), 100_000_000_000);
  const huge: ModelRates = { input: 1_000_000_000, output: 1_000_000_000, cacheRead: 1, cacheWrite5m: 1, cacheWrite1h: 1 };
  assert.equal(costNanos(usage({ inputTokens: 99_999_999, outputTokens: 100_000_000, cacheReadTokens: 1 }), huge), 199_999_999_001);
});

test('bad token counts throw instead of poisoning a cap', () => {
  assert.throws(() => costNanos(usage({ inputTokens: Number.NaN }), sonnet), RangeError);
  assert.throws(() => costNanos(usage({ outputTokens: -1 }), sonnet), RangeError);
  assert.throws(() => costNanos(usage({ cacheReadTokens: 1.5 }), sonnet), RangeError);
  assert.throws(() => tokensCostNanos(1, 0.5), RangeError);
});

test("the issue's bills are exact to the nano-dollar: gpt-4o-mini $0.00003255, gemini-2.5-flash $0.00072375", () => {
  const mini = book.resolve('openai', 'gpt-4o-mini');
  const flash = book.resolve('gemini', 'gemini-2.5-flash');
  if (mini instanceof Error || flash instanceof Error) throw new Error('catalogue lost a model');
  // 17 × $0.15/Mtok + 50 × $0.60/Mtok
  assert.equal(costNanos(usage({ inputTokens: 17, outputTokens: 50 }), mini.rates), 32_550);
  // 400 × $0.30 + 125 cached × $0.03 + 240 × $2.50 per Mtok
  assert.equal(costNanos(usage({ inputTokens: 400, cacheReadTokens: 125, outputTokens: 240 }), flash.rates), 723_750);
});
