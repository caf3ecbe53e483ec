// A key may carry several tokens (one per connected agent), each listed and revocable on its own,
// and the agents `spendcap connect` pointed at spendcap. Both live beside the main schema, in tables
// this module creates on first use, so the store's schema version does not move.
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';

export const TOKEN_SCHEMA = `
CREATE TABLE IF NOT EXISTS key_tokens (
  id INTEGER PRIMARY KEY,
  key_id INTEGER NOT NULL REFERENCES keys(id) ON DELETE CASCADE,
  label TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  token_hint TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  -- A token made for one run (spendcap run): its requests are this session and also charge this tag budget.
  session TEXT,
  budget TEXT
);
CREATE INDEX IF NOT EXISTS key_tokens_key ON key_tokens (key_id);
CREATE TABLE IF NOT EXISTS agent_connections (
  agent TEXT PRIMARY KEY,
  key_name TEXT NOT NULL,
  token_id INTEGER,
  url TEXT NOT NULL,
  files TEXT NOT NULL,
  connected_at INTEGER NOT NULL
);
`;

/** The label the token `key add` printed gets when it is adopted into key_tokens. */
export const PRIMARY_LABEL = 'primary';

import type { AgentConnection, ConnectedFile, LiveToken, TokenRecord } from './types.js';
export type { AgentConnection, ConnectedFile, LiveToken, TokenRecord } from './types.js';

interface TokenRow {
  id: number;
  key_id: number;
  label: string;
  token_hint: string;
  created_at: number;
  revoked_at: number | null;
}

const toToken = (r: TokenRow): TokenRecord => ({ id: r.id, keyId: r.key_id, label: r.label, tokenHint: r.token_hint, createdAt: r.created_at, revokedAt: r.revoked_at });

export function ensureTokenTables(db: Database.Database): void {
  db.exec(TOKEN_SCHEMA);
}

function hasTokenTable(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'key_tokens'").get() !== undefined;
}

/**
 * Every token hash that authenticates, with its key: each key's own token (keys.token_hash) unless it
 * was revoked, and every live row of key_tokens. Read-only, so the server can call it on reload.
 */
export function liveTokenHashes(db: Database.Database): LiveToken[] {
  const rows = hasTokenTable(db)
    ? db
        .prepare(
          `SELECT k.id AS keyId, k.token_hash AS tokenHash, NULL AS session, NULL AS budget FROM keys k
             WHERE NOT EXISTS (SELECT 1 FROM key_tokens t WHERE t.token_hash = k.token_hash)
           UNION ALL SELECT key_id AS keyId, token_hash AS tokenHash, session, budget FROM key_tokens WHERE revoked_at IS NULL`,
        )
        .all()
    : db.prepare('SELECT id AS keyId, token_hash AS tokenHash, NULL AS session, NULL AS budget FROM keys').all();
  return rows as LiveToken[];
}

/** The key's own token becomes a key_tokens row (label "primary"), so it can be listed and revoked like the others. */
function adoptPrimary(db: Database.Database, keyId: number): void {
  db.prepare(
    `INSERT OR IGNORE INTO key_tokens (key_id, label, token_hash, token_hint, created_at, revoked_at)
       SELECT id, ?, token_hash, token_hint, created_at, NULL FROM keys WHERE id = ?`,
  ).run(PRIMARY_LABEL, keyId);
}

export function insertToken(db: Database.Database, t: { keyId: number; label: string; tokenHash: string; tokenHint: string; createdAt: number; session?: string | null; budget?: string | null }): TokenRecord {
  ensureTokenTables(db);
  // The key's own token first: listed oldest first, it comes before the tokens made after it.
  adoptPrimary(db, t.keyId);
  const row = db
    .prepare('INSERT INTO key_tokens (key_id, label, token_hash, token_hint, created_at, session, budget) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *')
    .get(t.keyId, t.label, t.tokenHash, t.tokenHint, t.createdAt, t.session ?? null, t.budget ?? null) as TokenRow;
  return toToken(row);
}

/** Every token of the key, live and revoked, oldest first. */
export function listTokens(db: Database.Database, keyId: number): TokenRecord[] {
  ensureTokenTables(db);
  adoptPrimary(db, keyId);
  return (db.prepare('SELECT * FROM key_tokens WHERE key_id = ? ORDER BY id').all(keyId) as TokenRow[]).map(toToken);
}

/** Revokes one token of the key, named by its id or its label; a label must name one live token. */
export function revokeToken(db: Database.Database, keyId: number, idOrLabel: string, now: number): TokenRecord {
  return db.transaction(() => {
    const tokens = listTokens(db, keyId);
    const byId = /^\d+$/.test(idOrLabel) ? tokens.filter((t) => t.id === Number(idOrLabel)) : [];
    const matches = byId.length > 0 ? byId : tokens.filter((t) => t.label === idOrLabel && t.revokedAt === null);
    if (matches.length === 0) throw new StoreError('E_NOT_FOUND', `no live token "${idOrLabel}" on this key (see: spendcap key tokens NAME)`);
    if (matches.length > 1) throw new StoreError('E_INVALID', `${matches.length} live tokens are labelled "${idOrLabel}"; name one by its id (see: spendcap key tokens NAME)`);
    const t = matches[0]!;
    if (t.revokedAt !== null) throw new StoreError('E_INVALID', `token ${t.id} ("${t.label}") was already revoked`);
    db.prepare('UPDATE key_tokens SET revoked_at = ? WHERE id = ?').run(now, t.id);
    return { ...t, revokedAt: now };
  }).immediate();
}

interface ConnectionRow {
  agent: string;
  key_name: string;
  token_id: number | null;
  url: string;
  files: string;
  connected_at: number;
}

const toConnection = (r: ConnectionRow): AgentConnection => ({ agent: r.agent, keyName: r.key_name, tokenId: r.token_id, url: r.url, files: JSON.parse(r.files) as ConnectedFile[], connectedAt: r.connected_at });

export function saveConnection(db: Database.Database, c: AgentConnection): void {
  ensureTokenTables(db);
  db.prepare('INSERT OR REPLACE INTO agent_connections (agent, key_name, token_id, url, files, connected_at) VALUES (?, ?, ?, ?, ?, ?)').run(c.agent, c.keyName, c.tokenId, c.url, JSON.stringify(c.files), c.connectedAt);
}

export function getConnection(db: Database.Database, agent: string): AgentConnection | undefined {
  ensureTokenTables(db);
  const r = db.prepare('SELECT * FROM agent_connections WHERE agent = ?').get(agent) as ConnectionRow | undefined;
  return r && toConnection(r);
}

export function listConnections(db: Database.Database): AgentConnection[] {
  ensureTokenTables(db);
  return (db.prepare('SELECT * FROM agent_connections ORDER BY agent').all() as ConnectionRow[]).map(toConnection);
}

export function deleteConnection(db: Database.Database, agent: string): void {
  ensureTokenTables(db);
  db.prepare('DELETE FROM agent_connections WHERE agent = ?').run(agent);
}
