import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const INSTANCE_ID_FILE = 'instance-id';

/**
 * This instance's id in team mode, kept in `<dataDir>/instance-id` so that a restart is the same
 * instance (it settles its own holds, never another's). Made on first use: host name plus 8 random
 * hex digits, so two instances on one host (two data dirs) differ.
 */
export function instanceIdFor(dataDir: string): string {
  const file = join(dataDir, INSTANCE_ID_FILE);
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[\w.-]{1,100}$/.test(id)) return id;
  } catch {
    // first start: made below
  }
  const host = hostname().replace(/[^\w.-]/g, '-').slice(0, 60) || 'host';
  const id = `${host}-${randomBytes(4).toString('hex')}`;
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}
