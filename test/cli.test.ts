// The CLI against a real data dir, without a server: keys, caps, lifts, kill, status, log, prices,
// and what is stored at rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDataDir } from './helpers/spendcap.js';

interface KeyJson {
  name: string;
  token: string;
}
interface StatusJson {
  name: string;
  capUsd: number;
  spentUsd: number;
  heldUsd: number;
  remainingUsd: number;
  period: string;
  periodEnd: string | null;
  killed: boolean;
  ceilingUsd: number | null;
  sessionCapUsd: number | null;
}

test('key add prints the key once, stores only its hash, and encrypts the provider key', async () => {
  const dir = tempDataDir();
  try {
    const r = await cli(dir, ['key', 'add', 'work', '--provider', 'anthropic', '--provider-key', 'sk-ant-secret-123', '--cap', '15', '--period', 'day', '--json']);
    assert.equal(r.code, 0, r.err);
    const created = JSON.parse(r.out) as KeyJson;
    assert.equal(created.name, 'work');
    assert.match(created.token, /^sc-[A-Za-z0-9_-]{32}$/);
    const files = ['spendcap.db', 'spendcap.db-wal'].map((f) => join(dir, f)).filter((f) => existsSync(f));
    const db = files.map((f) => readFileSync(f).toString('latin1')).join('');
    assert.ok(!db.includes('sk-ant-secret-123'), 'the provider key is not stored in clear');
    assert.ok(!db.includes(created.token), 'the spendcap key is not stored in clear');
    assert.equal(statSync(join(dir, 'secret.key')).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);

    const list = await cli(dir, ['key', 'list', '--json']);
    assert.ok(!list.out.includes(created.token));
    assert.deepEqual((JSON.parse(list.out) as Array<{ name: string; capUsd: number }>).map((k) => [k.name, k.capUsd]), [['work', 15]]);
    const human = await cli(dir, ['key', 'add', 'other', '--provider', 'anthropic', '--provider-key', 'sk-ant-x', '--cap', '2']);
    assert.match(human.out, /sc-[A-Za-z0-9_-]{32}/);
    assert.match(human.out, /only time the key is shown/);

    const dup = await cli(dir, ['key', 'add', 'work', '--provider', 'anthropic', '--provider-key', 'k', '--cap', '1']);
    assert.equal(dup.code, 1);
    assert.match(dup.err, /already exists/);
    assert.equal((await cli(dir, ['key', 'rm', 'other'])).code, 0);
    assert.equal((await cli(dir, ['key', 'rm', 'other'])).code, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cap set, lift (add, double, to ceiling, never past it), kill and unkill, with status showing each', async () => {
  const dir = tempDataDir();
  try {
    await cli(dir, ['key', 'add', 'work', '--provider', 'anthropic', '--provider-key', 'sk-ant-x', '--cap', '10', '--ceiling', '50', '--session-cap', '2']);
    const status = async () => (JSON.parse((await cli(dir, ['status', '--json'])).out) as StatusJson[])[0]!;
    let s = await status();
    assert.deepEqual([s.capUsd, s.spentUsd, s.heldUsd, s.remainingUsd, s.period, s.ceilingUsd, s.sessionCapUsd, s.killed], [10, 0, 0, 10, 'day', 50, 2, false]);
    assert.ok(s.periodEnd !== null && Date.parse(s.periodEnd) > Date.now());

    assert.equal((await cli(dir, ['lift', 'work', '--add', '5'])).code, 0);
    assert.equal((await status()).capUsd, 15);
    assert.equal((await cli(dir, ['lift', 'work', '--double'])).code, 0);
    assert.equal((await status()).capUsd, 30);
    const past = await cli(dir, ['lift', 'work', '--double']);
    assert.equal(past.code, 1);
    assert.match(past.err, /ceiling of \$50\.00/);
    assert.equal((await cli(dir, ['lift', 'work', '--to-ceiling'])).code, 0);
    assert.equal((await status()).capUsd, 50);
    assert.equal((await cli(dir, ['lift', 'work'])).code, 2);

    assert.equal((await cli(dir, ['cap', 'set', 'work', '3', '--period', 'week'])).code, 0);
    s = await status();
    assert.deepEqual([s.capUsd, s.period], [3, 'week']);
    const bad = await cli(dir, ['cap', 'set', 'work', '3', '--period', 'fortnight']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--period must be one of day, week, month, total/);

    assert.equal((await cli(dir, ['kill', 'work'])).code, 0);
    assert.equal((await status()).killed, true);
    assert.match((await cli(dir, ['status'])).out, /KILLED/);
    assert.equal((await cli(dir, ['unkill', 'work'])).code, 0);
    assert.equal((await status()).killed, false);
    assert.equal((await cli(dir, ['kill', 'nobody'])).code, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('status bars, log, price overrides and clear usage errors', async () => {
  const dir = tempDataDir();
  try {
    assert.match((await cli(dir, ['status'])).out, /No budgets yet/);
    await cli(dir, ['key', 'add', 'work', '--provider', 'anthropic', '--provider-key', 'sk-ant-x', '--cap', '15']);
    assert.match((await cli(dir, ['status'])).out, /work\s+\[·+\]\s+\$0\.00/);
    assert.match((await cli(dir, ['log'])).out, /ledger is empty/);
    assert.deepEqual(JSON.parse((await cli(dir, ['log', '--json'])).out), []);
    assert.equal((await cli(dir, ['price', 'set', 'my-model', '--input', '1.5', '--output', '2'])).code, 0);
    const prices = JSON.parse((await cli(dir, ['price', 'list', '--json'])).out) as Array<{ model: string; input: number; output: number }>;
    assert.deepEqual(prices.map((p) => [p.model, p.input, p.output]), [['my-model', 1_500_000_000, 2_000_000_000]]);
    assert.equal((await cli(dir, ['key', 'add', 'x', '--provider', 'openai-ish', '--provider-key', 'k', '--cap', '1'])).code, 2);
    assert.match((await cli(dir, ['key', 'add', 'x', '--provider', 'anthropic', '--cap', '1'])).err, /--provider-key is required/);
    assert.match((await cli(dir, ['key', 'add', 'x', '--provider', 'anthropic', '--provider-key', 'k', '--cap', 'lots'])).err, /--cap must be a dollar amount/);
    assert.equal((await cli(dir, ['frobnicate'])).code, 2);
    assert.equal((await cli(dir, ['log', '--limit', '0'])).code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SPENDCAP_HOME picks the data dir when --data-dir is absent', async () => {
  const dir = tempDataDir();
  try {
    const { main } = await import('../src/cli/main.js');
    let out = '';
    const code = await main(['key', 'add', 'envkey', '--provider', 'anthropic', '--provider-key', 'sk-ant-x', '--cap', '1', '--json'], { out: (t) => (out += t), err: () => {}, env: { SPENDCAP_HOME: dir } });
    assert.equal(code, 0);
    assert.match((await cli(dir, ['key', 'list'])).out, /envkey/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
