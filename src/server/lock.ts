import Database from 'better-sqlite3';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from '../store/index.js';

const PID_FILE = 'server.pid';
const LOCK_DB = 'server.lock';
/** How long a start waits for a lock held for an instant (a status probe), not for a running server. */
const ACQUIRE_WAIT_MS = 250;

/** Held locks stay referenced here: a lock whose handle the garbage collector closed would be a lock no more. */
const HELD = new Set<Database.Database>();

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}

function pidInFile(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, PID_FILE), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * One server per data dir: holds live in the server's memory, so two servers on one SQLite file
 * could each promise the same dollars. The lock is an exclusive SQLite (fcntl) lock the kernel drops
 * when the holder exits, however it exits: a crashed server's lock is free at once (even while its
 * pid is a zombie no one has reaped), and two starts at once cannot both take it. `server.pid` only
 * names the holder for messages and for `spendcap dashboard`.
 */
export function acquireServerLock(dataDir: string): () => void {
  const lockPath = join(dataDir, LOCK_DB);
  const db = new Database(lockPath, { timeout: ACQUIRE_WAIT_MS });
  try {
    db.exec('BEGIN EXCLUSIVE');
    if (process.platform !== 'win32') chmodSync(lockPath, 0o600);
  } catch (err) {
    db.close();
    if (!isBusy(err)) throw err;
    const pid = pidInFile(dataDir);
    throw new StoreError('E_LOCKED', `another spendcap server${pid !== null ? ` (pid ${pid})` : ''} is already using ${dataDir}; stop it first or use --data-dir`);
  }
  HELD.add(db);
  const pidPath = join(dataDir, PID_FILE);
  writeFileSync(pidPath, String(process.pid), { mode: 0o600 });
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    try {
      if (readFileSync(pidPath, 'utf8') === String(process.pid)) rmSync(pidPath);
    } catch {
      // already gone
    }
    HELD.delete(db);
    db.close();
  };
}

/** The pid of the server holding this data dir's lock, or null when none runs. */
export function lockHolder(dataDir: string): number | null {
  let db: Database.Database;
  try {
    db = new Database(join(dataDir, LOCK_DB), { fileMustExist: true, timeout: 0 });
  } catch {
    return null;
  }
  try {
    // A shared read: refused only while a server holds the exclusive lock.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return null;
  } catch (err) {
    if (!isBusy(err)) throw err;
    return pidInFile(dataDir) ?? -1;
  } finally {
    db.close();
  }
}
