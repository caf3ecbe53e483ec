// Reconciliation's reads and writes of the ledger: the rows to compare, and corrections applied in one
// transaction with their audit events, through the Store.
import { formatUsd } from '../pricing/index.js';
import type { Nanos } from '../pricing/index.js';
import type { EventChannel, NewEvent, Store } from '../store/index.js';
import type { Correction, LedgerCost } from './compare.js';

// bank.ts re-sums a running server's spent when this meta value changes.
import { LEDGER_CORRECTED_META } from '../budgets/index.js';

export const LAST_RECONCILE_META = 'reconcile_last';

/** Rows of one provider since `sinceMs` that reached it (blocked rows never did). */
export async function providerRows(store: Store, provider: string, sinceMs: number): Promise<LedgerCost[]> {
  return (await store.ledger.providerRows(provider, sinceMs)).map((r) => ({ id: r.id, ts: r.ts, requestId: r.requestId, keyId: r.keyId, keyName: r.keyName, provider: r.provider, costNanos: r.costNanos }));
}

/** What the ledger charged one key over its whole life (pruned days included). */
export function keyLifetimeNanos(store: Store, keyId: number): Promise<Nanos> {
  return store.ledger.spentSince({ keyId }, 0);
}

/**
 * Sets each corrected row to the provider's figure (spendcap's own figure stays in metered_cost_nanos),
 * writes one `reconcile` event per key, and marks the ledger corrected so running servers re-sum spent.
 * A row changed since it was read is left alone. Returns the corrections applied.
 */
export async function applyCorrections(store: Store, list: readonly Correction[], channel: EventChannel, provider: string, now = Date.now()): Promise<Correction[]> {
  if (list.length === 0) return [];
  const byRow = new Map(list.map((c) => [c.rowId, c]));
  const events = (appliedIds: number[]): NewEvent[] => {
    const byKey = new Map<string, Correction[]>();
    for (const id of appliedIds) {
      const c = byRow.get(id)!;
      byKey.set(c.keyName, [...(byKey.get(c.keyName) ?? []), c]);
    }
    return [...byKey].map(([keyName, cs]) => {
      const before = cs.reduce((s, c) => s + c.fromNanos, 0);
      const after = cs.reduce((s, c) => s + c.toNanos, 0);
      const ids = cs.map((c) => c.requestId).slice(0, 5).join(', ');
      return {
        ts: now,
        kind: 'reconcile',
        budget: keyName,
        channel,
        capBeforeNanos: null,
        capAfterNanos: null,
        detail: `${cs.length} ledger row(s) set to ${provider}'s figure: ${formatUsd(before)} → ${formatUsd(after)} (${ids}${cs.length > 5 ? ', …' : ''})`,
      };
    });
  };
  const applied = await store.ledger.correct(list, events, { key: LEDGER_CORRECTED_META, value: String(now) });
  const done = new Set(applied);
  return list.filter((c) => done.has(c.rowId));
}
