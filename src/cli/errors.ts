/** A mistake in how a command was called; printed with a hint, exit code 2. */
export class UsageError extends Error {
  readonly code = 'E_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type FailureCode = 'E_PORT_IN_USE' | 'E_PORT_DENIED' | 'E_DB_CORRUPT' | 'E_DB_UNREADABLE' | 'E_DISK_FULL';

/** Something the machine refused (a port, a file): printed as what happened and what to do, exit code 1. */
export class CliFailure extends Error {
  constructor(
    readonly code: FailureCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliFailure';
  }
}

const DB_CORRUPT = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_CORRUPT_VTAB', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_INDEX']);
const DB_UNREADABLE = new Set(['SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_PERM', 'SQLITE_IOERR', 'SQLITE_AUTH']);

export interface FailureContext {
  dataDir?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
}

/** The CliFailure a system or SQLite error stands for, or null for one we cannot explain (then the stack is the best help). */
export function explainFailure(err: unknown, ctx: FailureContext): CliFailure | null {
  if (err instanceof CliFailure) return err;
  const e = err as { code?: unknown; syscall?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const db = ctx.dataDir !== undefined ? `${ctx.dataDir}/spendcap.db` : 'the spendcap database';
  if (e?.syscall === 'listen' && code === 'EADDRINUSE') {
    return new CliFailure('E_PORT_IN_USE', `port ${ctx.port ?? '?'} on ${ctx.host ?? '127.0.0.1'} is already in use (another spendcap or another program): stop it, or start with --port N`);
  }
  if (e?.syscall === 'listen' && code === 'EACCES') {
    return new CliFailure('E_PORT_DENIED', `not allowed to listen on port ${ctx.port ?? '?'} (ports below 1024 need root): use --port 8787 or another above 1023`);
  }
  if (DB_CORRUPT.has(code) || code.startsWith('SQLITE_CORRUPT')) {
    return new CliFailure('E_DB_CORRUPT', `${db} is damaged or not a database (${code}: ${String(e?.message)}), e.g. truncated by a full disk or a partial copy. Restore it from a backup, or move it (and spendcap.db-wal, spendcap.db-shm) aside to start with an empty one: keys and budgets are in it, so they will need to be added again`);
  }
  if (DB_UNREADABLE.has(code) || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY')) {
    return new CliFailure('E_DB_UNREADABLE', `cannot read or write ${db} (${code}: ${String(e?.message)}): check that it and its folder belong to you and are writable`);
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') {
    return new CliFailure('E_DISK_FULL', `the disk holding ${ctx.dataDir ?? 'the data dir'} is full: free some space and start again`);
  }
  return null;
}
