import pg from 'pg';
import { PostgresStoreError } from './errors.js';
import { MIGRATIONS } from './migrations.js';

/** BIGINT (nano-dollars, epoch ms) as a JS number: exact below 2^53, i.e. up to $9 million. */
const parseBigint = (v: string): number => Number(v);
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? parseBigint : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format))) as typeof pg.types.getTypeParser,
};

/** The client settings every connection of spendcap uses. */
export function clientConfig(url: string): pg.ClientConfig {
  return { connectionString: url, types, application_name: 'spendcap' };
}

/**
 * A pool of connections to `url`. Small on purpose: the hot path does not wait on the database
 * (leases), so a few connections carry the batched writes of many requests.
 */
export function openPool(url: string, max = 4): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(url), max, idleTimeoutMillis: 30_000 });
  // An idle client that loses its connection must not crash the server: the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/** A fixed number, so that all spendcap instances agree on it: only one migrates at a time. */
const MIGRATE_LOCK = 0x5e_4d_ca_9;

/** Brings the database to the newest migration; safe when several instances start at once. Returns the versions applied. */
export async function migrate(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect().catch((err: Error) => {
    throw new PostgresStoreError('E_STORE_CONNECT', `spendcap: cannot reach Postgres (${err.message}). Check the --store URL and that the server runs.`);
  });
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const newest = Math.max(0, ...done);
    const known = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
    if (newest > known) throw new PostgresStoreError('E_STORE_NEWER', `spendcap: this Postgres database is at migration ${newest}, newer than this spendcap knows (${known}). Upgrade spendcap on this machine.`);
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
        await client.query('COMMIT');
        applied.push(m.version);
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]).catch(() => undefined);
    client.release();
  }
  return applied;
}
