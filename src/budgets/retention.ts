import type { Store } from '../store/index.js';
import { localDay, localTime, startOfLocalDay } from './period.js';

/**
 * Deletes ledger rows older than `retainDays` whole local days, keeping what they added up to in
 * daily totals (per day, key, tag and model). Budgets' spent sums, charts and auto-tune read both,
 * so a total-period budget still counts pruned days. Returns how many rows were pruned.
 */
export function pruneLedger(store: Store, now: number, retainDays: number, tz: string): Promise<number> {
  const t = localTime(now, tz);
  const before = startOfLocalDay(t.year, t.month, t.day - retainDays, tz);
  return store.daily.prune(before, (ts) => localDay(ts, tz));
}
