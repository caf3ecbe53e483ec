// Run by `npm test` before the tests: finds the browser the dashboard tests drive, or installs
// Debian's chromium when root, or stops with a message that says what to install.
import { BrowserNotFoundError, ensureBrowser, machineBrowserEnv } from './find-browser.js';

try {
  const path = ensureBrowser(machineBrowserEnv(), (l) => console.log(l));
  console.log(`spendcap tests: browser ${path}`);
} catch (err) {
  if (!(err instanceof BrowserNotFoundError)) throw err;
  console.error(err.message);
  process.exit(1);
}
