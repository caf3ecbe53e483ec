import type { Nanos } from './types.js';

/** n$ per USD: money is integer nano-dollars (1e-9 USD), exact for every catalogue price. */
export const NANOS_PER_USD = 1_000_000_000;

/** USD → integer n$. Also turns a USD/Mtok price into n$/Mtok. */
export function usdToNanos(usd: number): Nanos {
  if (!Number.isFinite(usd)) throw new RangeError(`not a finite USD amount: ${String(usd)}`);
  return Math.round(usd * NANOS_PER_USD);
}

/** n$ → USD as a number (for JSON): n / 1e9 prints back as the exact 9-decimal value. */
export function nanosToUsd(nanos: Nanos): number {
  return nanos / NANOS_PER_USD;
}

/**
 * n$ → "$12.345678": always 2 decimals (cents), up to 9 when the sub-cent digits
 * are non-zero, trailing zeros trimmed. No thousands separators (stays parseable).
 * 15_000_000_000 → "$15.00", 1_500_000_000 → "$1.50", 32_550 → "$0.00003255", -250_000_000 → "-$0.25".
 */
export function formatUsd(nanos: Nanos): string {
  if (!Number.isFinite(nanos)) return `$${String(nanos)}`;
  const m = Math.round(nanos);
  const abs = Math.abs(m);
  // Integer split (no float division) so 999_999_999 n$ never rounds up to $1.
  const frac = abs % NANOS_PER_USD;
  const whole = (abs - frac) / NANOS_PER_USD;
  let digits = String(frac).padStart(9, '0').replace(/0+$/, '');
  if (digits.length < 2) digits = digits.padEnd(2, '0');
  return `${m < 0 ? '-' : ''}$${whole}.${digits}`;
}
