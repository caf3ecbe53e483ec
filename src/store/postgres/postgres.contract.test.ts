// The Store contract (src/store/contract.ts), unchanged, on a real Postgres started for this file.
// Each test gets a fresh database cloned from a migrated template (CREATE DATABASE … TEMPLATE is
// far quicker than migrating each one).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { storeContract } from '../contract.js';
import { PostgresStore } from './store.js';
import { openStore } from '../open.js';
import './register.js';
import { startPostgres } from '../../../test/helpers/postgres.js';
import type { PgServer } from '../../../test/helpers/postgres.js';

let server: PgServer;
let n = 0;

before(async () => {
  server = await startPostgres();
  const template = await server.createDatabase('contract_template');
  const s = await PostgresStore.open(template);
  await s.close();
});
after(async () => {
  await server.stop();
});

storeContract('postgres', async () => {
  const name = `contract_${++n}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE contract_template`);
  } finally {
    await admin.end();
  }
  const url = server.url.replace(/\/postgres$/, `/${name}`);
  return {
    store: await PostgresStore.open(url),
    open: () => PostgresStore.open(url),
    cleanup: async () => undefined,
  };
});

test('openStore opens a postgres:// (or postgresql://) URL as the Postgres store, migrated', async () => {
  const url = await server.createDatabase('opened_by_url');
  for (const u of [url, url.replace(/^postgres:/, 'postgresql:')]) {
    const store = await openStore(u);
    try {
      assert.equal(store.kind, 'postgres');
      assert.deepEqual(await store.keys.list(), []);
    } finally {
      await store.close();
    }
  }
});
