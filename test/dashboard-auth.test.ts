import { join } from 'node:path';
import Database from 'better-sqlite3';
// The dashboard's sign-in and the admin API through its cookie, in a real headless chromium against a
// real spendcap: a one-time link (printed by `spendcap dashboard`) becomes an HttpOnly SameSite=Strict
// session; it works once and expires; changes made with the cookie need the CSRF header and this
// server's origin, and are audited as "web"; POST /api/keys makes a key the Anthropic SDK can use.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import type { Browser, BrowserContext } from 'playwright-core';
import { newLink, signInUrl } from '../src/dashboard/index.js';
import { SqliteStore } from '../src/store/index.js';
import { launchBrowser, signedInPage, signInLink, waitSignedIn } from './helpers/browser.js';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic } from './helpers/mock-anthropic.js';
import { addKey, cli, startSpendcap, tempDataDir } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

const BIN = fileURLToPath(new URL('../../bin/spendcap.js', import.meta.url));
const MODEL = 'claude-sonnet-4-5';
const SIGN_IN = 'meta[name="spendcap-page"][content="sign-in"]';

interface Answer {
  status: number;
  body: unknown;
}
interface EventJson {
  kind: string;
  channel: string;
  budget: string | null;
}

describe('dashboard sign-in and cookie auth', () => {
  let sc: TestSpendcap;
  let mock: MockAnthropic;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    mock = await startMockAnthropic({ outputTokens: 10, tokenIntervalMs: 0 });
    sc = await startSpendcap(mock.url);
    await addKey(sc.dataDir, 'ops', 10);
    browser = await launchBrowser();
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await sc?.close();
    await mock?.close();
  });

  const signIn = async () => {
    const s = await signedInPage(browser, sc.dataDir);
    contexts.push(s.context);
    return s;
  };
  /** fetch() from inside the page: same origin, the browser adds the cookie (and Origin on POST) itself. */
  const pageFetch = (page: import('playwright-core').Page, path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> =>
    page.evaluate(
      async ({ path, init }) => {
        const r = await fetch(path, { method: init.method ?? 'GET', headers: init.headers ?? {}, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) });
        const text = await r.text();
        return { status: r.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
      },
      { path, init },
    );
  const json = { 'content-type': 'application/json', 'x-spendcap-csrf': '1' };

  test('without a session /dashboard is a sign-in page that names `spendcap dashboard`, with strict headers', async () => {
    const r = await fetch(`${sc.url}/dashboard`);
    assert.equal(r.status, 200);
    const html = await r.text();
    assert.match(html, /spendcap dashboard/);
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'; script-src 'self'/);
    assert.doesNotMatch(r.headers.get('content-security-policy') ?? '', /unsafe-inline/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    // No inline script: the CSP would block it.
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/);

    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${sc.url}/dashboard/keys`);
    assert.match(await page.textContent('body') ?? '', /Run spendcap dashboard in a terminal/);
    assert.equal(await page.locator(SIGN_IN).count(), 1);
    // The admin API refuses a browser without a session.
    assert.equal((await pageFetch(page, '/api/budgets')).status, 401);
  });

  test('the one-time link signs in: HttpOnly SameSite=Strict cookie, fragment gone, token never logged; it does not work twice', async () => {
    const { context, page, url } = await signIn();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/dashboard#token=sct-/);
    assert.equal(new URL(url).port, String(sc.server.port));
    assert.equal(page.url().includes('#'), false, page.url());
    assert.equal(await page.locator(SIGN_IN).count(), 0);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === `spendcap_session_${sc.server.port}`);
    assert.ok(session, JSON.stringify(cookies));
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.equal(session.path, '/');
    assert.equal(await page.evaluate('document.cookie'), '', 'page scripts cannot read the session');
    const token = decodeURIComponent(url.split('#token=')[1]!);
    assert.equal(sc.log.some((l) => l.includes(token)), false);
    // The store keeps hashes only.
    const raw = new Database(join(sc.dataDir, 'spendcap.db'), { readonly: true });
    try {
      const dump = JSON.stringify([raw.prepare('SELECT * FROM dashboard_links').all(), raw.prepare('SELECT * FROM dashboard_sessions').all()]);
      assert.equal(dump.includes(token), false);
      assert.equal(dump.includes(session.value), false);
    } finally {
      raw.close();
    }

    // The same link in another browser: refused, stays on the sign-in page with a clear message.
    const other = await browser.newContext();
    contexts.push(other);
    const p2 = await other.newPage();
    await p2.goto(url);
    await p2.locator('#status.error').waitFor({ timeout: 15_000 });
    assert.match((await p2.textContent('#status')) ?? '', /already used or has expired/);
    assert.equal(p2.url().includes('#'), false);
    assert.equal((await other.cookies()).length, 0);
    // The server says the same to a direct exchange.
    const again = await fetch(`${sc.url}/dashboard/session`, { method: 'POST', headers: json, body: JSON.stringify({ token }) });
    assert.equal(again.status, 401);
  });

  test('an expired link fails', async () => {
    const store = new SqliteStore(sc.dataDir);
    let url: string;
    try {
      const { token } = await newLink(store, Date.now() - 11 * 60_000);
      url = signInUrl(sc.url, token);
    } finally {
      await store.close();
    }
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(url);
    await page.locator('#status.error').waitFor({ timeout: 15_000 });
    assert.equal(await page.locator(SIGN_IN).count(), 1);
    assert.equal((await context.cookies()).length, 0);
  });

  test('API calls with the cookie work; a change needs the CSRF header and this origin; it is audited as "web"', async () => {
    const { context, page } = await signIn();
    const list = await pageFetch(page, '/api/budgets');
    assert.equal(list.status, 200);
    assert.deepEqual((list.body as { budgets: { name: string }[] }).budgets.map((b) => b.name), ['ops']);

    // Without the header: refused, nothing changed.
    const bare = await pageFetch(page, '/api/budgets/ops/kill', { method: 'POST' });
    assert.equal(bare.status, 403);
    assert.equal((bare.body as { error: { field: string } }).error.field, 'x-spendcap-csrf');
    // The cookie with a foreign Origin (as another site's page would send): refused.
    const cookie = (await context.cookies()).find((c) => c.name === `spendcap_session_${sc.server.port}`)!;
    const foreign = await fetch(`${sc.url}/api/budgets/ops/kill`, { method: 'POST', headers: { ...json, cookie: `${cookie.name}=${cookie.value}`, origin: 'http://evil.example' } });
    assert.equal(foreign.status, 403);
    assert.equal(((await foreign.json()) as { error: { field: string } }).error.field, 'origin');
    let state = await pageFetch(page, '/api/budgets/ops');
    assert.equal((state.body as { killed: boolean }).killed, false);

    // With the header, from the page itself: done, and audited as "web".
    const kill = await pageFetch(page, '/api/budgets/ops/kill', { method: 'POST', headers: json, body: {} });
    assert.equal(kill.status, 200, JSON.stringify(kill.body));
    assert.equal((kill.body as { event: EventJson }).event.channel, 'web');
    const unkill = await pageFetch(page, '/api/budgets/ops/unkill', { method: 'POST', headers: json });
    assert.equal(unkill.status, 200);
    const events = await cli(sc.dataDir, ['events', '--json', '--budget', 'ops']);
    const rows = JSON.parse(events.out) as EventJson[];
    assert.deepEqual(rows.filter((e) => e.kind === 'kill' || e.kind === 'unkill').map((e) => [e.kind, e.channel]).sort(), [['kill', 'web'], ['unkill', 'web']]);
    state = await pageFetch(page, '/api/budgets/ops');
    assert.equal((state.body as { killed: boolean }).killed, false);

    // The admin token still works and is still audited as "api".
    const token = (await import('node:fs')).readFileSync(`${sc.dataDir}/admin-token`, 'utf8').trim();
    const viaApi = await fetch(`${sc.url}/api/budgets/ops/lift`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ add: 1 }) });
    assert.equal(((await viaApi.json()) as { event: EventJson }).event.channel, 'api');

    // Settings and the trust page through the cookie.
    const settings = await pageFetch(page, '/api/settings', { method: 'PATCH', headers: json, body: { thresholds: [25, 75], retainDays: 30 } });
    assert.equal(settings.status, 200, JSON.stringify(settings.body));
    assert.deepEqual((settings.body as { settings: { thresholds: number[]; retainDays: number } }).settings.thresholds, [25, 75]);
    assert.equal((settings.body as { event: EventJson }).event.channel, 'web');
    const badTz = await pageFetch(page, '/api/settings', { method: 'PATCH', headers: json, body: { timeZone: 'Mars/Olympus' } });
    assert.equal(badTz.status, 400);
    assert.equal((badTz.body as { error: { field: string } }).error.field, 'timeZone');
    const trust = await pageFetch(page, '/api/trust');
    assert.equal(trust.status, 200);
    const t = trust.body as { dataDir: string; files: { name: string; exists: boolean; mode: string | null }[]; alertChannels: Array<{ id: string; configured: boolean }> };
    assert.equal(t.dataDir, sc.dataDir);
    assert.equal(t.files.find((f) => f.name === 'secret.key')?.mode, '0600');
    assert.equal(t.files.find((f) => f.name === 'admin-token')?.mode, '0600');
    assert.equal(t.files.find((f) => f.name === 'spendcap.db')?.mode, '0600');
    // The channels alerts will use, none set up yet.
    assert.deepEqual(t.alertChannels.map((c) => [c.id, c.configured]), [['webhook', false], ['slack', false], ['telegram', false], ['email', false], ['desktop', false]]);

    // Signing out ends the session for the API too.
    const out = await pageFetch(page, '/dashboard/logout', { method: 'POST', headers: json });
    assert.equal(out.status, 200);
    assert.equal((await pageFetch(page, '/api/budgets')).status, 401);
  });

  test("another site's page cannot act with the cookie (form post or fetch from another port)", async () => {
    const { context, page } = await signIn();
    const target = `${sc.url}/api/budgets/ops/kill`;
    // Same host, other port: same "site" for SameSite, so the cookie IS sent; Origin and the header stop it.
    const evilHtml = `<!doctype html><html><body>
<form id="f" method="POST" action="${target}" enctype="text/plain"><input name='{"a":"' value='"}'></form>
<script>
fetch(${JSON.stringify(target)}, { method: 'POST', credentials: 'include', headers: { 'x-spendcap-csrf': '1', 'content-type': 'application/json' }, body: '{}' })
  .then(function (r) { document.title = 'fetch ' + r.status; }, function () { document.title = 'fetch blocked'; });
</script></body></html>`;
    const evil: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(evilHtml);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    try {
      const evilPage = await context.newPage();
      await evilPage.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
      await evilPage.waitForFunction("document.title.startsWith('fetch')", undefined, { timeout: 15_000 });
      assert.equal(await evilPage.title(), 'fetch blocked');
      const [response] = await Promise.all([evilPage.waitForNavigation(), evilPage.evaluate("document.getElementById('f').submit()")]);
      assert.equal(response?.status(), 403);
      assert.match((await response?.text()) ?? '', /origin/);
    } finally {
      evil.close();
    }
    const state = await pageFetch(page, '/api/budgets/ops');
    assert.equal((state.body as { killed: boolean }).killed, false);
  });

  test('POST /api/keys makes a key the Anthropic SDK can use; the provider key never comes back; DELETE removes it', async () => {
    const { page } = await signIn();
    const providerKey = 'sk-ant-web-secret-4242';
    const bad = await pageFetch(page, '/api/keys', { method: 'POST', headers: json, body: { name: 'web', provider: 'anthropic', providerKey: 'sc-not-a-provider-key', capUsd: 5 } });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { error: { field: string } }).error.field, 'providerKey');
    const noUrl = await pageFetch(page, '/api/keys', { method: 'POST', headers: json, body: { name: 'web', provider: 'openai-compatible', providerKey, capUsd: 5 } });
    assert.equal((noUrl.body as { error: { field: string } }).error.field, 'baseUrl');

    const made = await pageFetch(page, '/api/keys', { method: 'POST', headers: json, body: { name: 'web', provider: 'anthropic', providerKey, capUsd: 5, period: 'week', sessionCapUsd: 1 } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const b = made.body as { token: string; howToPoint: string; key: { name: string; budget: { capUsd: number; period: string; sessionCapUsd: number } }; event: EventJson };
    assert.match(b.token, /^sc-/);
    assert.equal(b.key.budget.capUsd, 5);
    assert.equal(b.key.budget.period, 'week');
    assert.equal(b.key.budget.sessionCapUsd, 1);
    assert.deepEqual([b.event.kind, b.event.channel, b.event.budget], ['key-add', 'web', 'web']);
    assert.match(b.howToPoint, new RegExp(`ANTHROPIC_BASE_URL=http://127\\.0\\.0\\.1:${sc.server.port} ANTHROPIC_API_KEY=${b.token}`));
    assert.equal(JSON.stringify(made.body).includes(providerKey), false);

    const dup = await pageFetch(page, '/api/keys', { method: 'POST', headers: json, body: { name: 'web', provider: 'anthropic', providerKey, capUsd: 5 } });
    assert.equal(dup.status, 409);

    const client = new Anthropic({ apiKey: b.token, baseURL: sc.url, maxRetries: 0 });
    const msg = await client.messages.create({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(msg.type, 'message');
    // spendcap used the provider key upstream, and keeps it to itself.
    assert.equal(mock.requests.at(-1)!.headers['x-api-key'], providerKey);
    for (const path of ['/api/keys', '/api/keys/web', '/api/events']) {
      const r = await pageFetch(page, path);
      assert.equal(JSON.stringify(r.body).includes(providerKey), false, path);
      assert.equal(JSON.stringify(r.body).includes(b.token), false, path);
    }

    const del = await pageFetch(page, '/api/keys/web', { method: 'DELETE', headers: json });
    assert.equal(del.status, 200);
    assert.equal((del.body as { event: EventJson }).event.channel, 'web');
    await assert.rejects(client.messages.create({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }), (e: unknown) => (e as { status?: number }).status === 401);
    assert.equal((await pageFetch(page, '/api/keys/web', { method: 'DELETE', headers: json })).status, 404);
  });

  test('`spendcap start` prints a one-time link that signs the browser in (what it opens without --no-open)', async () => {
    const dir = tempDataDir();
    const proc = spawn(process.execPath, [BIN, 'start', '--data-dir', dir, '--port', '0', '--no-open'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      const link = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no link printed: ${out}`)), 20_000);
        proc.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const m = /(http:\/\/127\.0\.0\.1:\d+\/dashboard#token=sct-[A-Za-z0-9_-]+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        proc.once('exit', (code) => reject(new Error(`spendcap exited (${code}): ${out}`)));
      });
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(link);
      await waitSignedIn(page);
      assert.ok((await context.cookies()).some((c) => c.name.startsWith('spendcap_session_')));
      // The command finds the running server and its port.
      const again = await signInLink(dir);
      assert.equal(again.running, true);
      assert.equal(new URL(again.url).port, new URL(link).port);
    } finally {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a signed-in browser reloading /dashboard gets the app shell, still without a fragment', async () => {
    const { page } = await signIn();
    await page.reload();
    await waitSignedIn(page);
    const r = await page.goto(`${sc.url}/dashboard/settings`);
    assert.equal(r?.status(), 200);
    assert.equal(r?.headers()['cache-control'], 'no-cache');
    assert.equal(await page.locator(SIGN_IN).count(), 0);
  });
});

test('`spendcap dashboard --no-open` prints a link: the default port when no server runs, the running port otherwise', async () => {
  const dir = tempDataDir();
  const idle = await cli(dir, ['dashboard', '--no-open']);
  assert.equal(idle.code, 0, idle.err);
  assert.match(idle.out, /http:\/\/127\.0\.0\.1:8787\/dashboard#token=sct-[A-Za-z0-9_-]+/);
  assert.match(idle.out, /not running/);
  const asJson = await signInLink(dir);
  assert.equal(asJson.running, false);

  // A server started after the link was printed still accepts it: the link lives in the store.
  let sc: TestSpendcap | null = await startSpendcap(null, { dataDir: dir });
  try {
    const early = asJson.url.replace('http://127.0.0.1:8787', sc.url);
    const token = decodeURIComponent(early.split('#token=')[1]!);
    const exchanged = await fetch(`${sc.url}/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-spendcap-csrf': '1' }, body: JSON.stringify({ token }) });
    assert.equal(exchanged.status, 200);
    assert.match(exchanged.headers.get('set-cookie') ?? '', new RegExp(`^spendcap_session_${sc.server.port}=[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+; HttpOnly; SameSite=Strict; Path=/`));
    // Without the CSRF header the exchange itself is refused.
    const fresh = await signInLink(dir);
    assert.equal(fresh.running, true);
    assert.equal(new URL(fresh.url).port, String(sc.server.port));
    const noHeader = await fetch(`${sc.url}/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: decodeURIComponent(fresh.url.split('#token=')[1]!) }) });
    assert.equal(noHeader.status, 403);
    const human = await cli(dir, ['dashboard', '--no-open']);
    assert.match(human.out, new RegExp(`http://127\\.0\\.0\\.1:${sc.server.port}/dashboard#token=`));
    assert.doesNotMatch(human.out, /not running/);

    // Sessions live in the store: a restarted server still knows the cookie.
    const cookie = (exchanged.headers.get('set-cookie') ?? '').split(';')[0]!;
    const first: TestSpendcap = sc;
    sc = null;
    await first.close();
    const next = await startSpendcap(null, { dataDir: dir });
    try {
      assert.equal((await fetch(`${next.url}/dashboard/session`, { headers: { cookie } })).status, 401, 'the cookie is named for the old port');
      // The browser keeps the name when spendcap restarts on the same port; this one got a new port.
      const samePort = cookie.replace(/^spendcap_session_\d+=/, `spendcap_session_${next.server.port}=`);
      const who = await fetch(`${next.url}/dashboard/session`, { headers: { cookie: samePort } });
      assert.equal(who.status, 200);
      assert.equal((await fetch(`${next.url}/api/budgets`, { headers: { cookie: samePort } })).status, 200);
    } finally {
      await next.close();
    }
  } finally {
    await sc?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
