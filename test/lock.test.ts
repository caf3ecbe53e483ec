// One server per data dir: two starts at once get one lock, a lock left by a crash is free at once
// (also while the crashed pid is an unreaped zombie), and a stale server.pid does not block.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { acquireServerLock, lockHolder } from '../src/server/lock.js';
import { StoreError } from '../src/store/index.js';
import { tempDataDir } from './helpers/spendcap.js';

const LOCK_MODULE = fileURLToPath(new URL('../src/server/lock.js', import.meta.url));

/**
 * A process that tries to take the lock, prints "ok" or the error code, and holds what it got until
 * killed. It drops the release function and collects garbage first: a lock must outlive its handle.
 */
function locker(dir: string): { child: ChildProcess; said: Promise<string> } {
  const code = `import { acquireServerLock } from ${JSON.stringify(LOCK_MODULE)};
try { acquireServerLock(${JSON.stringify(dir)}); globalThis.gc(); console.log('ok'); } catch (e) { console.log(e.code ?? String(e)); }
setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const said = new Promise<string>((resolve) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
  });
  return { child, said };
}

function isZombieOrGone(pid: number): boolean {
  if (process.platform !== 'linux') return true;
  try {
    // /proc/<pid>/stat: "pid (comm) STATE …"
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

test('in one process: the second taker is refused with E_LOCKED naming the pid, and gets it after release', () => {
  const dir = tempDataDir();
  try {
    const release = acquireServerLock(dir);
    assert.equal(lockHolder(dir), process.pid);
    assert.throws(() => acquireServerLock(dir), (e: unknown) => e instanceof StoreError && e.code === 'E_LOCKED' && e.message.includes(`pid ${process.pid}`));
    release();
    assert.equal(lockHolder(dir), null);
    assert.equal(existsSync(join(dir, 'server.pid')), false);
    acquireServerLock(dir)();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('four starts at once: exactly one gets the lock', async () => {
  const dir = tempDataDir();
  const lockers = [0, 1, 2, 3].map(() => locker(dir));
  try {
    const said = await Promise.all(lockers.map((l) => l.said));
    assert.deepEqual(said.slice().sort(), ['E_LOCKED', 'E_LOCKED', 'E_LOCKED', 'ok']);
    const winner = lockers[said.indexOf('ok')]!.child.pid;
    assert.equal(lockHolder(dir), winner);
  } finally {
    for (const l of lockers) l.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('right after a crash the lock is free, even before the dead pid is reaped', async () => {
  const dir = tempDataDir();
  const l = locker(dir);
  try {
    assert.equal(await l.said, 'ok');
    assert.throws(() => acquireServerLock(dir), /already using/);
    const pid = l.child.pid!;
    l.child.kill('SIGKILL');
    // Synchronously, so this process cannot reap the child in between: it stays a zombie whose pid
    // answers kill(pid, 0), which the old pid-file lock took for a live server.
    const until = Date.now() + 5000;
    while (!isZombieOrGone(pid) && Date.now() < until) {
      // busy wait for the kernel to finish the kill
    }
    assert.ok(isZombieOrGone(pid), 'the child died');
    const release = acquireServerLock(dir);
    assert.equal(readFileSync(join(dir, 'server.pid'), 'utf8'), String(process.pid));
    release();
  } finally {
    l.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a stale server.pid naming a live unrelated process does not block a start', () => {
  const dir = tempDataDir();
  try {
    // pid 1 is alive on every machine: a pid file is not the lock.
    writeFileSync(join(dir, 'server.pid'), '1');
    assert.equal(lockHolder(dir), null);
    const release = acquireServerLock(dir);
    assert.equal(lockHolder(dir), process.pid);
    release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
