export { SqliteStore, DB_FILE } from './sqlite.js';
export type { Checkpointer } from './checkpointer.js';
export { StoreError } from './errors.js';
export { resolveDataDir, ensureDataDir } from './data-dir.js';
export * from './types.js';
export { ensureTokenTables, liveTokenHashes, insertToken, listTokens, revokeToken, saveConnection, getConnection, listConnections, deleteConnection, PRIMARY_LABEL } from './tokens.js';
export type { TokenRecord, AgentConnection, ConnectedFile, LiveToken } from './tokens.js';
