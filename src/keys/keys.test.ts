import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decryptSecret, hashToken } from '../secrets/index.js';
import { SqliteStore } from '../store/index.js';
import { createKey, KeySpecError, normalizeBaseUrl, removeKey } from './index.js';
import type { KeySpec } from './index.js';

const spec = (over: Partial<KeySpec> = {}): KeySpec => ({ name: 'work', provider: 'anthropic', providerKey: 'sk-ant-1', capNanos: 5_000_000, period: 'day', sessionCapNanos: null, ceilingNanos: null, mode: 'hard', clamp: false, baseUrl: undefined, ...over });

test('createKey validates, stores the token hashed and the provider key encrypted, and audits key-add on its channel', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-keys-'));
  const store = new SqliteStore(dir);
  const master = randomBytes(32);
  try {
    const refuse = (over: Partial<KeySpec>, field: string, re: RegExp, label?: (f: string) => string) =>
      assert.rejects(async () => (await createKey(store, () => master, spec(over), 'web', label)), (e: unknown) => e instanceof KeySpecError && e.field === field && re.test(e.message));
    await refuse({ name: '-bad' }, 'name', /1–64 letters/);
    await refuse({ provider: 'azure' }, 'provider', /^--provider must be one of anthropic/, (f) => `--${f}`);
    await refuse({ providerKey: ' ' }, 'providerKey', /providerKey is required/);
    await refuse({ providerKey: 'sc-abc' }, 'providerKey', /not a spendcap key/);
    await refuse({ mode: 'strict' }, 'mode', /hard or soft/);
    await refuse({ ceilingNanos: 1 }, 'ceiling', /at least the cap/);
    await refuse({ provider: 'openai-compatible' }, 'baseUrl', /required with provider openai-compatible/);

    const made = await createKey(store, () => master, spec({ providerKey: ' sk-ant-1 ' }), 'web', undefined, 1000);
    assert.match(made.token, /^sc-/);
    const k = (await store.keys.byName('work'))!;
    assert.equal(k.tokenHash, hashToken(made.token));
    assert.equal(decryptSecret(master, k.providerKeyEnc), 'sk-ant-1');
    assert.deepEqual([made.event.kind, made.event.channel, made.event.capAfterNanos], ['key-add', 'web', 5_000_000]);
    await assert.rejects(async () => (await createKey(store, () => master, spec(), 'api')), /already exists/);
    assert.equal((await removeKey(store, 'work', 'api')).channel, 'api');
    await assert.rejects(async () => (await removeKey(store, 'work', 'api')), /no key named "work"/);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('normalizeBaseUrl: http(s) only, no query or fragment, no trailing slash', async () => {
  assert.equal(normalizeBaseUrl('openai-compatible', 'https://api.groq.com/openai/v1/'), 'https://api.groq.com/openai/v1');
  assert.equal(normalizeBaseUrl('anthropic', undefined), null);
  assert.throws(() => normalizeBaseUrl('openai-compatible', 'ftp://x'), /http or https/);
  assert.throws(() => normalizeBaseUrl('openai-compatible', 'https://x/v1?a=1'), /query or fragment/);
  assert.throws(() => normalizeBaseUrl('openai-compatible', 'nope'), /not a URL/);
});
