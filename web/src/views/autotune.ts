// Auto-tune's suggestion, computed the way src/budgets/autotune.ts does it, for servers that do
// not send it with the budget: p90 (nearest rank) of the last 14 complete days' spend × 1.2
// headroom × the days in the period, rounded up to the cent.
import { get, qs } from '../api.js';
import type { Budget, Stats } from '../api.js';
import { usd } from '../format.js';

const DAYS = 14;
const PERIOD_DAYS: Record<string, number> = { day: 1, week: 7, month: 30 };

export function suggest(daily: readonly number[], period: string): { suggestedUsd: number | null; reason: string } {
  const mult = PERIOD_DAYS[period];
  if (mult === undefined) return { suggestedUsd: null, reason: 'a total budget never resets; auto-tune only suggests caps for day, week and month budgets' };
  const active = daily.filter((d) => d > 0).length;
  if (active < 3) return { suggestedUsd: null, reason: `only ${active} of the last ${daily.length} days had spend; auto-tune needs at least 3` };
  const sorted = [...daily].sort((a, b) => a - b);
  const p90 = sorted[Math.ceil(0.9 * sorted.length) - 1] ?? 0;
  const cents = Math.max(1, Math.ceil(Math.round(p90 * 1.2 * mult * 1e6) / 1e4));
  const s = cents / 100;
  return { suggestedUsd: s, reason: `p90 of daily spend over the last ${daily.length} days is ${usd(p90)}; × 1.2 headroom${mult === 1 ? '' : ` × ${mult} days`} = ${usd(s)} per ${period}` };
}

export function localDay(d: Date): string {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export async function suggestionFor(b: Budget): Promise<{ suggestedUsd: number | null; reason: string }> {
  if (b.scope !== 'key') return { suggestedUsd: null, reason: 'the page computes suggestions for key budgets only' };
  const today = new Date();
  today.setHours(0, 0, 0, 0);
  const since = new Date(today);
  since.setDate(since.getDate() - DAYS);
  const stats = await get<Stats>(`/api/stats${qs({ key: b.name, since: since.toISOString(), until: today.toISOString() })}`);
  const byDay = new Map(stats.byDay.map((d) => [d.day, d.costUsd]));
  const daily: number[] = [];
  for (let i = DAYS; i >= 1; i--) {
    const d = new Date(today);
    d.setDate(d.getDate() - i);
    daily.push(byDay.get(localDay(d)) ?? 0);
  }
  return suggest(daily, b.period);
}

