import type { Micros } from '../pricing/index.js';
import type { BudgetMode, BudgetScope, Period, SqliteStore } from '../store/index.js';
import { periodWindow } from './period.js';

export interface SessionStatus {
  session: string;
  spentMicros: Micros;
  capMicros: Micros;
  lastTs: number;
}

export interface BudgetStatus {
  name: string;
  scope: BudgetScope;
  capMicros: Micros;
  spentMicros: Micros;
  heldMicros: Micros;
  remainingMicros: Micros;
  period: Period;
  periodStart: number;
  /** Epoch ms of the next reset, null for total. */
  periodEnd: number | null;
  mode: BudgetMode;
  killed: boolean;
  ceilingMicros: Micros | null;
  sessionCapMicros: Micros | null;
  /** Requests priced at a fallback model this period (the model was not in the catalogue). */
  estimatedPriceRequests: number;
  sessions: SessionStatus[];
}

/**
 * Every budget as the store sees it: spent from the ledger, held from open holds (a running server
 * persists them), so the CLI gives the same numbers whether or not a server runs.
 */
export function budgetReport(store: SqliteStore, now: number = Date.now()): BudgetStatus[] {
  const holds = store.listHolds();
  const estimated = store.db.prepare('SELECT COUNT(*) FROM ledger WHERE key_id = ? AND ts >= ? AND price_estimated = 1').pluck(true);
  return store.listBudgets().map((b) => {
    const window = periodWindow(b.period, now);
    const spent = b.keyId === null ? 0 : store.spentByKeySince(b.keyId, window.start);
    const held = holds.filter((h) => h.keyId === b.keyId).reduce((sum, h) => sum + h.amountMicros, 0);
    const sessions =
      b.keyId === null || b.sessionCapMicros === null
        ? []
        : store.sessionsOfKey(b.keyId, 20).map((s) => ({ session: s.session, spentMicros: s.spentMicros, capMicros: b.sessionCapMicros ?? 0, lastTs: s.lastTs }));
    return {
      name: b.name,
      scope: b.scope,
      capMicros: b.capMicros,
      spentMicros: spent,
      heldMicros: held,
      remainingMicros: Math.max(0, b.capMicros - spent - held),
      period: b.period,
      periodStart: window.start,
      periodEnd: window.end,
      mode: b.mode,
      killed: b.killed,
      ceilingMicros: b.ceilingMicros,
      sessionCapMicros: b.sessionCapMicros,
      estimatedPriceRequests: b.keyId === null ? 0 : (estimated.get(b.keyId, window.start) as number),
      sessions,
    };
  });
}
