import pg from 'pg';
import { clientConfig } from './pool.js';
import { NOTIFY_CHANNEL, SHORT_CHANNEL } from './migrations.js';
import type { Slot } from './leases.js';

/** A budget row changed somewhere (the trigger of migration 3 sends this). */
export interface BudgetChange {
  op: 'insert' | 'update' | 'delete';
  id: number;
  name: string;
  capNanos: number;
  killed: boolean;
  mode: 'hard' | 'soft';
}

/** An instance found a budget's room all leased out while it was short (SHORT_CHANNEL). */
export interface ShortSignal extends Slot {
  instanceId: string;
}

/**
 * One dedicated connection LISTENing for budget changes (and for instances short of room). It reconnects after a lost connection
 * and then reports `null`, meaning "changes may have been missed: reload everything".
 */
export class BudgetListener {
  readonly #url: string;
  readonly #onChange: (change: BudgetChange | null) => void;
  readonly #onShort: (signal: ShortSignal) => void;
  #client: pg.Client | null = null;
  #stopped = false;
  #retry: NodeJS.Timeout | null = null;

  constructor(url: string, onChange: (change: BudgetChange | null) => void, onShort: (signal: ShortSignal) => void = () => undefined) {
    this.#url = url;
    this.#onChange = onChange;
    this.#onShort = onShort;
  }

  async start(): Promise<void> {
    const client = new pg.Client(clientConfig(this.#url));
    client.on('notification', (msg) => {
      if (msg.channel === SHORT_CHANNEL && msg.payload) {
        // A lost signal only delays the give-back to the next fair-share flush: nothing to reload.
        try {
          this.#onShort(JSON.parse(msg.payload) as ShortSignal);
        } catch {
          // ignored
        }
        return;
      }
      if (msg.channel !== NOTIFY_CHANNEL || !msg.payload) return;
      try {
        this.#onChange(JSON.parse(msg.payload) as BudgetChange);
      } catch {
        this.#onChange(null);
      }
    });
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    await client.connect();
    await client.query(`LISTEN ${NOTIFY_CHANNEL}; LISTEN ${SHORT_CHANNEL}`);
    this.#client = client;
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client || this.#stopped) return;
    this.#client = null;
    const again = (): void => {
      this.#retry = null;
      if (this.#stopped) return;
      this.start().then(
        () => this.#onChange(null),
        () => (this.#retry = setTimeout(again, 1000)),
      );
    };
    this.#retry = setTimeout(again, 200);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    const c = this.#client;
    this.#client = null;
    await c?.end().catch(() => undefined);
  }
}
