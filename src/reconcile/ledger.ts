// Reconciliation's reads and writes of the ledger: the rows to compare, and corrections applied in one
// transaction with their audit events. (Columns named as src/store/sqlite.ts names them.)
import { formatUsd } from '../pricing/index.js';
import type { Nanos } from '../pricing/index.js';
import type { EventChannel, SqliteStore } from '../store/index.js';
import type { Correction, LedgerCost } from './compare.js';

// bank.ts re-sums a running server's spent when this meta value changes.
import { LEDGER_CORRECTED_META } from '../budgets/index.js';

export const LAST_RECONCILE_META = 'reconcile_last';

interface Row {
  id: number;
  ts: number;
  request_id: string;
  key_id: number;
  key_name: string;
  provider: string;
  cost_nanos: number;
}
const toCost = (r: Row): LedgerCost => ({ id: r.id, ts: r.ts, requestId: r.request_id, keyId: r.key_id, keyName: r.key_name, provider: r.provider, costNanos: r.cost_nanos });

/** Rows of one provider since `sinceMs` that reached it (blocked rows never did). */
export function providerRows(store: SqliteStore, provider: string, sinceMs: number): LedgerCost[] {
  const rows = store.db
    .prepare("SELECT id, ts, request_id, key_id, key_name, provider, cost_nanos FROM ledger WHERE provider = ? AND ts >= ? AND outcome != 'blocked' ORDER BY id")
    .all(provider, sinceMs) as Row[];
  return rows.map(toCost);
}

/** What the ledger charged one key over its whole life (pruned days included). */
export function keyLifetimeNanos(store: SqliteStore, keyId: number): Nanos {
  return store.spentSince({ keyId }, 0);
}

/**
 * Sets each corrected row to the provider's figure (spendcap's own figure stays in metered_cost_nanos),
 * writes one `reconcile` event per key, and marks the ledger corrected so running servers re-sum spent.
 * A row changed since it was read is left alone. Returns the corrections applied.
 */
export function applyCorrections(store: SqliteStore, list: readonly Correction[], channel: EventChannel, provider: string, now = Date.now()): Correction[] {
  if (list.length === 0) return [];
  const update = store.db.prepare(
    'UPDATE ledger SET cost_nanos = ?, provider_cost_nanos = ?, metered_cost_nanos = COALESCE(metered_cost_nanos, cost_nanos) WHERE id = ? AND cost_nanos = ?',
  );
  return store.db.transaction(() => {
    const applied = list.filter((c) => update.run(c.toNanos, c.toNanos, c.rowId, c.fromNanos).changes > 0);
    const byKey = new Map<string, Correction[]>();
    for (const c of applied) byKey.set(c.keyName, [...(byKey.get(c.keyName) ?? []), c]);
    for (const [keyName, cs] of byKey) {
      const before = cs.reduce((s, c) => s + c.fromNanos, 0);
      const after = cs.reduce((s, c) => s + c.toNanos, 0);
      const ids = cs.map((c) => c.requestId).slice(0, 5).join(', ');
      store.insertEvent({
        ts: now,
        kind: 'reconcile',
        budget: keyName,
        channel,
        capBeforeNanos: null,
        capAfterNanos: null,
        detail: `${cs.length} ledger row(s) set to ${provider}'s figure: ${formatUsd(before)} → ${formatUsd(after)} (${ids}${cs.length > 5 ? ', …' : ''})`,
      });
    }
    if (applied.length > 0) store.setMeta(LEDGER_CORRECTED_META, String(now));
    return applied;
  })();
}
