import { formatUsd } from '../pricing/index.js';
import type { Nanos } from '../pricing/index.js';
import type { BudgetRecord, EventRecord, Period, SpendFilter, Store } from '../store/index.js';
import { localDay, localTime, startOfLocalDay } from './period.js';

/** Days of history auto-tune reads. */
export const AUTOTUNE_DAYS = 14;
/** Fewer days with any spend than this and there is nothing to learn from. */
const MIN_ACTIVE_DAYS = 3;
const HEADROOM = 1.2;
const PERIOD_DAYS: Record<Exclude<Period, 'total'>, number> = { day: 1, week: 7, month: 30 };
const CENT = 10_000_000;

export interface Suggestion {
  /** The cap auto-tune would set, null when it has no suggestion. */
  suggestedNanos: Nanos | null;
  reason: string;
}

/**
 * The rule: the 90th percentile (nearest rank) of the last 14 complete days' spend, zero days
 * included, × 1.2 headroom, × the days in the budget's period (1, 7, 30), rounded up to the cent.
 * A busy day is allowed for, a single outlier is not followed. Total budgets never reset, so no rule
 * fits them; fewer than 3 days with spend is too little to learn from.
 */
export function suggestCap(daily: readonly Nanos[], period: Period): Suggestion {
  if (period === 'total') return { suggestedNanos: null, reason: 'a total budget never resets; auto-tune only suggests caps for day, week and month budgets' };
  const active = daily.filter((d) => d > 0).length;
  if (active < MIN_ACTIVE_DAYS) return { suggestedNanos: null, reason: `only ${active} of the last ${daily.length} days had spend; auto-tune needs at least ${MIN_ACTIVE_DAYS}` };
  const sorted = [...daily].sort((a, b) => a - b);
  const p90 = sorted[Math.ceil(0.9 * sorted.length) - 1] ?? 0;
  const raw = p90 * HEADROOM * PERIOD_DAYS[period];
  const suggested = Math.max(CENT, Math.ceil(raw / CENT) * CENT);
  return { suggestedNanos: suggested, reason: `p90 of daily spend over the last ${daily.length} days is ${formatUsd(p90)}; × ${HEADROOM} headroom${period === 'day' ? '' : ` × ${PERIOD_DAYS[period]} days`} = ${formatUsd(suggested)} per ${period}` };
}

export function filterOf(b: BudgetRecord): SpendFilter {
  if (b.scope === 'global') return 'all';
  if (b.scope === 'tag') return { tag: b.name };
  return { keyId: b.keyId ?? -1 };
}

/** Spend per complete local day for the `days` days before today (oldest first), pruned days included. */
export async function dailySpend(store: Store, filter: SpendFilter, now: number, tz: string, days: number = AUTOTUNE_DAYS): Promise<Nanos[]> {
  const t = localTime(now, tz);
  const today = startOfLocalDay(t.year, t.month, t.day, tz);
  const from = startOfLocalDay(t.year, t.month, t.day - days, tz);
  const byDay = new Map<string, number>();
  for (let i = days; i >= 1; i--) byDay.set(localDay(startOfLocalDay(t.year, t.month, t.day - i, tz), tz).day, 0);
  for (const d of await store.daily.totals(filter, from, today)) byDay.set(d.day, (byDay.get(d.day) ?? 0) + d.costNanos);
  // Any local day is at least 23 h long: within 20 h of a day's start, a row is in that day.
  let current: { day: string; dayStart: number } | null = null;
  for (const r of await store.ledger.costRows(filter, from, today)) {
    if (current === null || r.ts >= current.dayStart + 20 * 3600_000 || r.ts < current.dayStart) current = localDay(r.ts, tz);
    byDay.set(current.day, (byDay.get(current.day) ?? 0) + r.costNanos);
  }
  return [...byDay.values()];
}

export async function autotuneSuggestion(store: Store, b: BudgetRecord, now: number, tz: string): Promise<Suggestion> {
  return suggestCap(await dailySpend(store, filterOf(b), now, tz), b.period);
}

/**
 * Applies suggestions of budgets in `creep` mode: raises the cap toward the suggestion, never above
 * the ceiling and never down (a lower cap set by a machine could block work in progress). One `auto`
 * event per change. Suggestions use complete days only, so this changes a cap at most once a day.
 */
export async function runAutotune(store: Store, now: number, tz: string): Promise<EventRecord[]> {
  const events: EventRecord[] = [];
  for (const b of await store.budgets.list()) {
    if (b.autotune !== 'creep' || b.ceilingNanos === null) continue;
    const s = await autotuneSuggestion(store, b, now, tz);
    if (s.suggestedNanos === null) continue;
    const target = Math.min(s.suggestedNanos, b.ceilingNanos);
    if (target <= b.capNanos) continue;
    const { event } = await store.budgets.change(b.name, (cur) => ({ ...cur, capNanos: Math.max(cur.capNanos, Math.min(target, cur.ceilingNanos ?? target)) }), {
      kind: 'autotune-creep',
      channel: 'auto',
      detail: s.reason + (target < s.suggestedNanos ? `; held at the ceiling ${formatUsd(target)}` : ''),
      ts: now,
    });
    events.push(event);
  }
  return events;
}
