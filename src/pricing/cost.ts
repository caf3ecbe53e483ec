import type { Nanos, ModelRates, RateCard, Usage } from './types.js';

const PER_MTOK = 1_000_000;
const PER_MTOK_BIG = 1_000_000n;

function checkCount(n: number, what: string): void {
  // A NaN or fractional count would silently poison a cap; fail loudly instead.
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${what} must be a non-negative integer, got ${String(n)}`);
}

function checkUsage(u: Usage): void {
  checkCount(u.inputTokens, 'inputTokens');
  checkCount(u.outputTokens, 'outputTokens');
  checkCount(u.cacheReadTokens, 'cacheReadTokens');
  checkCount(u.cacheWrite5mTokens, 'cacheWrite5mTokens');
  checkCount(u.cacheWrite1hTokens, 'cacheWrite1hTokens');
}

function checkCard(c: RateCard): void {
  checkCount(c.input, 'input rate');
  checkCount(c.output, 'output rate');
  checkCount(c.cacheRead, 'cacheRead rate');
  checkCount(c.cacheWrite5m, 'cacheWrite5m rate');
  checkCount(c.cacheWrite1h, 'cacheWrite1h rate');
}

/** ceil(n / 1e6) for a non-negative integer n < 2^53, without float division. */
function ceilPerMtok(n: number): Nanos {
  const rem = n % PER_MTOK;
  return (n - rem) / PER_MTOK + (rem > 0 ? 1 : 0);
}

/** ceil(Σ tᵢ·rᵢ / 1e6), exact: Number when every partial sum is a safe integer, else BigInt. */
function dotCeil(t0: number, r0: number, t1: number, r1: number, t2: number, r2: number, t3: number, r3: number, t4: number, r4: number): Nanos {
  const bound = (t0 + t1 + t2 + t3 + t4) * Math.max(r0, r1, r2, r3, r4);
  if (bound <= Number.MAX_SAFE_INTEGER) return ceilPerMtok(t0 * r0 + t1 * r1 + t2 * r2 + t3 * r3 + t4 * r4);
  const sum =
    BigInt(t0) * BigInt(r0) + BigInt(t1) * BigInt(r1) + BigInt(t2) * BigInt(r2) + BigInt(t3) * BigInt(r3) + BigInt(t4) * BigInt(r4);
  return Number((sum + PER_MTOK_BIG - 1n) / PER_MTOK_BIG);
}

/** Uncached input + cache reads + both cache writes: what the long-context threshold counts. */
export function totalInputTokens(usage: Usage): number {
  return usage.inputTokens + usage.cacheReadTokens + usage.cacheWrite5mTokens + usage.cacheWrite1hTokens;
}

/** The rate card that bills a request of this input size (long-context tier when strictly above the threshold). */
export function rateCardFor(rates: ModelRates, totalInput: number): RateCard {
  const lc = rates.longContext;
  return lc !== undefined && totalInput > lc.thresholdTokens ? lc : rates;
}

/** n$/Mtok for output tokens of a request with this much input (tier-aware). */
export function outputRateFor(rates: ModelRates, totalInput: number): number {
  return rateCardFor(rates, totalInput).output;
}

/** Full cost of one request: one ceiling over all token kinds. */
export function costNanos(usage: Usage, rates: ModelRates): Nanos {
  checkUsage(usage);
  const c = rateCardFor(rates, totalInputTokens(usage));
  checkCard(c);
  return dotCeil(
    usage.inputTokens, c.input,
    usage.outputTokens, c.output,
    usage.cacheReadTokens, c.cacheRead,
    usage.cacheWrite5mTokens, c.cacheWrite5m,
    usage.cacheWrite1hTokens, c.cacheWrite1h,
  );
}

/** Input side only (outputTokens ignored), tier-aware; for the hold taken before forwarding. */
export function inputCostNanos(usage: Usage, rates: ModelRates): Nanos {
  checkUsage(usage);
  const c = rateCardFor(rates, totalInputTokens(usage));
  checkCard(c);
  return dotCeil(
    usage.inputTokens, c.input,
    0, 0,
    usage.cacheReadTokens, c.cacheRead,
    usage.cacheWrite5mTokens, c.cacheWrite5m,
    usage.cacheWrite1hTokens, c.cacheWrite1h,
  );
}

/** ceil(tokens × rate / 1e6). Note ceil(a)+ceil(b) ≥ ceil(a+b): split holds never under-reserve. */
export function tokensCostNanos(tokens: number, ratePerMtok: number): Nanos {
  checkCount(tokens, 'tokens');
  checkCount(ratePerMtok, 'ratePerMtok');
  return dotCeil(tokens, ratePerMtok, 0, 0, 0, 0, 0, 0, 0, 0);
}
