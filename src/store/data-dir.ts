import { chmodSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** --data-dir, then SPENDCAP_HOME, then ~/.spendcap. */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.SPENDCAP_HOME) return resolve(env.SPENDCAP_HOME);
  return join(homedir(), '.spendcap');
}

export type Warn = (line: string) => void;
export const warnOnStderr: Warn = (line) => process.stderr.write(`spendcap: warning: ${line}\n`);

/**
 * Owner-only mode for a file or folder that holds secrets: tightened (with a warning) when it was
 * made or loosened by someone else, a restored backup or an older spendcap. Windows has no such modes.
 */
export function tightenMode(path: string, mode: number, warn: Warn): void {
  if (process.platform === 'win32') return;
  const was = statSync(path).mode & 0o777;
  if ((was & ~mode) === 0) return;
  chmodSync(path, mode);
  warn(`${path} was readable by others (mode ${was.toString(8).padStart(4, '0')}); set it to ${mode.toString(8).padStart(4, '0')}`);
}

/** The data dir holds secrets: owner-only from the start, and tightened when it already exists looser. */
export function ensureDataDir(dir: string, warn: Warn = warnOnStderr): string {
  let created: string | undefined;
  try {
    created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  if (created !== undefined) chmodSync(dir, 0o700);
  else tightenMode(dir, 0o700, warn);
  return dir;
}
