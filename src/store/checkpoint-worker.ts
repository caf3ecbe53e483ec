// Runs in a worker thread: copies the WAL back into the database file on its own connection, so the
// fsync a checkpoint needs never stalls the event loop that serves requests (see checkpointer.ts).
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { file, intervalMs } = workerData as { file: string; intervalMs: number };
const db = new Database(file);

const checkpoint = (): void => {
  try {
    // PASSIVE never waits for nor blocks the serving connection. The WAL starts over when a commit
    // finds it wholly copied; under traffic that never pauses, the serving connection's own
    // checkpoint at MAX_WAL_BYTES does it, with little left to copy.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // A busy or locked database is retried at the next tick.
  }
};
const timer = setInterval(checkpoint, intervalMs);

parentPort?.on('message', (msg: unknown) => {
  if (msg !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort?.close();
});
