import type { Nanos } from '../pricing/index.js';
import type { AutotuneMode, BudgetMode, BudgetScope, Period, Store } from '../store/index.js';
import { autotuneSuggestion, filterOf } from './autotune.js';
import type { Suggestion } from './autotune.js';
import { periodWindow } from './period.js';
import { readSettings, timeZoneOf } from './settings.js';

export interface SessionStatus {
  session: string;
  spentNanos: Nanos;
  capNanos: Nanos;
  lastTs: number;
}

export interface BudgetStatus {
  name: string;
  scope: BudgetScope;
  capNanos: Nanos;
  spentNanos: Nanos;
  heldNanos: Nanos;
  remainingNanos: Nanos;
  period: Period;
  periodStart: number;
  /** Epoch ms of the next reset, null for total. */
  periodEnd: number | null;
  /** The zone periods roll over in. */
  timeZone: string;
  mode: BudgetMode;
  killed: boolean;
  clamp: boolean;
  ceilingNanos: Nanos | null;
  /** The key's own session cap. */
  sessionCapNanos: Nanos | null;
  /** What each session of this key is capped at: its own, else the global default; null for none. */
  effectiveSessionCapNanos: Nanos | null;
  autotune: AutotuneMode;
  /** Present when auto-tune is not off. */
  suggestion: Suggestion | null;
  /** Highest threshold (%) fired this period, 0 for none. */
  thresholdFired: number;
  /** Requests priced at a fallback model this period (the model was not in the catalogue). */
  estimatedPriceRequests: number;
  sessions: SessionStatus[];
}

/**
 * Every budget as the store sees it: spent from the ledger (and daily totals of pruned rows), held
 * from open holds (a running server persists them), so the CLI gives the same numbers whether or
 * not a server runs.
 */
export async function budgetReport(store: Store, now: number = Date.now()): Promise<BudgetStatus[]> {
  const settings = await readSettings(store);
  const tz = timeZoneOf(settings);
  const holds = await store.holds.list();
  const budgets = await store.budgets.list();
  return Promise.all(budgets.map(async (b) => {
    const window = periodWindow(b.period, now, tz);
    const spent = await store.ledger.spentSince(filterOf(b), window.start);
    const mine = holds.filter((h) => (b.scope === 'global' ? true : b.scope === 'tag' ? h.tag === b.name : h.keyId === b.keyId));
    const held = mine.reduce((sum, h) => sum + h.amountNanos, 0);
    const sessionCap = b.scope === 'key' ? (b.sessionCapNanos ?? settings.defaultSessionCapNanos) : null;
    const sessions =
      b.keyId === null || sessionCap === null
        ? []
        : (await store.ledger.sessionsOfKey(b.keyId, 20)).map((s) => ({ session: s.session, spentNanos: s.spentNanos, capNanos: sessionCap, lastTs: s.lastTs }));
    return {
      name: b.name,
      scope: b.scope,
      capNanos: b.capNanos,
      spentNanos: spent,
      heldNanos: held,
      remainingNanos: Math.max(0, b.capNanos - spent - held),
      period: b.period,
      periodStart: window.start,
      periodEnd: window.end,
      timeZone: tz,
      mode: b.mode,
      killed: b.killed,
      clamp: b.clamp,
      ceilingNanos: b.ceilingNanos,
      sessionCapNanos: b.sessionCapNanos,
      effectiveSessionCapNanos: sessionCap,
      autotune: b.autotune,
      suggestion: b.autotune === 'off' ? null : await autotuneSuggestion(store, b, now, tz),
      thresholdFired: await store.thresholds.maxFired(b.id, window.start),
      estimatedPriceRequests: await store.ledger.estimatedCount(filterOf(b), window.start),
      sessions,
    };
  }));
}
