import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync } from 'node:zlib';
import { SqliteStore } from '../store/index.js';
import { createDashboard } from './index.js';
import { exchangeLink, newLink, sessionCookiePair } from './sessions.js';

test('createDashboard: assets with types and cache rules, compressed; the shell only with a session; strict headers everywhere', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-dash-'));
  const web = join(dir, 'web');
  mkdirSync(join(web, 'assets'), { recursive: true });
  const js = 'export const x = 1;\n'.repeat(200);
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>app</title><script type="module" src="/dashboard/assets/app-LUPSX5FX.js"></script>');
  writeFileSync(join(web, 'assets', 'app-LUPSX5FX.js'), js);
  writeFileSync(join(web, 'assets', 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  const store = new SqliteStore(dir);
  let port = 0;
  const dash = createDashboard({ store, port: () => port, host: '127.0.0.1', webDir: web });
  const server = createServer((req, res) => {
    void dash.handle(req, res, (req.url ?? '/').split('?')[0]!).then((done) => {
      if (!done) res.writeHead(418).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  try {
    const asset = await fetch(`${base}/dashboard/assets/app-LUPSX5FX.js`, { headers: { 'accept-encoding': 'br' } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(asset.headers.get('content-encoding'), 'br');
    assert.match(asset.headers.get('vary') ?? '', /Accept-Encoding/);
    // fetch decodes br itself: the text is the file.
    assert.equal(await asset.text(), js);
    const raw = await new Promise<Buffer>((resolve, reject) => {
      import('node:http').then(({ get }) => get(`${base}/dashboard/assets/app-LUPSX5FX.js`, { headers: { 'accept-encoding': 'br' } }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks)));
      }).on('error', reject), reject);
    });
    assert.equal(brotliDecompressSync(raw).toString(), js);
    const svg = await fetch(`${base}/dashboard/assets/logo.svg`);
    assert.equal(svg.headers.get('content-type'), 'image/svg+xml');
    assert.equal(svg.headers.get('cache-control'), 'no-cache');
    for (const bad of ['/dashboard/assets/..%2F..%2Fspendcap.db', '/dashboard/assets/missing-AB12CD34.js', '/dashboard/index.html', '/dashboard/spendcap.db']) {
      assert.equal((await fetch(`${base}${bad}`)).status, 404, bad);
    }
    // fetch() cannot set Host: a raw request can, as a DNS-rebinding page's browser would.
    const rebound = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ get }) => get(`${base}/dashboard`, { headers: { host: `evil.example:${port}` } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      }).on('error', reject), reject);
    });
    assert.equal(rebound, 403);
    assert.equal((await fetch(`${base}/dashboard`, { method: 'POST' })).status, 405);

    const signIn = await fetch(`${base}/dashboard`);
    assert.match(await signIn.text(), /spendcap dashboard/);
    assert.equal(signIn.headers.get('x-frame-options'), 'DENY');
    assert.match(signIn.headers.get('vary') ?? '', /Cookie/);
    const script = await fetch(`${base}/dashboard/signin.js`);
    assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.match(await script.text(), /x-spendcap-csrf/);

    const session = (await exchangeLink(store, (await newLink(store)).token))!;
    const shell = await fetch(`${base}/dashboard/budgets/work`, { headers: { cookie: (await sessionCookiePair(store, port, session.sessionId)) } });
    assert.equal(shell.status, 200);
    assert.match(await shell.text(), /<title>app<\/title>/);
    assert.equal(shell.headers.get('cache-control'), 'no-cache');
    assert.match(shell.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(shell.headers.get('referrer-policy'), 'no-referrer');
    const who = await fetch(`${base}/dashboard/session`, { headers: { cookie: (await sessionCookiePair(store, port, session.sessionId)) } });
    assert.equal(((await who.json()) as { signedIn: boolean }).signedIn, true);
    assert.equal((await fetch(`${base}/dashboard/session`)).status, 401);
    assert.equal((await fetch(`${base}/other`)).status, 418, 'other paths are not the dashboard\'s');
  } finally {
    server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
