import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** --data-dir, then SPENDCAP_HOME, then ~/.spendcap. */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.SPENDCAP_HOME) return resolve(env.SPENDCAP_HOME);
  return join(homedir(), '.spendcap');
}

/** The data dir holds secrets: owner-only from the start. */
export function ensureDataDir(dir: string): string {
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
  return dir;
}
