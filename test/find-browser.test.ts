// The browser tests must run on a fresh machine from `npm test` alone: find what the machine has,
// install Debian's chromium when root and there is none, and say what to do otherwise.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrowserNotFoundError, ensureBrowser, findBrowser } from './helpers/find-browser.js';
import type { BrowserEnv } from './helpers/find-browser.js';

function fakeMachine(over: Partial<BrowserEnv> & { files?: string[] }): BrowserEnv & { ran: string[] } {
  const files = new Set(over.files ?? []);
  const ran: string[] = [];
  return {
    platform: 'linux',
    env: { PATH: '/usr/local/bin:/usr/bin' },
    home: '/home/dev',
    isRoot: false,
    executable: (p) => files.has(p),
    run: (cmd, args) => {
      ran.push([cmd, ...args].join(' '));
      if (args[0] === 'install') files.add('/usr/bin/chromium');
      return 0;
    },
    playwrightChromium: () => null,
    ...over,
    ran,
  };
}

test('a Mac with Google Chrome in /Applications uses it', () => {
  const chrome = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
  assert.equal(findBrowser(fakeMachine({ platform: 'darwin', env: { PATH: '/usr/bin' }, files: [chrome] })), chrome);
});

test('a Linux laptop with google-chrome on PATH or Edge in /opt uses it', () => {
  assert.equal(findBrowser(fakeMachine({ files: ['/usr/bin/google-chrome'] })), '/usr/bin/google-chrome');
  assert.equal(findBrowser(fakeMachine({ env: { PATH: '' }, files: ['/opt/microsoft/msedge/msedge'] })), '/opt/microsoft/msedge/msedge');
});

test('a browser Playwright downloaded earlier is used when nothing else is there', () => {
  const pw = '/home/dev/.cache/ms-playwright/chromium-1200/chrome-linux/chrome';
  assert.equal(findBrowser(fakeMachine({ files: [pw], playwrightChromium: () => pw })), pw);
});

test('a fresh Debian machine as root gets Debian\'s chromium through apt-get', () => {
  const m = fakeMachine({ isRoot: true, files: ['/usr/bin/apt-get'] });
  assert.equal(ensureBrowser(m), '/usr/bin/chromium');
  assert.deepEqual(m.ran, ['apt-get update', 'apt-get install -y --no-install-recommends chromium']);
});

test('without a browser and without root, the message says what to install and installs nothing', () => {
  const m = fakeMachine({ files: ['/usr/bin/apt-get'] });
  assert.throws(() => ensureBrowser(m), (err: unknown) => err instanceof BrowserNotFoundError && err.code === 'E_NO_BROWSER' && /apt-get install chromium/.test(err.message) && /SPENDCAP_CHROMIUM/.test(err.message));
  assert.deepEqual(m.ran, []);
  assert.throws(() => ensureBrowser(fakeMachine({ platform: 'darwin' })), /brew install --cask chromium/);
});

test('SPENDCAP_CHROMIUM wins, and a wrong one is named', () => {
  assert.equal(findBrowser(fakeMachine({ env: { SPENDCAP_CHROMIUM: '/x/chrome', PATH: '/usr/bin' }, files: ['/x/chrome', '/usr/bin/chromium'] })), '/x/chrome');
  assert.throws(() => findBrowser(fakeMachine({ env: { SPENDCAP_CHROMIUM: '/nope' }, files: ['/usr/bin/chromium'] })), /SPENDCAP_CHROMIUM=\/nope/);
});
