// `spendcap start` as a user runs it (the real bin, in a child process): what it says when the port
// is taken, when the database is damaged, and when it listens beyond loopback.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cli, tempDataDir } from './helpers/spendcap.js';

const BIN = fileURLToPath(new URL('../../bin/spendcap.js', import.meta.url));

/** Runs `spendcap ARGS`; resolves when it exits, or when its stdout matches `until` (then it is stopped with SIGINT). */
function run(args: string[], until?: RegExp): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SPENDCAP_HOME: '' } });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (until?.test(out)) child.kill('SIGINT');
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

const noStack = (text: string): void => assert.doesNotMatch(text, /\n\s+at /, `no stack trace in:\n${text}`);

test('a port already in use: what happened and what to do, no stack trace', async () => {
  const dir = tempDataDir();
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as AddressInfo).port;
  try {
    const r = await run(['start', '--port', String(port), '--no-open', '--data-dir', dir]);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use .*--port N \\[E_PORT_IN_USE\\]`));
    noStack(r.err);
  } finally {
    taken.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a truncated or garbage database: what happened and what to do, no stack trace', async () => {
  const dir = tempDataDir();
  try {
    assert.equal((await cli(dir, ['key', 'add', 'work', '--provider', 'anthropic', '--provider-key', 'sk-ant-x', '--cap', '1'])).code, 0);
    const db = join(dir, 'spendcap.db');
    truncateSync(db, Math.floor(readFileSync(db).length / 3));
    const started = await run(['start', '--port', '0', '--no-open', '--data-dir', dir]);
    assert.equal(started.code, 1, started.err);
    assert.match(started.err, /spendcap\.db is damaged or not a database .*Restore it from a backup.* \[E_DB_CORRUPT\]/);
    noStack(started.err);

    writeFileSync(db, 'this is not sqlite, it is a text file that replaced the database'.repeat(100));
    const status = await cli(dir, ['status']);
    assert.equal(status.code, 1);
    assert.match(status.err, /^spendcap status: .*spendcap\.db is damaged or not a database \(SQLITE_NOTADB/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--host beyond loopback starts with a warning; on loopback there is none', async () => {
  const dir = tempDataDir();
  try {
    const wide = await run(['start', '--host', '0.0.0.0', '--port', '0', '--no-open', '--data-dir', dir], /Dashboard/);
    assert.match(wide.out, /WARNING: listening on 0\.0\.0\.0, not loopback: anyone who can reach this address/);
    const local = await run(['start', '--port', '0', '--no-open', '--data-dir', dir], /Dashboard/);
    assert.match(local.out, /spendcap is running on http:\/\/127\.0\.0\.1:\d+/);
    assert.doesNotMatch(local.out, /WARNING/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
