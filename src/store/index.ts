export { SqliteStore, DB_FILE } from './sqlite.js';
export type { Checkpointer } from './checkpointer.js';
export { StoreError } from './errors.js';
export { resolveDataDir, ensureDataDir } from './data-dir.js';
export * from './types.js';
