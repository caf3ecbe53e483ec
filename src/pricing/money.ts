import type { Micros } from './types.js';

const MICROS_PER_USD = 1_000_000;

/** USD → integer µ$. Also turns a USD/Mtok price into µ$/Mtok. */
export function usdToMicros(usd: number): Micros {
  if (!Number.isFinite(usd)) throw new RangeError(`not a finite USD amount: ${String(usd)}`);
  return Math.round(usd * MICROS_PER_USD);
}

/**
 * µ$ → "$12.345678": always 2 decimals (cents), up to 6 when the sub-cent digits
 * are non-zero, trailing zeros trimmed. No thousands separators (stays parseable).
 * 15_000_000 → "$15.00", 1_500_000 → "$1.50", 1_234 → "$0.001234", -250_000 → "-$0.25".
 */
export function formatUsd(micros: Micros): string {
  if (!Number.isFinite(micros)) return `$${String(micros)}`;
  const m = Math.round(micros);
  const abs = Math.abs(m);
  // Integer split (no float division) so 999_999 µ$ never rounds up to $1.
  const frac = abs % MICROS_PER_USD;
  const whole = (abs - frac) / MICROS_PER_USD;
  let digits = String(frac).padStart(6, '0').replace(/0+$/, '');
  if (digits.length < 2) digits = digits.padEnd(2, '0');
  return `${m < 0 ? '-' : ''}$${whole}.${digits}`;
}
