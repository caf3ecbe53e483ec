import { Worker } from 'node:worker_threads';

/**
 * SQLite in WAL mode checkpoints inside whichever commit crosses 1000 WAL pages, and a checkpoint
 * fsyncs: every hundred or so requests one of them stalled the event loop for 4–16 ms (the bench's
 * p99). The serving connection raises its automatic checkpoint to MAX_WAL_BYTES and this worker
 * thread checkpoints on its own connection instead, every 250 ms. Durability is unchanged: a commit is in the WAL before it returns.
 */
/** Past this, the serving connection checkpoints itself (once): traffic that never pauses keeps the WAL from starting over. */
export const MAX_WAL_BYTES = 64 * 1024 * 1024;

export class Checkpointer {
  readonly #worker: Worker;
  #stopped: Promise<void> | null = null;

  /** @param onFailure called if the worker dies: the caller turns SQLite's own checkpoints back on. */
  constructor(file: string, onFailure: () => void, opts: { intervalMs?: number } = {}) {
    const workerData = { file, intervalMs: opts.intervalMs ?? 250 };
    this.#worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData });
    // A worker that cannot run must not take the server down, nor let the WAL grow without end.
    this.#worker.on('error', onFailure);
    this.#worker.unref();
  }

  /** Stops after one last checkpoint; resolves when the worker's connection is closed. */
  stop(): Promise<void> {
    this.#stopped ??= new Promise<void>((resolve) => {
      // Unreferenced so it never holds the process open; while stopping, it must finish its last checkpoint.
      this.#worker.ref();
      this.#worker.once('exit', () => resolve());
      this.#worker.postMessage('stop');
    });
    return this.#stopped;
  }
}
