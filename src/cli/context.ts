import { loadOrCreateMasterKey } from '../secrets/index.js';
import { ensureDataDir, openStore as openAnyStore, resolveDataDir, SqliteStore, StoreError } from '../store/index.js';
import type { Store } from '../store/index.js';
import { invocation } from './args.js';
import { UsageError } from './errors.js';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const cliWarn = (io: Io) => (line: string) => io.err(`spendcap: warning: ${line}\n`);

/** Team mode's store URL: --store, else SPENDCAP_STORE; undefined means the data dir's SQLite file. */
export function storeUrl(io: Io): string | undefined {
  const url = invocation.store ?? (io.env.SPENDCAP_STORE || undefined);
  if (url === undefined) return undefined;
  if (!/^postgres(ql)?:\/\//i.test(url)) throw new UsageError('--store (or SPENDCAP_STORE) must be a postgres://… URL; leave it out to use the data dir');
  return url;
}

/**
 * Commands open the same store the server uses: the SQLite file in the data dir (WAL lets them
 * write while it runs), or with --store / SPENDCAP_STORE the team's Postgres database. The data dir
 * is still opened in team mode: it holds secret.key.
 */
export function openStore(dataDirFlag: unknown, io: Io): { store: Store; dataDir: string; masterKey: () => Buffer } {
  const dataDir = ensureDataDir(resolveDataDir(typeof dataDirFlag === 'string' ? dataDirFlag : undefined, io.env), cliWarn(io));
  const url = storeUrl(io);
  const store: Store = url === undefined ? new SqliteStore(dataDir) : deferredStore(openPostgres(url));
  return { store, dataDir, masterKey: () => loadOrCreateMasterKey(dataDir, cliWarn(io)) };
}

async function openPostgres(url: string): Promise<Store> {
  // Loaded only when asked for: SQLite-only commands never load pg.
  const { redactUrl } = await import('../store/postgres/team-mode.js');
  try {
    return await openAnyStore(url);
  } catch (err) {
    throw new StoreError('E_INVALID', `could not open the team store ${redactUrl(url)}: ${(err as Error).message.split(url).join(redactUrl(url))}`);
  }
}

type AnyFn = (...args: unknown[]) => Promise<unknown>;

/**
 * A Store whose connection is still opening: every Store call is asynchronous, so each one waits
 * for the connection and then runs. Lets the commands open a postgres:// store as they open SQLite.
 */
function deferredStore(opening: Promise<Store>): Store {
  // Rejections reach every call; this keeps an unused store's failure from being unhandled.
  opening.catch(() => undefined);
  const part = (name: string): unknown =>
    new Proxy({}, { get: (_t, method: string) => (...args: unknown[]) => opening.then((s) => ((s as unknown as Record<string, Record<string, AnyFn>>)[name]![method] as AnyFn)(...args)) });
  return new Proxy({} as Store, {
    get: (_t, prop: string) => {
      if (prop === 'kind') return 'postgres';
      if (prop === 'then' || prop === 'background') return undefined;
      if (prop === 'flush' || prop === 'close') return () => opening.then((s) => s[prop]());
      return part(prop);
    },
  });
}
