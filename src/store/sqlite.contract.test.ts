import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeContract } from './contract.js';
import { SqliteStore } from './sqlite.js';

// A real SQLite file in a temp dir; `open` is a second connection, as a CLI command or a restart would be.
storeContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-contract-'));
  return {
    store: new SqliteStore(dir),
    open: async () => new SqliteStore(dir),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
