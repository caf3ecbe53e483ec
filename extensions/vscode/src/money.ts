// The ONE place that knows how the admin API writes money. Everything else in the extension works on
// `Money`: integer nano-dollars, as spendcap counts them (its Nanos). Today the API answers USD numbers
// (`capUsd: 15`, from its nanos / 1e9); when it gives exact `*Nanos` fields, change the field
// readers below, nothing else.

/** Integer nano-dollars. */
export type Money = number;

export const UNITS_PER_USD = 1_000_000_000;

/** USD as the API writes it → integer units (rounded: 0.1 + 0.2 must not become 299_999). */
export function fromUsd(usd: number): Money {
  return Math.round(usd * UNITS_PER_USD);
}

/** Integer units → a USD number, for request bodies. */
export function toUsd(m: Money): number {
  return m / UNITS_PER_USD;
}

/** How much the lift buttons add (USD, as a person types it). */
export const LIFT_STEPS: readonly Money[] = [1, 5, 10].map(fromUsd);
/** The notification's one-click lift. */
export const QUICK_LIFT: Money = fromUsd(5);

function num(raw: Record<string, unknown>, field: string): number {
  const v = raw[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function numOrNull(raw: Record<string, unknown>, field: string): number | null {
  const v = raw[field];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export interface BudgetMoney {
  cap: Money;
  spent: Money;
  held: Money;
  remaining: Money;
  ceiling: Money | null;
}

/** A budget's money from /api/budgets or /api/live (the live stream has no ceiling: null). */
export function budgetMoney(raw: Record<string, unknown>): BudgetMoney {
  const ceiling = numOrNull(raw, 'ceilingUsd');
  return {
    cap: fromUsd(num(raw, 'capUsd')),
    spent: fromUsd(num(raw, 'spentUsd')),
    held: fromUsd(num(raw, 'heldUsd')),
    remaining: fromUsd(num(raw, 'remainingUsd')),
    ceiling: ceiling === null ? null : fromUsd(ceiling),
  };
}

/** `costUsd` of a usage row, a stats row or a by-model row. */
export function costOf(raw: Record<string, unknown>): Money {
  return fromUsd(num(raw, 'costUsd'));
}

/** The body of POST /api/budgets/:name/lift. */
export function liftBody(by: Money | 'ceiling'): Record<string, unknown> {
  return by === 'ceiling' ? { toCeiling: true } : { add: toUsd(by) };
}

/** "$3.10": to the cent, rounded up so the editor never shows less than was spent. */
export function formatCents(m: Money): string {
  const centUnits = UNITS_PER_USD / 100;
  const cents = Math.ceil(m / centUnits);
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}$${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** "$15" for whole dollars, else "$15.50" (caps are usually round). */
export function formatCap(m: Money): string {
  if (m % UNITS_PER_USD === 0) return `$${m / UNITS_PER_USD}`;
  return formatCents(m);
}

/** Small amounts (a burn rate of $0.004/h) keep their significant digits. */
export function formatPrecise(m: Money): string {
  if (Math.abs(m) >= UNITS_PER_USD / 100 || m === 0) return formatCents(m);
  const usd = m / UNITS_PER_USD;
  return `$${usd.toPrecision(2)}`;
}
