// Renders the report panel (and the status bar item's states) from a real spendcap with some spend
// on it, in headless Chromium, for the README. Run: npm run screenshot (needs the root built, playwright-core
// from the root's node_modules, and a Chromium: CHROMIUM=/usr/bin/chromium by default).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdminClient } from '../src/api';
import { Controller } from '../src/controller';
import type { StatusView } from '../src/host';
import { buildReport } from '../src/report';
import { reportHtml } from '../src/view';
import { TestHost } from '../test/helpers/host';
import { addKey, COMMAND, removeDir, send, startMock, startServer, tempDir, TURN_OUTPUT, turn, waitFor } from '../test/helpers/spendcap';

interface Page {
  setContent(html: string): Promise<void>;
  screenshot(o: { path: string; fullPage?: boolean }): Promise<void>;
}
interface Browser {
  newPage(o: { viewport: { width: number; height: number }; deviceScaleFactor: number }): Promise<Page>;
  close(): Promise<void>;
}

const OUT = join(__dirname, '../..');

function statusBarHtml(items: StatusView[]): string {
  const bg: Record<string, string> = { warn: '#7a6400', reached: '#c72e0f', killed: '#c72e0f' };
  const icon: Record<string, string> = { ok: '◉', warn: '⚠', reached: '⛔', killed: '⊘', off: '⌁' };
  const cells = items.map((v) => `<span style="background:${bg[v.state] ?? 'transparent'};padding:0 8px;margin-left:4px">${icon[v.state] ?? ''} ${v.text}</span>`).join('');
  return `<!doctype html><body style="margin:0;background:#1e1e1e;font:12px system-ui,sans-serif"><div style="position:fixed;bottom:0;left:0;right:0;height:22px;line-height:22px;background:#007acc;color:#fff;display:flex;justify-content:flex-end;padding-right:8px">${cells}</div></body>`;
}

async function main(): Promise<void> {
  // Plausible usage (input counted from the prompt, output as written): about $0.09 a turn.
  const mock = await startMock({ outputTokens: TURN_OUTPUT, tokenIntervalMs: 0 });
  const dir = tempDir();
  const server = await startServer(dir, mock.url);
  try {
    const work = await addKey(dir, 'work', 3, ['--ceiling', '10']);
    const ci = await addKey(dir, 'ci', 1);
    const night = await addKey(dir, 'night', 0.5);
    for (let i = 0; i < 8; i++) await turn(server.url, work);
    for (let i = 0; i < 3; i++) await turn(server.url, ci);
    for (let i = 0; i < 5; i++) await turn(server.url, night); // over 80 %: the warning colour
    const token = (await import('node:fs')).readFileSync(join(dir, 'admin-token'), 'utf8').trim();
    const api = new AdminClient({ url: server.url, token });
    // A cut: a long stream on "ci" killed half-way, then a blocked request.
    mock.options = { outputTokens: 3000, tokenIntervalMs: 5 };
    const streaming = send(server.url, ci, { stream: true, maxTokens: 4000 });
    await waitFor('the stream', () => mock.openStreams === 1);
    await api.kill('ci');
    await streaming;
    await send(server.url, ci);
    const html = reportHtml(await buildReport(api));
    writeFileSync(join(OUT, 'report-example.html'), html);

    // The status bar as the controller sets it for this spendcap, and its other states.
    const host = new TestHost({ url: server.url, dataDir: dir, command: COMMAND, budget: '', notifications: false });
    const c = new Controller(host);
    await c.start();
    await waitFor('live', () => host.status?.text.startsWith('$') === true);
    const views: StatusView[] = [host.status!];
    c.stop();
    for (const budget of ['work', 'night']) {
      const h = new TestHost({ url: server.url, dataDir: dir, command: COMMAND, budget, notifications: false });
      const cc = new Controller(h);
      await cc.start();
      await waitFor('live', () => h.status?.text.startsWith('$') === true);
      views.push(h.status!);
      cc.stop();
    }
    views.push({ text: 'spendcap: off', tooltip: '', state: 'off', command: '' });

    const pw = (await import('playwright-core')) as unknown as { chromium: { launch(o: { executablePath: string; args: string[] }): Promise<Browser> } };
    const browser = await pw.chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 980, height: 560 }, deviceScaleFactor: 1 });
      await page.setContent(html);
      await page.screenshot({ path: join(OUT, 'screenshot-report.png'), fullPage: true });
      const bar = await browser.newPage({ viewport: { width: 620, height: 22 }, deviceScaleFactor: 2 });
      await bar.setContent(statusBarHtml(views));
      await bar.screenshot({ path: join(OUT, 'screenshot-status-bar.png') });
    } finally {
      await browser.close();
    }
    console.log(`wrote ${join(OUT, 'screenshot-report.png')} and screenshot-status-bar.png`);
  } finally {
    await server.stop();
    await mock.close();
    removeDir(dir);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
