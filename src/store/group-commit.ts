// Group commit: writes queued during one event-loop turn are flushed in ONE transaction on the
// next (setImmediate). Each write runs in its own savepoint, so one that fails (a duplicate name)
// fails alone and the rest of the batch still commits. A write's Promise resolves after the
// commit that carries it: from then on a kill -9 cannot lose it (WAL, synchronous=NORMAL).
import type Database from 'better-sqlite3';

interface Pending {
  run: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  readonly #db: Database.Database;
  /**
   * The batch's transaction and each write's savepoint, as statements prepared once: a
   * `db.transaction(op.run)` per write built four wrapper functions every time (~15 µs a request, profiled).
   */
  readonly #sql: Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', Database.Statement>;
  #queue: Pending[] = [];
  #scheduled: NodeJS.Immediate | null = null;
  /** Transactions committed and writes they carried, since open: the ratio is what batching bought. */
  commits = 0;
  writes = 0;

  constructor(db: Database.Database) {
    this.#db = db;
    const p = (sql: string): Database.Statement => db.prepare(sql);
    this.#sql = {
      // IMMEDIATE: a write that reads first (does the name exist?) would fail with SQLITE_BUSY at once,
      // busy_timeout or not, if another process (a CLI command, the server) committed between its read and its write.
      begin: p('BEGIN IMMEDIATE'),
      commit: p('COMMIT'),
      rollback: p('ROLLBACK'),
      savepoint: p('SAVEPOINT group_write'),
      release: p('RELEASE group_write'),
      rollbackTo: p('ROLLBACK TO group_write'),
    };
  }

  get pending(): number {
    return this.#queue.length;
  }

  /**
   * `soon`: commit at the end of this macrotask (a microtask), not the next turn. Settles use it: an
   * SSE client may take the final event as the end before the connection closes, so the row must be
   * on disk before anything else runs. It still carries every write queued so far.
   */
  enqueue<T>(run: () => T, opts: { soon?: boolean } = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run, resolve: resolve as (v: unknown) => void, reject });
      if (opts.soon === true && !this.#soonScheduled) {
        this.#soonScheduled = true;
        queueMicrotask(() => {
          this.#soonScheduled = false;
          this.flushNow();
        });
      }
      this.#scheduled ??= setImmediate(() => this.flushNow());
    });
  }

  #soonScheduled = false;

  /** One write in its own savepoint, rolled back alone when it throws. */
  #runOne(op: Pending): { ok: true; value: unknown } | { ok: false; error: unknown } {
    const sql = this.#sql;
    sql.savepoint.run();
    try {
      const value = op.run();
      sql.release.run();
      return { ok: true, value };
    } catch (error) {
      // A few errors (disk full, I/O) roll the whole transaction back by themselves: then the batch fails.
      if (!this.#db.inTransaction) throw error;
      sql.rollbackTo.run();
      sql.release.run();
      return { ok: false, error };
    }
  }

  /**
   * A batch of one (one request at a time: every hold and every settle): its own transaction, no
   * savepoint. Rolling the transaction back when the write throws is what the savepoint would have
   * done, with two statements fewer per commit.
   */
  #flushOne(op: Pending): void {
    const sql = this.#sql;
    let value: unknown;
    try {
      sql.begin.run();
      value = op.run();
      sql.commit.run();
    } catch (error) {
      if (this.#db.inTransaction) sql.rollback.run();
      op.reject(error);
      return;
    }
    this.commits++;
    this.writes++;
    op.resolve(value);
  }

  /** Commits everything queued, now (close, tests). */
  flushNow(): void {
    if (this.#scheduled !== null) clearImmediate(this.#scheduled);
    this.#scheduled = null;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    if (batch.length === 1) return this.#flushOne(batch[0]!);
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const sql = this.#sql;
    try {
      sql.begin.run();
      for (const op of batch) outcomes.push(this.#runOne(op));
      sql.commit.run();
    } catch (error) {
      // The commit itself failed (disk full, I/O): nothing in the batch is durable.
      if (this.#db.inTransaction) sql.rollback.run();
      for (const op of batch) op.reject(error);
      return;
    }
    this.commits++;
    this.writes += batch.length;
    batch.forEach((op, i) => {
      const o = outcomes[i]!;
      if (o.ok) op.resolve(o.value);
      else op.reject(o.error);
    });
  }
}
