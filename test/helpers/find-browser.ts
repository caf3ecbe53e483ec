// Which Chromium-family browser the browser tests drive, and how a machine without one gets one
// without a download from outside the package registries: the browser the machine has (Chrome,
// Chromium, Edge at the places their installers use, or one Playwright already downloaded), else
// Debian's chromium package when running as root, else a message that says what to install.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { chromium } from 'playwright-core';

export interface BrowserEnv {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  home: string;
  isRoot: boolean;
  /** True when the file exists and may be executed. */
  executable(path: string): boolean;
  /** Runs a command with inherited output; its exit code. */
  run(cmd: string, args: string[]): number;
  /** Where playwright-core keeps a browser it downloaded, if one was (a dev's `npx playwright install`). */
  playwrightChromium(): string | null;
}

export class BrowserNotFoundError extends Error {
  readonly code = 'E_NO_BROWSER';
}

/** Names the browsers install on PATH (Linux package managers, Homebrew, snap). */
const PATH_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'google-chrome-beta', 'microsoft-edge', 'microsoft-edge-stable'];

/** Fixed install places per platform, the ones playwright-core's channels ('chrome', 'msedge', …) look at. */
function fixedPaths(platform: NodeJS.Platform, env: NodeJS.ProcessEnv, home: string): string[] {
  if (platform === 'darwin') {
    const apps = ['Google Chrome.app/Contents/MacOS/Google Chrome', 'Chromium.app/Contents/MacOS/Chromium', 'Microsoft Edge.app/Contents/MacOS/Microsoft Edge', 'Google Chrome Beta.app/Contents/MacOS/Google Chrome Beta', 'Google Chrome Canary.app/Contents/MacOS/Google Chrome Canary'];
    return [...apps.map((a) => `/Applications/${a}`), ...apps.map((a) => join(home, 'Applications', a))];
  }
  if (platform === 'win32') {
    const roots = [env.LOCALAPPDATA, env.PROGRAMFILES, env['PROGRAMFILES(X86)']].filter((r): r is string => !!r);
    return roots.flatMap((r) => [join(r, 'Google', 'Chrome', 'Application', 'chrome.exe'), join(r, 'Microsoft', 'Edge', 'Application', 'msedge.exe'), join(r, 'Chromium', 'Application', 'chrome.exe')]);
  }
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/snap/bin/chromium', '/opt/google/chrome/chrome', '/opt/google/chrome-beta/chrome', '/opt/microsoft/msedge/msedge'];
}

/** Every place to look, in order: the override, PATH, fixed install places, Playwright's own download. */
export function browserCandidates(b: BrowserEnv): string[] {
  const out: string[] = [];
  const override = b.env.SPENDCAP_CHROMIUM;
  if (override) return [override];
  const dirs = (b.env.PATH ?? '').split(b.platform === 'win32' ? ';' : delimiter).filter(Boolean);
  for (const d of dirs) for (const n of PATH_NAMES) out.push(join(d, b.platform === 'win32' ? `${n}.exe` : n));
  out.push(...fixedPaths(b.platform, b.env, b.home));
  const pw = b.playwrightChromium();
  if (pw) out.push(pw);
  return [...new Set(out)];
}

/** The first browser found, or null. SPENDCAP_CHROMIUM, when set, must be usable. */
export function findBrowser(b: BrowserEnv): string | null {
  const candidates = browserCandidates(b);
  if (b.env.SPENDCAP_CHROMIUM && !b.executable(b.env.SPENDCAP_CHROMIUM)) {
    throw new BrowserNotFoundError(`SPENDCAP_CHROMIUM=${b.env.SPENDCAP_CHROMIUM} is not an executable browser; fix the path or unset it`);
  }
  return candidates.find((p) => b.executable(p)) ?? null;
}

function howToInstall(platform: NodeJS.Platform): string {
  if (platform === 'darwin') return 'install Google Chrome, or `brew install --cask chromium`';
  if (platform === 'win32') return 'install Google Chrome or Microsoft Edge';
  return 'install Chromium or Chrome with your package manager (Debian/Ubuntu: `sudo apt-get install chromium`; Fedora: `sudo dnf install chromium`)';
}

/**
 * The browser to use, installing Debian's chromium first when there is none and this is root on a
 * machine with apt-get (a fresh CI or container). Throws BrowserNotFoundError saying what to do otherwise.
 */
export function ensureBrowser(b: BrowserEnv, log: (line: string) => void = () => {}): string {
  const found = findBrowser(b);
  if (found) return found;
  const apt = b.platform === 'linux' && b.executable('/usr/bin/apt-get');
  if (apt && b.isRoot) {
    log('spendcap tests: no Chrome/Chromium/Edge found; installing Debian\'s chromium (apt-get install chromium)');
    if (b.run('apt-get', ['update']) !== 0 || b.run('apt-get', ['install', '-y', '--no-install-recommends', 'chromium']) !== 0) {
      throw new BrowserNotFoundError('spendcap tests: `apt-get install chromium` failed; install a Chromium-family browser by hand or set SPENDCAP_CHROMIUM to one');
    }
    const installed = findBrowser(b);
    if (installed) return installed;
  }
  throw new BrowserNotFoundError(
    `spendcap tests need a Chromium-family browser for the dashboard tests and found none: ${howToInstall(b.platform)}` +
      `${apt && !b.isRoot ? ' (as root, npm test installs Debian\'s chromium by itself)' : ''}, or set SPENDCAP_CHROMIUM=/path/to/chrome`,
  );
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function playwrightChromium(): string | null {
  try {
    return chromium.executablePath();
  } catch {
    return null;
  }
}

/** This machine. */
export function machineBrowserEnv(): BrowserEnv {
  return {
    platform: process.platform,
    env: process.env,
    home: process.env.HOME ?? process.env.USERPROFILE ?? '',
    isRoot: process.getuid?.() === 0,
    executable: isExecutable,
    run: (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status ?? 1,
    playwrightChromium,
  };
}
