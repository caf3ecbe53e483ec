import type { Bank } from '../../budgets/bank.js';
import './register.js';
import { StoreError } from '../errors.js';
import { LeaseAllowance } from './allowance.js';
import { instanceIdFor } from './instance-id.js';
import { PostgresStore } from './store.js';
import { TeamLedger } from './team.js';

/** A postgres:// URL with its password replaced, for log lines and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}

/** What a server runs in team mode: the shared store, and this instance's leases on it. */
export interface TeamMode {
  store: PostgresStore;
  team: TeamLedger;
  instanceId: string;
  /** Makes the Bank admit against the leases and hear budget changes from every instance. */
  attach(bank: Bank, onError: (line: string) => void): void;
  /** Gives free slices back and stops listening (the store is closed by its owner). */
  stop(): Promise<void>;
}

/**
 * Opens the Postgres store for a server whose data dir is `dataDir` (its instance id lives
 * there, so a restart is the same instance). Errors never carry the URL's password.
 */
export async function openTeamMode(url: string, dataDir: string): Promise<TeamMode> {
  const instanceId = instanceIdFor(dataDir);
  let store: PostgresStore;
  try {
    store = await PostgresStore.open(url, { instanceId });
  } catch (err) {
    const message = (err as Error).message.split(url).join(redactUrl(url));
    throw new StoreError('E_INVALID', `could not open the team store ${redactUrl(url)}: ${message}`);
  }
  const team = new TeamLedger({ pool: store.pool, url, instanceId });
  return {
    store,
    team,
    instanceId,
    attach(bank, onError) {
      bank.useAllowance(new LeaseAllowance(team));
      team.onBudgetChange = () => {
        bank.changed().catch((err: unknown) => onError(`could not reload after a budget change: ${(err as Error).message}`));
      };
      team.onError = (err) => onError(`team store: ${err.message.split(url).join(redactUrl(url))}`);
      team.onReclaim = (r) => onError(`reclaimed ${r.leases.length} lease(s) and ${r.holds} hold(s) of stopped instances (charged as spent)`);
    },
    stop: () => team.stop(),
  };
}
