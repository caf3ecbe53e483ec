import pg from 'pg';
import { clientConfig } from './pool.js';
import { NOTIFY_CHANNEL } from './migrations.js';

/** A budget row changed somewhere (the trigger of migration 3 sends this). */
export interface BudgetChange {
  op: 'insert' | 'update' | 'delete';
  id: number;
  name: string;
  capNanos: number;
  killed: boolean;
  mode: 'hard' | 'soft';
}

/**
 * One dedicated connection LISTENing for budget changes. It reconnects after a lost connection
 * and then reports `null`, meaning "changes may have been missed: reload everything".
 */
export class BudgetListener {
  readonly #url: string;
  readonly #onChange: (change: BudgetChange | null) => void;
  #client: pg.Client | null = null;
  #stopped = false;
  #retry: NodeJS.Timeout | null = null;

  constructor(url: string, onChange: (change: BudgetChange | null) => void) {
    this.#url = url;
    this.#onChange = onChange;
  }

  async start(): Promise<void> {
    const client = new pg.Client(clientConfig(this.#url));
    client.on('notification', (msg) => {
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
    await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
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
