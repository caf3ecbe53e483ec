import type { Usage } from '../pricing/index.js';

/**
 * A provider's usage is untrusted input: a count that is negative, fractional, not finite or past
 * 2^53 would make the cost functions throw (they refuse to price garbage), and one thrown from a
 * stream callback would end the process. These helpers find and neutralise such counts.
 */

const FIELDS = ['inputTokens', 'outputTokens', 'cacheReadTokens', 'cacheWrite5mTokens', 'cacheWrite1hTokens'] as const;

export function isTokenCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** The first count that is not a non-negative safe integer, as "field=value", or null when all are. */
export function usageFlaw(u: Usage): string | null {
  for (const f of FIELDS) if (!isTokenCount(u[f])) return `${f}=${String(u[f])}`;
  return null;
}

/** A count made safe to store and price: fractions rounded up, negatives and NaN to 0, at most 2^53 − 1. */
export function safeTokens(n: number): number {
  if (Number.isNaN(n) || n <= 0) return 0;
  return Math.min(Number.MAX_SAFE_INTEGER, Math.ceil(n));
}

export function safeUsage(u: Usage): Usage {
  return {
    inputTokens: safeTokens(u.inputTokens),
    outputTokens: safeTokens(u.outputTokens),
    cacheReadTokens: safeTokens(u.cacheReadTokens),
    cacheWrite5mTokens: safeTokens(u.cacheWrite5mTokens),
    cacheWrite1hTokens: safeTokens(u.cacheWrite1hTokens),
  };
}
