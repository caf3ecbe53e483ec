// Which live changes deserve a notification: a budget passing one of spendcap's thresholds (percent of
// the cap, charged + held), reaching its cap, being killed. Pure: the controller shows them.
import { formatCents } from './money';
import { spendText, usedRatio } from './model';
import type { Budget } from './model';

export interface Alert {
  budget: string;
  kind: 'threshold' | 'reached' | 'killed' | 'cut';
  message: string;
}

/** The highest threshold at or under `ratio`, in percent; 0 when none is. */
function level(ratio: number, thresholds: readonly number[]): number {
  let best = 0;
  for (const t of thresholds) if (ratio * 100 >= t && t > best) best = t;
  return best;
}

/** What changed between two readings of one budget that the user should hear about (at most one alert). */
export function alertFor(prev: Budget, next: Budget, thresholds: readonly number[]): Alert | null {
  if (next.killed && !prev.killed) return { budget: next.name, kind: 'killed', message: `spendcap: budget "${next.name}" was killed (${spendText(next)}): its requests are refused and open streams cut.` };
  if (next.killed) return null;
  const before = usedRatio(prev);
  const after = usedRatio(next);
  // A lift lowers the ratio: no alert, and the next climb alerts again.
  if (after >= 1 && before < 1) return { budget: next.name, kind: 'reached', message: `spendcap: budget "${next.name}" reached its cap (${spendText(next)}): new requests are refused.` };
  const lb = level(before, thresholds.filter((t) => t < 100));
  const la = level(after, thresholds.filter((t) => t < 100));
  // "Used" counts what open requests hold: say so, or "$0.76 / $1" would not read as 80 %.
  const held = next.held > 0 ? `, ${formatCents(next.held)} held by open requests` : '';
  if (la > lb) return { budget: next.name, kind: 'threshold', message: `spendcap: budget "${next.name}" passed ${la} % of its cap (${spendText(next)}${held}).` };
  return null;
}

/** Alerts for a live `spend` event, against the budgets known before it. */
export function alertsFor(known: ReadonlyMap<string, Budget>, changed: readonly Budget[], thresholds: readonly number[]): Alert[] {
  const out: Alert[] = [];
  for (const next of changed) {
    const prev = known.get(next.name);
    if (prev === undefined) continue; // a new budget is news for the list, not an alarm
    const a = alertFor(prev, next, thresholds);
    if (a !== null) out.push(a);
  }
  return out;
}

/** One alert per key whose responses were cut at a cap since the last check. */
export function cutAlerts(rows: ReadonlyArray<Record<string, unknown>>): Alert[] {
  const perKey = new Map<string, number>();
  for (const r of rows) {
    const k = typeof r.keyName === 'string' ? r.keyName : '(deleted key)';
    perKey.set(k, (perKey.get(k) ?? 0) + 1);
  }
  return [...perKey].map(([k, n]) => ({ budget: k, kind: 'cut' as const, message: `spendcap: ${n === 1 ? 'a response' : `${n} responses`} on key "${k}" ${n === 1 ? 'was' : 'were'} cut at the cap.` }));
}
