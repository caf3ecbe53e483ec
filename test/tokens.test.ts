import Database from 'better-sqlite3';
// A key with several tokens: each authenticates as the key and spends its budget; each is revoked
// on its own; none is stored in clear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import { addKey, budgetStatus, cli, startSpendcap } from './helpers/spendcap.js';
import { issueToken } from '../src/keys/index.js';
import { SqliteStore } from '../src/store/index.js';

async function ask(url: string, token: string): Promise<number> {
  const r = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': token, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await r.arrayBuffer();
  return r.status;
}

test('every live token of a key authenticates as the key; a revoked one is refused, the others keep working', async () => {
  const mock = await startMockAnthropic({ tokenIntervalMs: 0, outputTokens: 5 });
  const sc = await startSpendcap(mock.url);
  try {
    const primary = await addKey(sc.dataDir, 'work', 5);
    const store = new SqliteStore(sc.dataDir);
    const claude = await issueToken(store, 'work', 'claude-code');
    const codex = await issueToken(store, 'work', 'codex');
    await store.close();
    assert.notEqual(claude.token, codex.token);

    for (const t of [primary, claude.token, codex.token]) assert.equal(await ask(sc.url, t), 200);
    // All three spent the one budget of the key.
    assert.equal(mock.bills.length, 3);
    assert.ok((await budgetStatus(sc, 'work')).spentUsd > 0);

    const listed = await cli(sc.dataDir, ['key', 'tokens', 'work', '--json']);
    assert.equal(listed.code, 0, listed.err);
    const tokens = JSON.parse(listed.out) as Array<{ id: number; label: string; tokenHint: string; revokedAt: string | null }>;
    assert.deepEqual(new Set(tokens.map((t) => t.label)), new Set(['primary', 'claude-code', 'codex']));
    assert.ok(tokens.every((t) => !listed.out.includes(primary) && !listed.out.includes(claude.token) && t.tokenHint.endsWith('…')));

    const byLabel = await cli(sc.dataDir, ['key', 'revoke', 'work', 'claude-code']);
    assert.equal(byLabel.code, 0, byLabel.err);
    assert.equal(await ask(sc.url, claude.token), 401);
    assert.equal(await ask(sc.url, codex.token), 200);
    assert.equal(await ask(sc.url, primary), 200);

    // The token `key add` printed is revocable the same way, by its id.
    const primaryId = tokens.find((t) => t.label === 'primary')!.id;
    assert.equal((await cli(sc.dataDir, ['key', 'revoke', 'work', String(primaryId)])).code, 0);
    assert.equal(await ask(sc.url, primary), 401);
    assert.equal(await ask(sc.url, codex.token), 200);

    const again = await cli(sc.dataDir, ['key', 'revoke', 'work', 'claude-code']);
    assert.equal(again.code, 1);
    assert.match(again.err, /no live token/);
    const after = JSON.parse((await cli(sc.dataDir, ['key', 'tokens', 'work', '--json'])).out) as Array<{ label: string; revokedAt: string | null }>;
    assert.deepEqual(after.filter((t) => t.revokedAt === null).map((t) => t.label), ['codex']);

    const files = ['spendcap.db', 'spendcap.db-wal'].map((f) => join(sc.dataDir, f)).filter((f) => existsSync(f));
    const db = files.map((f) => readFileSync(f).toString('latin1')).join('');
    for (const t of [primary, claude.token, codex.token]) assert.ok(!db.includes(t), 'tokens are stored hashed');
  } finally {
    await sc.close();
    await mock.close();
  }
});

test('removing a key removes its tokens with it', async () => {
  const sc = await startSpendcap(null);
  try {
    await addKey(sc.dataDir, 'gone', 1);
    const store = new SqliteStore(sc.dataDir);
    const extra = await issueToken(store, 'gone', 'aider');
    await store.close();
    assert.equal((await cli(sc.dataDir, ['key', 'rm', 'gone'])).code, 0);
    assert.equal(await ask(sc.url, extra.token), 401);
    const s = new Database(join(sc.dataDir, 'spendcap.db'), { readonly: true });
    assert.equal((s.prepare('SELECT COUNT(*) AS n FROM key_tokens').get() as { n: number }).n, 0);
    s.close();
  } finally {
    await sc.close();
  }
});
