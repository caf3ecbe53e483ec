// Budgets as the extension sees them, and the pure rules on them: state, the default pick, the
// status bar's text. Money fields are read by money.ts only.
import { budgetMoney, formatCap, formatCents } from './money';
import type { BudgetMoney, Money } from './money';

export interface Budget extends BudgetMoney {
  name: string;
  scope: string;
  period: string;
  mode: string;
  killed: boolean;
  /** ISO; null from the live stream, which does not carry it. */
  periodEnd: string | null;
}

export type BudgetState = 'ok' | 'warn' | 'reached' | 'killed';

/** Above this share of the cap used (charged + held) the status bar turns to a warning. */
export const WARN_RATIO = 0.8;

function str(raw: Record<string, unknown>, field: string, fallback: string): string {
  const v = raw[field];
  return typeof v === 'string' ? v : fallback;
}

/** One budget from /api/budgets or a /api/live event; anything unexpected becomes a harmless default. */
export function parseBudget(raw: unknown): Budget | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (typeof r.name !== 'string') return null;
  return {
    name: r.name,
    scope: str(r, 'scope', 'key'),
    period: str(r, 'period', 'day'),
    mode: str(r, 'mode', 'hard'),
    killed: r.killed === true,
    periodEnd: typeof r.periodEnd === 'string' ? r.periodEnd : null,
    ...budgetMoney(r),
  };
}

export function parseBudgets(raw: unknown): Budget[] {
  if (!Array.isArray(raw)) return [];
  return raw.map(parseBudget).filter((b): b is Budget => b !== null);
}

/** Charged plus held: what a new request is measured against. */
export function used(b: BudgetMoney): Money {
  return b.spent + b.held;
}

/** Share of the cap used; a zero cap with any use counts as full. */
export function usedRatio(b: BudgetMoney): number {
  if (b.cap <= 0) return used(b) > 0 ? Infinity : 0;
  return used(b) / b.cap;
}

export function budgetState(b: Budget): BudgetState {
  if (b.killed) return 'killed';
  const r = usedRatio(b);
  if (r >= 1) return 'reached';
  if (r > WARN_RATIO) return 'warn';
  return 'ok';
}

/** The budget named in the settings when it exists, else the one nearest its cap (killed first). */
export function pickBudget(budgets: readonly Budget[], preferred: string | undefined): Budget | undefined {
  if (preferred) {
    const found = budgets.find((b) => b.name === preferred);
    if (found) return found;
  }
  let best: Budget | undefined;
  for (const b of budgets) {
    if (best === undefined) best = b;
    else if (b.killed !== best.killed) best = b.killed ? b : best;
    else if (usedRatio(b) > usedRatio(best)) best = b;
  }
  return best;
}

/** "$3.10 / $15" (spent, rounded up to the cent, over the cap). */
export function spendText(b: BudgetMoney): string {
  return `${formatCents(b.spent)} / ${formatCap(b.cap)}`;
}

/** Merges a live `spend` event into the list: changed budgets replace theirs, removed ones go. */
export function mergeBudgets(current: readonly Budget[], changed: readonly Budget[], removed: readonly string[]): Budget[] {
  const gone = new Set(removed);
  const byName = new Map(current.filter((b) => !gone.has(b.name)).map((b) => [b.name, b]));
  for (const c of changed) {
    const prev = byName.get(c.name);
    // The live stream omits ceiling and period end: keep what the full listing said.
    byName.set(c.name, { ...c, ceiling: c.ceiling ?? prev?.ceiling ?? null, periodEnd: c.periodEnd ?? prev?.periodEnd ?? null });
  }
  return [...byName.values()];
}
