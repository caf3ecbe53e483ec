// A headless Chromium-family browser driven by playwright-core (no browser download): the one the
// machine has, found by find-browser.ts (`npm test` installs Debian's chromium first when root and
// there is none; SPENDCAP_CHROMIUM overrides). signedInPage() signs a fresh browser context in the way a user does: the link
// `spendcap dashboard --no-open --json` prints.
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureBrowser, machineBrowserEnv } from './find-browser.js';
import { cli } from './spendcap.js';

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: ensureBrowser(machineBrowserEnv(), (l) => console.log(l)),
    headless: true,
    // Root (CI containers) cannot use chromium's sandbox; /dev/shm is often tiny in containers; the
    // machine's network may be closed, so no background calls home.
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

/** A one-time sign-in URL from the real CLI command. */
export async function signInLink(dataDir: string): Promise<{ url: string; expiresAt: string; running: boolean }> {
  const r = await cli(dataDir, ['dashboard', '--no-open', '--json']);
  if (r.code !== 0) throw new Error(`spendcap dashboard failed: ${r.err}`);
  return JSON.parse(r.out) as { url: string; expiresAt: string; running: boolean };
}

/** True once the page is not the sign-in page (the server serves it to browsers without a session). */
export async function waitSignedIn(page: Page, timeout = 20_000): Promise<void> {
  // A string: the test build has no DOM types, and this runs in the page.
  await page.waitForFunction(`document.readyState !== 'loading' && document.querySelector('meta[name="spendcap-page"][content="sign-in"]') === null`, undefined, { timeout, polling: 100 });
}

/** A new browser context signed in to the spendcap whose data dir is `dataDir`. */
export async function signedInPage(browser: Browser, dataDir: string): Promise<{ context: BrowserContext; page: Page; url: string }> {
  const { url } = await signInLink(dataDir);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  await waitSignedIn(page);
  return { context, page, url };
}
