// `spendcap run`: the command gets env pointing it at spendcap with a token bound to its own
// session and cap; the cap holds; the spend is printed; the exit status is the command's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import { addKey, cli, ledgerRows, startSpendcap } from './helpers/spendcap.js';

const CHILD = fileURLToPath(new URL('../../test/fixtures/agents/run-child.mjs', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/spendcap.js', import.meta.url));

function spendcap(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

interface Row {
  session: string | null;
  outcome: string;
  costNanos: number;
}

test('run: its own session and cap, the spend printed at exit, the exit status of the command', async () => {
  const mock = await startMockAnthropic({ tokenIntervalMs: 0, outputTokens: 60 });
  const sc = await startSpendcap(mock.url);
  try {
    await addKey(sc.dataDir, 'work', 5);
    const r = await spendcap(['run', '--key', 'work', '--cap', '0.003', '--url', sc.url, '--data-dir', sc.dataDir, '--', process.execPath, CHILD, '12', '7']);
    assert.equal(r.code, 7, r.err);
    const child = JSON.parse(r.out) as { ok: number; refused: number; headers: string; session: string };
    assert.ok(child.ok >= 1 && child.refused >= 1, `some requests passed and the cap then refused the rest: ${r.out}`);
    assert.match(child.session, /^run-[0-9a-f]{12}$/);
    assert.equal(child.headers, `x-spendcap-session: ${child.session}`);

    const rows = (await ledgerRows<Row>(sc)).filter((x) => x.session === child.session);
    const spent = rows.reduce((a, x) => a + x.costNanos, 0);
    assert.equal(rows.filter((x) => x.outcome === 'ok').length, child.ok);
    assert.ok(spent <= 3_000_000, `the run's cap held: spent ${spent} n$`);
    const printed = new RegExp(`session ${child.session} of key "work" spent \\$([0-9.]+) of its \\$0\\.003 cap; .* exited 7`).exec(r.err);
    assert.ok(printed, r.err);
    assert.ok(Math.abs(Number(printed[1]) * 1e9 - spent) < 10_000, `printed ${printed[1]}, ledger ${spent}`);

    // After the run: its token is revoked, its cap budget gone, the key untouched.
    const tokens = JSON.parse((await cli(sc.dataDir, ['key', 'tokens', 'work', '--json'])).out) as Array<{ label: string; revokedAt: string | null }>;
    assert.ok(tokens.find((t) => t.label === `run:${child.session}`)?.revokedAt);
    const budgets = JSON.parse((await cli(sc.dataDir, ['status', '--json'])).out) as Array<{ name: string }>;
    assert.deepEqual(budgets.map((b) => b.name), ['work']);

    // Without --cap: still its own session, and the command's success is spendcap's.
    const free = await spendcap(['run', '--key', 'work', '--url', sc.url, '--data-dir', sc.dataDir, '--', process.execPath, CHILD, '2', '0']);
    assert.equal(free.code, 0, free.err);
    const c2 = JSON.parse(free.out) as { ok: number; session: string };
    assert.equal(c2.ok, 2);
    assert.notEqual(c2.session, child.session);
    assert.equal((await ledgerRows<Row>(sc)).filter((x) => x.session === c2.session).length, 2);
  } finally {
    await sc.close();
    await mock.close();
  }
});

test('run without a command or key says how to call it', async () => {
  const sc = await startSpendcap(null);
  try {
    assert.match((await cli(sc.dataDir, ['run', '--key', 'x'])).err, /missing command/);
    assert.match((await cli(sc.dataDir, ['run', '--', 'true'])).err, /--key NAME is required/);
  } finally {
    await sc.close();
  }
});
