// The second wall: OpenRouter keys created with a credit limit through the management API, stored
// encrypted as a spendcap key's provider key, shown, re-capped and removed on both sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeOpenRouter } from './helpers/fake-openrouter-admin.js';
import { cli, tempDataDir } from './helpers/spendcap.js';

function storedBytes(dir: string): string {
  return ['spendcap.db', 'spendcap.db-wal'].map((f) => join(dir, f)).filter((f) => existsSync(f)).map((f) => readFileSync(f).toString('latin1')).join('');
}

test('provider-admin stores the management key encrypted, lists it redacted, and removes it', async () => {
  const dir = tempDataDir();
  try {
    const add = await cli(dir, ['provider-admin', 'add', 'openrouter', '--management-key', 'sk-or-v1-mgmt-secret-123']);
    assert.equal(add.code, 0, add.err);
    assert.ok(!storedBytes(dir).includes('sk-or-v1-mgmt-secret-123'), 'the management key is not stored in clear');
    assert.equal((await cli(dir, ['provider-admin', 'add', 'anthropic', '--admin-key', 'sk-ant-admin01-x'])).code, 0);
    const list = await cli(dir, ['provider-admin', 'list', '--json']);
    const rows = JSON.parse(list.out) as Array<{ provider: string; hint: string }>;
    assert.deepEqual(rows.map((r) => r.provider), ['anthropic', 'openrouter']);
    assert.ok(!list.out.includes('mgmt-secret'));
    const wrongFlag = await cli(dir, ['provider-admin', 'add', 'openai', '--management-key', 'x']);
    assert.equal(wrongFlag.code, 2);
    assert.match(wrongFlag.err, /--admin-key/);
    assert.equal((await cli(dir, ['provider-admin', 'rm', 'openrouter'])).code, 0);
    assert.equal((await cli(dir, ['provider-admin', 'rm', 'openrouter'])).code, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('provider-key creates an OpenRouter key with the limit, stores it as the provider key, and key list shows the provider side', async () => {
  const fake = await startFakeOpenRouter();
  const dir = tempDataDir();
  // --agent claude writes Claude Code's settings: into a home of the test's own, never the machine's.
  const home = mkdtempSync(join(tmpdir(), 'spendcap-home-'));
  const env = { SPENDCAP_OPENROUTER_BASE_URL: fake.base, HOME: home };
  try {
    const none = await cli(dir, ['provider-key', 'openrouter', '5'], env);
    assert.equal(none.code, 1);
    assert.match(none.err, /provider-admin add openrouter --management-key/);
    assert.equal((await cli(dir, ['provider-admin', 'add', 'openrouter', '--management-key', fake.managementKey])).code, 0);

    const r = await cli(dir, ['provider-key', 'openrouter', '5', '--reset', 'daily', '--name', 'router', '--agent', 'codex'], env);
    assert.equal(r.code, 0, r.err);
    const post = fake.calls.find((c) => c.method === 'POST' && c.path === '/keys');
    assert.deepEqual(post?.body, { name: 'spendcap:router', limit: 5, limit_reset: 'daily', include_byok_in_limit: true });
    assert.equal(post?.auth, fake.managementKey);
    const token = /\b(sc-[A-Za-z0-9_-]{32})(?![A-Za-z0-9_-])/.exec(r.out)?.[1];
    assert.ok(token, r.out);
    // --agent connects Codex (it speaks Responses, which OpenRouter serves) with a token of its own.
    assert.match(r.out, /Connected codex to "router"/);
    assert.match(readFileSync(join(home, '.codex', 'config.toml'), 'utf8'), /base_url = "http:\/\/127\.0\.0\.1:\d+\/v1"/);
    const codexToken = /SPENDCAP_API_KEY=(sc-\S+)/.exec(readFileSync(join(home, '.codex', '.env'), 'utf8'))?.[1];
    assert.ok(codexToken !== undefined && codexToken !== token, 'Codex has a spendcap token of its own');
    const orKey = [...fake.keys.values()][0]!;
    assert.ok(!storedBytes(dir).includes(orKey.key), 'the OpenRouter key is stored encrypted');

    const status = await cli(dir, ['status', '--json']);
    const b = (JSON.parse(status.out) as Array<{ name: string; capUsd: number; period: string }>).find((x) => x.name === 'router');
    assert.deepEqual([b?.capUsd, b?.period], [5, 'day']);

    orKey.usage = 1.25;
    const list = await cli(dir, ['key', 'list', '--json'], env);
    const row = (JSON.parse(list.out) as Array<{ name: string; providerSide?: { limitUsd: number | null; usageUsd: number; remainingUsd: number | null; reachable: boolean } }>)[0]!;
    assert.deepEqual(row.providerSide, { hash: orKey.hash, reachable: true, limitUsd: 5, usageUsd: 1.25, remainingUsd: 3.75, limitReset: 'daily' });
    const human = await cli(dir, ['key', 'list'], env);
    assert.match(human.out, /\$1\.25 of \$5\.00/);

    // cap set and lift move OpenRouter's limit with the cap.
    assert.equal((await cli(dir, ['cap', 'set', 'router', '8'], env)).code, 0);
    assert.equal(orKey.limit, 8);
    assert.equal((await cli(dir, ['lift', 'router', '--add', '2'], env)).code, 0);
    assert.equal(orKey.limit, 10);

    // OpenRouter asleep: the listing says so, quickly, and still lists the key.
    const offline = await cli(dir, ['key', 'list'], { SPENDCAP_OPENROUTER_BASE_URL: 'http://127.0.0.1:9/api/v1' });
    assert.equal(offline.code, 0);
    assert.match(offline.out, /unreachable/);

    // rm without a TTY and without a flag keeps the OpenRouter key and says how to delete it.
    const keep = await cli(dir, ['key', 'rm', 'router', '--keep-provider-key'], env);
    assert.equal(keep.code, 0, keep.err);
    assert.equal(fake.keys.size, 1);
    const again = await cli(dir, ['provider-key', 'openrouter', '3', '--name', 'router2'], env);
    assert.equal(again.code, 0, again.err);
    assert.deepEqual((fake.calls.filter((c) => c.method === 'POST').at(-1)?.body as { limit_reset: unknown }).limit_reset, null);
    const st2 = (JSON.parse((await cli(dir, ['status', '--json'])).out) as Array<{ name: string; period: string }>).find((x) => x.name === 'router2');
    assert.equal(st2?.period, 'total');
    const del = await cli(dir, ['key', 'rm', 'router2', '--provider-side'], env);
    assert.equal(del.code, 0, del.err);
    assert.equal(fake.keys.size, 1, 'the second key was deleted at OpenRouter');
    assert.match(del.out, /deleted at OpenRouter/);
  } finally {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  }
});
