// Where spendcap is and how to sign in to it: the settings first, then what the CLI itself uses
// ($SPENDCAP_HOME, else ~/.spendcap; the admin token in <data-dir>/admin-token), then a token the
// user typed (kept in VS Code's SecretStorage). The token is never logged or shown.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const DEFAULT_URL = 'http://127.0.0.1:8787';
export const SECRET_KEY = 'spendcap.adminToken';

export interface ExtensionSettings {
  url: string;
  dataDir: string;
  command: string;
  budget: string;
  notifications: boolean;
}

export interface Place {
  url: string;
  dataDir: string;
}

/** The URL and data dir to use, from the settings (empty means "the default"). */
export function resolvePlace(s: Pick<ExtensionSettings, 'url' | 'dataDir'>, env: NodeJS.ProcessEnv = process.env, home: string = homedir()): Place {
  const url = (s.url.trim() || DEFAULT_URL).replace(/\/+$/, '');
  const dir = s.dataDir.trim();
  const expanded = dir.startsWith('~') ? join(home, dir.slice(1)) : dir;
  const dataDir = expanded ? resolve(expanded) : env.SPENDCAP_HOME ? resolve(env.SPENDCAP_HOME) : join(home, '.spendcap');
  return { url, dataDir };
}

export type TokenSource = 'data-dir' | 'secret-storage';

/**
 * The admin tokens to try, best first: the data dir's file (what the server checks), then the one the
 * user typed (a remote spendcap, another user's data dir). Duplicates are dropped.
 */
export async function findTokens(dataDir: string, stored: () => Promise<string | undefined>): Promise<Array<{ token: string; source: TokenSource }>> {
  const out: Array<{ token: string; source: TokenSource }> = [];
  try {
    const t = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
    if (t !== '') out.push({ token: t, source: 'data-dir' });
  } catch {
    // no file yet (spendcap never started here) or not ours: the typed token may do
  }
  const s = (await stored())?.trim();
  if (s && !out.some((x) => x.token === s)) out.push({ token: s, source: 'secret-storage' });
  return out;
}

/** The CLI command line from the setting: words split on spaces ("node /path/bin/spendcap.js"). */
export function commandWords(command: string): string[] {
  const words = command.trim().split(/\s+/).filter((w) => w !== '');
  return words.length > 0 ? words : ['spendcap'];
}

/** A shell-quoted word for a terminal line (POSIX shells; PowerShell accepts the same single quotes). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** What "start it in a terminal" types: `spendcap start --no-open [--data-dir DIR] [--port N]`. */
export function startCommandLine(command: string, place: Place, defaultDataDir: string): string {
  // --no-open: the editor has its own "Open the dashboard"; a browser tab at every start would be noise.
  const words = commandWords(command).concat(['start', '--no-open']);
  if (place.dataDir !== defaultDataDir) words.push('--data-dir', place.dataDir);
  const port = /:(\d+)$/.exec(place.url)?.[1];
  if (port !== undefined && port !== '8787') words.push('--port', port);
  return words.map(shellQuote).join(' ');
}

export type ShellKind = 'posix' | 'fish' | 'powershell' | 'cmd';

/** The syntax family of a terminal's shell, from its path (VS Code's env.shell; "" when unknown). */
export function shellKind(shellPath: string, platform: NodeJS.Platform = process.platform): ShellKind {
  const name = (shellPath.split(/[\\/]/).pop() ?? '').toLowerCase().replace(/\.exe$/, '');
  if (name === 'pwsh' || name === 'powershell') return 'powershell';
  if (name === 'cmd') return 'cmd';
  if (name === 'fish') return 'fish';
  if (name === '') return platform === 'win32' ? 'powershell' : 'posix';
  return 'posix';
}

/**
 * Lines to paste in a terminal so agents go through spendcap, in that terminal's syntax. The
 * spendcap key (sc-…) is shown once when it is made and spendcap keeps only its hash, so it is left
 * for the user to fill in.
 */
export function envLines(url: string, shell: ShellKind = 'posix'): string {
  const vars: Array<[string, string]> = [
    ['ANTHROPIC_BASE_URL', url],
    ['OPENAI_BASE_URL', `${url}/v1`],
    ['GOOGLE_GEMINI_BASE_URL', url],
  ];
  const line: Record<ShellKind, (k: string, v: string) => string> = {
    posix: (k, v) => `export ${k}=${v}`,
    fish: (k, v) => `set -gx ${k} ${v}`,
    powershell: (k, v) => `$env:${k} = "${v}"`,
    cmd: (k, v) => `set ${k}=${v}`,
  };
  const comment = shell === 'cmd' ? 'rem' : '#';
  return `${vars.map(([k, v]) => line[shell](k, v)).join('\n')}\n${comment} and your spendcap key: ${line[shell]('ANTHROPIC_API_KEY', 'sc-...')} (or OPENAI_API_KEY / GEMINI_API_KEY)\n`;
}
