import { spawn } from 'node:child_process';
import { browserBase, LINK_TTL_MS, newLink, runningServerUrl, signInUrl } from '../../dashboard/sessions.js';
import type { Store } from '../../store/index.js';
import { parse } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';

const DEFAULT_BASE = 'http://127.0.0.1:8787';

/**
 * Opens a URL in the desktop's browser, detached, without waiting: no browser (a server, CI) or a
 * failing opener must never hold up or fail the command, so every error is ignored.
 */
export function openBrowser(url: string, platform: NodeJS.Platform = process.platform): void {
  const [cmd, args] = platform === 'darwin' ? ['open', [url]] : platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  try {
    const child = spawn(cmd, args, { detached: true, stdio: 'ignore', windowsHide: true });
    child.on('error', () => {});
    child.unref();
  } catch {
    // nothing to do: the link is printed too
  }
}

/** A fresh one-time sign-in link for a server at `base`. */
export async function makeSignInLink(store: Store, base: string): Promise<{ url: string; expiresAt: number }> {
  const { token, expiresAt } = await newLink(store);
  return { url: signInUrl(browserBase(base), token), expiresAt };
}

export async function dashboard(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { 'no-open': { type: 'boolean' } }, false);
  const { store, dataDir } = openStore(values['data-dir'], io);
  try {
    const running = await runningServerUrl(dataDir, store);
    const { url, expiresAt } = await makeSignInLink(store, running ?? DEFAULT_BASE);
    if (values.json) {
      io.out(JSON.stringify({ url, expiresAt: new Date(expiresAt).toISOString(), running: running !== null }) + '\n');
    } else {
      io.out(`Sign in to the spendcap dashboard with this link (it works once, for ${LINK_TTL_MS / 60_000} minutes):\n\n  ${url}\n\n`);
      if (running === null) io.out(`spendcap is not running on ${dataDir}: start it (spendcap start) and then open the link. The link assumes the default port 8787.\n`);
    }
    if (values['no-open'] !== true && running !== null) openBrowser(url);
    return 0;
  } finally {
    await store.close();
  }
}
