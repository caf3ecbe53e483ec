// What spendcap keeps about provider-side keys: the management/admin keys a user stored once
// (encrypted like provider keys), and which spendcap key owns which OpenRouter key (its `hash`).
// Two tables of this part's own, created here, so the core schema stays untouched; the link
// follows its spendcap key (ON DELETE CASCADE) whichever front end removes it.
import { decryptSecret, encryptSecret, redactKey } from '../secrets/index.js';
import type { SqliteStore } from '../store/index.js';

/** Providers whose admin APIs spendcap calls: OpenRouter (key management), Anthropic and OpenAI (usage/cost). */
export const ADMIN_PROVIDERS = ['openrouter', 'anthropic', 'openai'] as const;
export type AdminProvider = (typeof ADMIN_PROVIDERS)[number];

const TABLES = `
CREATE TABLE IF NOT EXISTS provider_admin_keys (
  provider TEXT PRIMARY KEY,
  key_enc TEXT NOT NULL,
  hint TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS provider_keys (
  key_id INTEGER PRIMARY KEY REFERENCES keys(id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  hash TEXT NOT NULL,
  label TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;

const ready = new WeakSet<SqliteStore>();
function ensure(store: SqliteStore): void {
  if (ready.has(store)) return;
  store.db.exec(TABLES);
  ready.add(store);
}

export interface AdminKeyInfo {
  provider: AdminProvider;
  hint: string;
  createdAt: number;
}

export function isAdminProvider(p: string): p is AdminProvider {
  return (ADMIN_PROVIDERS as readonly string[]).includes(p);
}

export function saveAdminKey(store: SqliteStore, masterKey: () => Buffer, provider: AdminProvider, key: string, now = Date.now()): AdminKeyInfo {
  ensure(store);
  const hint = redactKey(key);
  store.db
    .prepare(`INSERT INTO provider_admin_keys (provider, key_enc, hint, created_at) VALUES (?, ?, ?, ?)
              ON CONFLICT (provider) DO UPDATE SET key_enc = excluded.key_enc, hint = excluded.hint, created_at = excluded.created_at`)
    .run(provider, encryptSecret(masterKey(), key), hint, now);
  return { provider, hint, createdAt: now };
}

/** The stored admin key in clear, or null when the user stored none. */
export function adminKeyOf(store: SqliteStore, masterKey: () => Buffer, provider: AdminProvider): string | null {
  ensure(store);
  const row = store.db.prepare('SELECT key_enc FROM provider_admin_keys WHERE provider = ?').get(provider) as { key_enc: string } | undefined;
  return row === undefined ? null : decryptSecret(masterKey(), row.key_enc);
}

export function listAdminKeys(store: SqliteStore): AdminKeyInfo[] {
  ensure(store);
  const rows = store.db.prepare('SELECT provider, hint, created_at FROM provider_admin_keys ORDER BY provider').all() as { provider: AdminProvider; hint: string; created_at: number }[];
  return rows.map((r) => ({ provider: r.provider, hint: r.hint, createdAt: r.created_at }));
}

export function removeAdminKey(store: SqliteStore, provider: AdminProvider): boolean {
  ensure(store);
  return store.db.prepare('DELETE FROM provider_admin_keys WHERE provider = ?').run(provider).changes > 0;
}

/** A provider-side key owned by a spendcap key. */
export interface ProviderKeyLink {
  keyId: number;
  provider: 'openrouter';
  /** OpenRouter's id for the key (GET/PATCH/DELETE /keys/{hash}); never the key itself. */
  hash: string;
  /** The name the key has at the provider. */
  label: string;
  createdAt: number;
}

export function linkProviderKey(store: SqliteStore, link: ProviderKeyLink): void {
  ensure(store);
  store.db
    .prepare(`INSERT INTO provider_keys (key_id, provider, hash, label, created_at) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT (key_id) DO UPDATE SET provider = excluded.provider, hash = excluded.hash, label = excluded.label, created_at = excluded.created_at`)
    .run(link.keyId, link.provider, link.hash, link.label, link.createdAt);
}

interface LinkRow {
  key_id: number;
  provider: 'openrouter';
  hash: string;
  label: string;
  created_at: number;
}
const toLink = (r: LinkRow): ProviderKeyLink => ({ keyId: r.key_id, provider: r.provider, hash: r.hash, label: r.label, createdAt: r.created_at });

export function providerKeyOf(store: SqliteStore, keyId: number): ProviderKeyLink | null {
  ensure(store);
  const r = store.db.prepare('SELECT * FROM provider_keys WHERE key_id = ?').get(keyId) as LinkRow | undefined;
  return r === undefined ? null : toLink(r);
}

export function listProviderKeys(store: SqliteStore): ProviderKeyLink[] {
  ensure(store);
  return (store.db.prepare('SELECT * FROM provider_keys ORDER BY key_id').all() as LinkRow[]).map(toLink);
}

export function unlinkProviderKey(store: SqliteStore, keyId: number): void {
  ensure(store);
  store.db.prepare('DELETE FROM provider_keys WHERE key_id = ?').run(keyId);
}
