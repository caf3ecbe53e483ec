// Runs the packaged extension (spendcap.vsix) in a real VS Code: code-server (VS Code's server build,
// from the npm registry) in headless Chromium, against a real spendcap with some spend, and checks
// the status bar; saves screenshot-vscode.png. Not part of npm test: code-server is not a dependency.
// Run: CODE_SERVER=/path/to/node_modules/code-server npm run build && node dist/scripts/code-server.js
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addKey, freePort, removeDir, startMock, startServer, stopChild, tempDir, TURN_OUTPUT, turn, waitFor } from '../test/helpers/spendcap';

interface Locator {
  textContent(): Promise<string | null>;
  count(): Promise<number>;
  click(): Promise<void>;
}
interface Page {
  goto(url: string): Promise<unknown>;
  locator(sel: string): Locator;
  screenshot(o: { path: string }): Promise<void>;
  waitForTimeout(ms: number): Promise<void>;
}
interface Browser {
  newPage(o: { viewport: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}

const HERE = join(__dirname, '../..');

async function main(): Promise<void> {
  const cs = process.env.CODE_SERVER ?? '/tmp/cs/node_modules/code-server';
  const entry = join(cs, 'out/node/entry.js');
  const mock = await startMock({ outputTokens: TURN_OUTPUT, tokenIntervalMs: 0 });
  const dir = tempDir();
  const vs = tempDir();
  const server = await startServer(dir, mock.url);
  const port = await freePort();
  const exts = join(vs, 'extensions');
  const user = join(vs, 'user');
  mkdirSync(join(user, 'User'), { recursive: true });
  mkdirSync(join(vs, 'ws'));
  writeFileSync(join(user, 'User/settings.json'), JSON.stringify({ 'spendcap.url': server.url, 'spendcap.dataDir': dir, 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false, 'workbench.colorTheme': 'Default Dark Modern' }));
  execFileSync(process.execPath, [entry, '--extensions-dir', exts, '--user-data-dir', user, '--install-extension', join(HERE, 'spendcap.vsix')], { stdio: 'inherit' });
  const code = spawn(process.execPath, [entry, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry', '--disable-update-check', '--extensions-dir', exts, '--user-data-dir', user, join(vs, 'ws')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  code.stdout.on('data', (d: Buffer) => (log += d.toString()));
  code.stderr.on('data', (d: Buffer) => (log += d.toString()));
  try {
    const work = await addKey(dir, 'work', 1);
    for (let i = 0; i < 8; i++) await turn(server.url, work);
    await waitFor('code-server to listen', () => log.includes('HTTP server listening'), 30_000);
    const pw = (await import('playwright-core')) as unknown as { chromium: { launch(o: { executablePath: string; args: string[] }): Promise<Browser> } };
    const browser = await pw.chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
      await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(join(vs, 'ws'))}`);
      const item = page.locator('[id$="spendcap.status"]');
      const text = async () => ((await item.count()) > 0 ? ((await item.textContent()) ?? '') : '');
      await waitFor('the spendcap status bar item', async () => /\$\d+\.\d\d \/ \$1/.test(await text()), 90_000);
      console.log(`status bar in VS Code: "${(await text()).trim()}"`);
      const before = await text();
      await turn(server.url, work);
      await waitFor('a live update in VS Code', async () => (await text()) !== before, 10_000);
      console.log(`after one more request: "${(await text()).trim()}"`);
      await item.click();
      await page.waitForTimeout(1500);
      await page.screenshot({ path: join(HERE, 'screenshot-vscode.png') });
      console.log('wrote screenshot-vscode.png');
    } finally {
      await browser.close();
    }
  } catch (err) {
    console.error(log.slice(-3000));
    throw err;
  } finally {
    await stopChild(code);
    await server.stop();
    await mock.close();
    removeDir(dir);
    removeDir(vs);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
