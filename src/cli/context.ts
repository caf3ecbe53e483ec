import { loadOrCreateMasterKey } from '../secrets/index.js';
import { ensureDataDir, resolveDataDir, SqliteStore } from '../store/index.js';
import type { Store } from '../store/index.js';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const cliWarn = (io: Io) => (line: string) => io.err(`spendcap: warning: ${line}\n`);

/** Commands open the same SQLite file the server uses; WAL lets them write while it runs. A data dir is opened synchronously (a postgres:// store would go through store/openStore). */
export function openStore(dataDirFlag: unknown, io: Io): { store: Store; dataDir: string; masterKey: () => Buffer } {
  const dataDir = ensureDataDir(resolveDataDir(typeof dataDirFlag === 'string' ? dataDirFlag : undefined, io.env), cliWarn(io));
  const store: Store = new SqliteStore(dataDir);
  return { store, dataDir, masterKey: () => loadOrCreateMasterKey(dataDir, cliWarn(io)) };
}
