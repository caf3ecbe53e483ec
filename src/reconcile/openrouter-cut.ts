// A cut OpenRouter stream is charged spendcap's safe upper bound (what it read plus what may have been
// in flight), but OpenRouter reports what it billed for the cancelled generation a few seconds later
// (GET /generation?id=gen-…, which answers 404 until the generation is stored). This sets the row to
// that figure and so refunds the budget the difference, without waiting for `spendcap reconcile`.
import { OpenRouterApi, ProviderApiError } from '../provider-keys/openrouter-api.js';
import type { Store } from '../store/index.js';
import { utcDay } from './compare.js';
import type { Correction } from './compare.js';
import { applyCorrections } from './ledger.js';

/** A row settled from spendcap's own estimate on an OpenRouter key, with the generation id OpenRouter gave it. */
export interface EstimatedOpenRouterRow {
  generationId: string;
  /** The OpenRouter key the request used: an ordinary key may read its own generations. */
  providerKey: string;
  /** OpenRouter's API base as the key's upstream names it (…/api/v1). */
  base: string;
}

export interface CutReconcilerOptions {
  /**
   * A store connection of its own: the server's bank notices a write from another connection
   * (data_version), re-sums what the budgets spent, and so gives the refund back to them.
   */
  writer: () => Promise<Store>;
  /** Called after a row was corrected (the server refreshes its bank and dashboards). */
  onCorrected?: () => void;
  log?: (line: string) => void;
  /** Waits before each lookup; OpenRouter stores a generation a few seconds after it ends. */
  delaysMs?: readonly number[];
  fetch?: typeof globalThis.fetch;
}

const DEFAULT_DELAYS_MS = [3_000, 7_000, 20_000, 60_000];
/** How far back the row is looked for: past the last lookup's wait, with room for a slow first answer. */
const LOOKBACK_MS = 10 * 60_000;

export class OpenRouterCutReconciler {
  readonly #o: CutReconcilerOptions;
  /** Lookups under way, so a closing server can let them go (timers are unref'd). */
  readonly #pending = new Set<NodeJS.Timeout>();

  constructor(opts: CutReconcilerOptions) {
    this.#o = opts;
  }

  /** Schedules the lookup of one row's generation; never throws, never blocks the request path. */
  schedule(row: EstimatedOpenRouterRow): void {
    if (!row.generationId.startsWith('gen-')) return;
    this.#attempt(row, 0);
  }

  /** Stops every scheduled lookup. */
  close(): void {
    for (const t of this.#pending) clearTimeout(t);
    this.#pending.clear();
  }

  #attempt(row: EstimatedOpenRouterRow, n: number): void {
    const delays = this.#o.delaysMs ?? DEFAULT_DELAYS_MS;
    if (n >= delays.length) {
      this.#o.log?.(`OpenRouter never reported generation ${row.generationId}; its row keeps spendcap's charge (spendcap reconcile can set it later)`);
      return;
    }
    const t = setTimeout(() => {
      this.#pending.delete(t);
      void this.#lookup(row).then(
        (done) => {
          if (!done) this.#attempt(row, n + 1);
        },
        (err: unknown) => this.#o.log?.(`reconciling generation ${row.generationId} failed: ${(err as Error).message}`),
      );
    }, delays[n]);
    t.unref();
    this.#pending.add(t);
  }

  /** True when the generation was found (and the row set to it, when it differed). */
  async #lookup(row: EstimatedOpenRouterRow): Promise<boolean> {
    const api = new OpenRouterApi({ base: row.base, token: row.providerKey, ...(this.#o.fetch ? { fetch: this.#o.fetch } : {}) });
    let g;
    try {
      g = await api.generation(row.generationId);
    } catch (err) {
      // Not stored yet (404), or OpenRouter unreachable for a moment: try again later.
      if (err instanceof ProviderApiError) return false;
      throw err;
    }
    const store = await this.#o.writer();
    const rows = await store.ledger.providerRows('openrouter', Date.now() - LOOKBACK_MS);
    const found = rows.filter((r) => r.requestId === row.generationId).at(-1);
    if (found === undefined || found.costNanos === g.totalCostNanos) return true;
    const c: Correction = { rowId: found.id, requestId: row.generationId, keyName: found.keyName, day: utcDay(found.ts), fromNanos: found.costNanos, toNanos: g.totalCostNanos, cancelled: g.cancelled };
    if ((await applyCorrections(store, [c], 'auto', 'OpenRouter')).length > 0) this.#o.onCorrected?.();
    return true;
  }
}
