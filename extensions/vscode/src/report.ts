// What the click shows: every budget's money, today's spend by key and by model, the burn rate over
// the last hour and when, at that rate, each cap is reached; today's blocked and cut requests.
import type { AdminClient } from './api';
import { costOf } from './money';
import type { Money } from './money';
import { budgetState, used } from './model';
import type { Budget, BudgetState } from './model';

export const BURN_WINDOW_MS = 3_600_000;

export interface Row {
  label: string;
  cost: Money;
}

export interface BudgetLine {
  budget: Budget;
  state: BudgetState;
  /** Per hour, over the last hour of requests that count against this budget. */
  burnPerHour: Money;
  /** When the cap is reached at that rate; null: no spend in the last hour, or not before the period resets. */
  capReachedAt: Date | null;
}

export interface Report {
  at: Date;
  timeZone: string;
  budgets: BudgetLine[];
  byKey: Row[];
  byModel: Row[];
  blockedToday: number;
  cutToday: number;
  spentToday: Money;
}

/** Wall-clock fields of `at` in `timeZone`. */
function wall(at: number, timeZone: string): { y: number; m: number; d: number; h: number; min: number; s: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(at));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return { y: get('year'), m: get('month'), d: get('day'), h: get('hour'), min: get('minute'), s: get('second') };
}

/** The instant today began in `timeZone` (spendcap's day, which its stats and caps use). */
export function startOfDay(now: Date, timeZone: string): Date {
  const w = wall(now.getTime(), timeZone);
  const midnightAsUtc = Date.UTC(w.y, w.m - 1, w.d);
  let guess = midnightAsUtc;
  // Two rounds: the zone's offset at the guess can differ from now's across a DST change.
  for (let i = 0; i < 2; i++) {
    const g = wall(guess, timeZone);
    const offset = Date.UTC(g.y, g.m - 1, g.d, g.h, g.min, g.s) - guess;
    guess = midnightAsUtc - offset;
  }
  return new Date(guess);
}

/** "2026-03-01" in `timeZone`, as /api/stats names days. */
export function dayName(at: Date, timeZone: string): string {
  const w = wall(at.getTime(), timeZone);
  return `${w.y}-${String(w.m).padStart(2, '0')}-${String(w.d).padStart(2, '0')}`;
}

/** Does a usage row count against this budget? Global: all; key: its key; tag: rows naming the tag. */
export function rowCounts(b: Pick<Budget, 'name' | 'scope'>, row: Record<string, unknown>): boolean {
  if (b.scope === 'global') return true;
  if (b.scope === 'tag') return row.tag === b.name;
  return row.keyName === b.name;
}

/** Spend per hour of the rows (already limited to the last `windowMs`) that count against `b`. */
export function burnPerHour(b: Pick<Budget, 'name' | 'scope'>, rows: ReadonlyArray<Record<string, unknown>>, windowMs = BURN_WINDOW_MS): Money {
  let sum = 0;
  for (const r of rows) if (rowCounts(b, r)) sum += costOf(r);
  return Math.round((sum * 3_600_000) / windowMs);
}

/** When cap − spent − held runs out at `perHour`; null when nothing burns or the period resets first. */
export function capReachedAt(b: Budget, perHour: Money, now: Date): Date | null {
  if (b.killed) return null;
  const left = b.cap - used(b);
  if (left <= 0) return now;
  if (perHour <= 0) return null;
  const at = new Date(now.getTime() + (left / perHour) * 3_600_000);
  if (b.periodEnd !== null && at.getTime() >= Date.parse(b.periodEnd)) return null;
  return at;
}

function rows(list: ReadonlyArray<Record<string, unknown>>, labelOf: (r: Record<string, unknown>) => string): Row[] {
  const sums = new Map<string, Money>();
  for (const r of list) sums.set(labelOf(r), (sums.get(labelOf(r)) ?? 0) + costOf(r));
  return [...sums].map(([label, cost]) => ({ label, cost })).sort((a, b) => b.cost - a.cost || a.label.localeCompare(b.label));
}

/** Builds the report from the admin API (four calls, only when the user asks or a panel is open). */
export async function buildReport(client: AdminClient, now: Date = new Date()): Promise<Report> {
  const settings = await client.settings();
  const tz = settings.effectiveTimeZone;
  const since = startOfDay(now, tz);
  const [budgets, stats, recent] = await Promise.all([client.budgets(), client.stats(since), client.usage({ since: new Date(now.getTime() - BURN_WINDOW_MS), limit: 1000 })]);
  const today = dayName(now, stats.timeZone);
  const byKey = rows(
    stats.byDayKey.filter((r) => r.day === today),
    (r) => (typeof r.key === 'string' ? r.key : '(none)'),
  );
  const byModel = rows(stats.byModel, (r) => (typeof r.model === 'string' ? r.model : '?'));
  const lines = budgets.map((b) => {
    const rate = burnPerHour(b, recent.items);
    return { budget: b, state: budgetState(b), burnPerHour: rate, capReachedAt: capReachedAt(b, rate, now) };
  });
  return {
    at: now,
    timeZone: tz,
    budgets: lines,
    byKey,
    byModel,
    blockedToday: stats.totals.byOutcome.blocked ?? 0,
    cutToday: stats.totals.byOutcome.cut ?? 0,
    spentToday: byModel.reduce((s, r) => s + r.cost, 0),
  };
}
