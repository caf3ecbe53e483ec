// The one way a process gets its Store: callers name a place, never an implementation.
import { StoreError } from './errors.js';
import { SqliteStore } from './sqlite.js';
import type { Store, StoreSpec } from './store.js';

/** A store kind added beside SQLite (team mode's Postgres registers itself here). */
export type StoreOpener = (url: string) => Promise<Store>;
const openers = new Map<string, StoreOpener>();

/** Registers the opener for URLs starting with `scheme` (e.g. "postgres:"). */
export function registerStore(scheme: string, open: StoreOpener): void {
  openers.set(scheme, open);
}

/**
 * A data dir opens the embedded SQLite store in it (migrated to the current schema); a URL opens
 * the store registered for its scheme (postgres://… once team mode is built in).
 */
export async function openStore(spec: StoreSpec): Promise<Store> {
  if (typeof spec === 'string' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) return new SqliteStore(spec);
  if (typeof spec === 'object' && 'dataDir' in spec) return new SqliteStore(spec.dataDir, { readonly: spec.readonly ?? false });
  const url = typeof spec === 'string' ? spec : spec.url;
  const scheme = url.slice(0, url.indexOf(':') + 1).toLowerCase();
  const open = openers.get(scheme) ?? (scheme === 'postgresql:' ? openers.get('postgres:') : undefined);
  if (open === undefined) throw new StoreError('E_INVALID', `no store for "${scheme}//" URLs in this build; give a data dir (--data-dir) instead`);
  return open(url);
}
