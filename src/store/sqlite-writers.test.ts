// Two processes writing one SQLite file, as a CLI command does beside a running server. In WAL mode a
// transaction that read first and then writes fails with SQLITE_BUSY at once, busy_timeout or not,
// when the other process committed in between: a `spendcap key add` next to a busy server failed so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { SqliteStore } from './sqlite.js';

/** Another process committing as fast as it can, as a server settling requests does, until killed. */
function busyWriter(dir: string) {
  const store = new URL('./sqlite.js', import.meta.url).href;
  const script = `
    const { SqliteStore } = await import(${JSON.stringify(store)});
    const s = new SqliteStore(${JSON.stringify(dir)});
    for (let i = 0; ; i++) {
      await s.settings.set({ busy: String(i) });
      if (i === 0) process.stdout.write('writing\\n');
    }`;
  return spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
}

test("a second process's reads-then-writes (key add, budget change) succeed while another process commits without pause", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-writers-'));
  const store = new SqliteStore(dir);
  const writer = busyWriter(dir);
  try {
    await once(writer.stdout, 'data');
    const failures: string[] = [];
    for (let i = 0; i < 150; i++) {
      const ts = Date.now();
      // Each reads first (does the name exist? what is the cap?) and writes after, in one transaction.
      await store.keys
        .create({ name: `k${i}`, provider: 'anthropic', tokenHash: `h${i}`, tokenHint: 'x', providerKeyEnc: 'e', baseUrl: null, createdAt: ts }, { capNanos: 1000, period: 'total', sessionCapNanos: null, ceilingNanos: null, mode: 'hard', updatedAt: ts })
        .catch((e: Error) => failures.push(`key add: ${e.message}`));
      await store.budgets
        .change(`k${i}`, (b) => ({ ...b, capNanos: b.capNanos + 1 }), { kind: 'cap-raise', channel: 'cli' })
        .catch((e: Error) => failures.push(`budget change: ${e.message}`));
    }
    assert.deepEqual(failures, []);
    assert.equal((await store.keys.list()).length, 150);
    assert.equal((await store.budgets.byName('k149'))?.capNanos, 1001);
  } finally {
    writer.kill('SIGKILL');
    await once(writer, 'exit');
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
