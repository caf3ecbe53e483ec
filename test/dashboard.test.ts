// The web dashboard end to end: headless Debian chromium (playwright-core) against a real spendcap
// and the Anthropic billing mock, driven by accessible names the way a user (or another tool) would.
// SPENDCAP_SCREENSHOTS=1 also saves the main views to docs/screenshots/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { launchBrowser, signedInPage } from './helpers/browser.js';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic } from './helpers/mock-anthropic.js';
import { startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';
import { CUT_STOP_REASON } from '../src/providers/anthropic/index.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SHOTS = process.env.SPENDCAP_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'screenshots') : null;
const MODEL = 'claude-sonnet-4-5';
/** The page's document, as the predicates run in the page use it (the tests compile without the DOM library). */
interface PageDocument {
  querySelector(selector: string): { getAttribute(name: string): string | null } | null;
  querySelectorAll(selector: string): ArrayLike<{ getAttribute(name: string): string | null }>;
}
const messages = [{ role: 'user' as const, content: 'Write a long essay about budgets.' }];

function client(sc: TestSpendcap, token: string, headers: Record<string, string> = {}): Anthropic {
  return new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0, defaultHeaders: headers });
}

/** The admin API with the data dir's token: what the page did, checked from outside the page. */
async function admin<T>(sc: TestSpendcap, path: string, init: RequestInit = {}): Promise<T> {
  const token = readFileSync(join(sc.dataDir, 'admin-token'), 'utf8').trim();
  const res = await fetch(sc.url + path, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) } });
  assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as T;
}

interface BudgetJson {
  name: string;
  capUsd: number;
  spentUsd: number;
  heldUsd: number;
  killed: boolean;
}

const row = (page: Page, name: string): Locator => page.locator('li.budget').filter({ has: page.locator('.b-name', { hasText: new RegExp(`^${name}$`) }) });

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS === null) return;
  mkdirSync(SHOTS, { recursive: true });
  // Let bars finish their transition and charts draw.
  await page.waitForTimeout(400);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Samples the bar's spent+held (aria-valuenow) until `done` settles. */
async function sampleBar(bar: Locator, done: Promise<unknown>): Promise<number[]> {
  const seen: number[] = [];
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  while (!finished) {
    const v = Number(await bar.getAttribute('aria-valuenow'));
    if (seen.at(-1) !== v) seen.push(v);
    await new Promise((r) => setTimeout(r, 50));
  }
  return seen;
}

describe('web dashboard', () => {
  let mock: MockAnthropic;
  let sc: TestSpendcap;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let token = '';

  before(async () => {
    // The page is built by `npm run build`; a test run straight after tsc builds it here.
    if (!existsSync(join(ROOT, 'dist', 'web', 'index.html'))) execFileSync(process.execPath, [join(ROOT, 'web', 'build.mjs')], { stdio: 'ignore' });
    mock = await startMockAnthropic({ tokenIntervalMs: 1, outputTokens: 40 });
    sc = await startSpendcap(mock.url, { pollMs: 100 });
    browser = await launchBrowser();
    ({ context, page } = await signedInPage(browser, sc.dataDir));
    await page.setViewportSize({ width: 1280, height: 900 });
  });
  after(async () => {
    await browser?.close();
    await sc?.close();
    await mock?.close();
  });

  test('without a session cookie /dashboard is the sign-in page and the API refuses', async () => {
    const other = await browser.newContext();
    try {
      const p = await other.newPage();
      await p.goto(`${sc.url}/dashboard/history`);
      assert.equal(await p.locator('meta[name="spendcap-page"]').getAttribute('content'), 'sign-in');
      assert.equal(await p.locator('li.budget').count(), 0);
      const status = await p.evaluate(`fetch('/api/budgets').then((r) => r.status)`);
      assert.equal(status, 401);
    } finally {
      await other.close();
    }
  });

  test('first run: onboarding creates a key that works with the Anthropic SDK through spendcap', async () => {
    await page.goto(`${sc.url}/dashboard`);
    const form = page.getByRole('form', { name: 'New key' });
    await form.waitFor();
    await form.getByRole('radio', { name: 'Anthropic' }).check();
    await form.getByLabel('Provider API key').fill('sk-ant-test-from-the-page');
    await form.getByLabel('Name').fill('claude');
    await form.getByLabel('Cap ($)').fill('1');
    await form.getByLabel('Period').selectOption('day');
    await shot(page, 'onboarding');
    await form.getByRole('button', { name: 'Create key' }).click();

    const shown = page.locator('[data-token]');
    await shown.waitFor();
    token = (await shown.textContent()) ?? '';
    assert.match(token, /^sc-/);
    // The snippets carry this server's base URL and the key; Codex gets its config.toml provider block.
    const text = (await page.locator('.onboarding').textContent()) ?? '';
    assert.ok(text.includes(`ANTHROPIC_BASE_URL=${sc.url}`), 'Claude Code snippet with the base URL');
    assert.ok(text.includes(`baseURL: '${sc.url}', apiKey: '${token}'`), 'Anthropic SDK snippet');
    await shot(page, 'onboarding-key');

    const msg = await client(sc, token).messages.create({ model: MODEL, max_tokens: 200, messages });
    assert.equal(msg.stop_reason, 'end_turn');
    // The provider got the provider key pasted in the page, never the spendcap key.
    const last = mock.requests.at(-1)!;
    assert.equal(last.headers['x-api-key'], 'sk-ant-test-from-the-page');
  });

  test('the bar climbs while a stream runs, pushed over the live stream', async () => {
    await page.goto(`${sc.url}/dashboard`);
    const bar = row(page, 'claude').getByRole('meter');
    await bar.waitFor();
    const before = Number(await bar.getAttribute('aria-valuenow'));
    mock.options.tokenIntervalMs = 10;
    mock.options.outputTokens = 400;
    const stream = client(sc, token).messages.stream({ model: MODEL, max_tokens: 1000, messages }).finalMessage();
    const seen = await sampleBar(bar, stream);
    console.log(`bar values (spent+held, USD) during the stream: ${seen.join(', ')}`);
    const msg = await stream;
    assert.equal(msg.stop_reason, 'end_turn');
    // Several distinct, rising values before the stream ended: the hold grew in view, not only at settle.
    assert.ok(seen.length >= 3, `bar values during the stream: ${seen.join(', ')}`);
    assert.ok(seen.at(-1)! > before, `bar rose: ${before} → ${seen.join(', ')}`);
    const settled = await admin<BudgetJson>(sc, '/api/budgets/claude');
    // Predicates are functions, not strings: the page's CSP (no 'unsafe-eval') refuses a string once Playwright has to poll it.
    await page.waitForFunction(
      (spentUsd) => Math.abs(Number((globalThis as unknown as { document: PageDocument }).document.querySelector('li.budget[data-budget="claude"] [role=meter]')?.getAttribute('aria-valuenow')) - spentUsd) < 1e-9,
      settled.spentUsd,
      { timeout: 5000 },
    );
  });

  test('Kill from the page cuts an open stream and blocks the next request; "+$5" re-opens it', async () => {
    await page.goto(`${sc.url}/dashboard`);
    const r = row(page, 'claude');
    mock.options.tokenIntervalMs = 20;
    mock.options.outputTokens = 3000;
    const stream = client(sc, token).messages.stream({ model: MODEL, max_tokens: 4000, messages });
    await new Promise<void>((resolve) => stream.once('text', () => resolve()));
    const t0 = Date.now();
    await r.getByRole('button', { name: 'Kill', exact: true }).click();
    const msg = await stream.finalMessage();
    assert.equal(msg.stop_reason, CUT_STOP_REASON, 'the open stream ends with the cut notice');
    assert.ok(Date.now() - t0 < 5000, `cut ${Date.now() - t0} ms after Kill`);
    assert.ok(mock.bills.at(-1)!.usage.output_tokens < 3000);

    await r.getByRole('button', { name: 'Unkill', exact: true }).waitFor();
    await r.getByText('to continue?').waitFor();
    const calls = mock.requests.length;
    await assert.rejects(client(sc, token).messages.create({ model: MODEL, max_tokens: 50, messages }), Anthropic.RateLimitError);
    assert.equal(mock.requests.length, calls, 'refused before the provider');
    await shot(page, 'killed');

    mock.options.tokenIntervalMs = 1;
    mock.options.outputTokens = 40;
    const capBefore = (await admin<BudgetJson>(sc, '/api/budgets/claude')).capUsd;
    await r.getByRole('button', { name: '+$5', exact: true }).click();
    await r.getByRole('button', { name: 'Kill', exact: true }).waitFor();
    const after = await admin<BudgetJson>(sc, '/api/budgets/claude');
    assert.equal(after.killed, false);
    assert.equal(after.capUsd, capBefore + 5);
    const ok = await client(sc, token).messages.create({ model: MODEL, max_tokens: 50, messages });
    assert.equal(ok.stop_reason, 'end_turn');
  });

  test('Lift, Edit cap: the page changes the budget and shows it', async () => {
    await page.goto(`${sc.url}/dashboard`);
    const r = row(page, 'claude');
    await r.getByRole('button', { name: 'Lift', exact: true }).click();
    await r.getByRole('button', { name: 'Double' }).click();
    await r.getByText('Double: done').waitFor();
    assert.equal((await admin<BudgetJson>(sc, '/api/budgets/claude')).capUsd, 12);
    await r.getByRole('button', { name: 'Edit cap' }).click();
    const form = r.getByRole('form', { name: 'Edit claude' });
    // The suggestion is the server's (GET /api/budgets/:name autotuneSuggestion), shown as it is.
    const suggested = (await admin<{ autotuneSuggestion: { reason: string } }>(sc, '/api/budgets/claude')).autotuneSuggestion;
    await form.getByText(`Auto-tune: no suggestion — ${suggested.reason}`).waitFor();
    await form.getByLabel('Cap ($)', { exact: true }).fill('8');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.getByText('Saved').waitFor();
    assert.equal((await admin<BudgetJson>(sc, '/api/budgets/claude')).capUsd, 8);
    assert.match((await r.locator('.b-figures').textContent()) ?? '', /cap \$8\.00/);
  });

  test('history shows the page’s actions tagged web, and filters by channel', async () => {
    // One action from elsewhere, so the filter has something to drop.
    await admin(sc, '/api/budgets', { method: 'POST', body: JSON.stringify({ name: 'team', scope: 'global', cap: 20, period: 'month', ceiling: 50 }) });
    await page.goto(`${sc.url}/dashboard/history`);
    const table = page.locator('table.events');
    await table.waitFor();
    const channels = await Promise.all((await table.locator('tbody tr').all()).map((r) => r.getAttribute('data-channel')));
    assert.ok(channels.includes('web') && channels.includes('api'), channels.join(','));
    // The server filters: the page asks /api/events for the channel (one page), not 1000 events to sift.
    const asked = page.waitForRequest((r) => r.url().includes('/api/events?') && new URL(r.url()).searchParams.get('channel') === 'web');
    await page.getByRole('combobox', { name: 'Channel' }).selectOption('web');
    assert.equal(new URL((await asked).url()).searchParams.get('limit'), '50');
    await page.waitForFunction(() => Array.from((globalThis as unknown as { document: PageDocument }).document.querySelectorAll('table.events tbody tr')).every((r) => r.getAttribute('data-channel') === 'web'));
    const text = (await table.textContent()) ?? '';
    for (const kind of ['kill', 'lift', 'cap-set']) assert.ok(text.includes(kind), `history has ${kind}`);
    const events = await admin<{ items: Array<{ kind: string; channel: string }> }>(sc, '/api/events?budget=claude');
    assert.ok(events.items.filter((e) => ['kill', 'lift', 'cap-set'].includes(e.kind)).every((e) => e.channel === 'web'));
    await shot(page, 'history');
  });

  test('usage, pricing, settings and trust views load', async () => {
    await page.goto(`${sc.url}/dashboard/usage`);
    await page.locator('table.usage tbody tr').first().waitFor();
    assert.ok((await page.locator('table.usage').textContent())?.includes(MODEL));
    assert.ok((await page.locator('table.usage').textContent())?.includes('cut'));
    // The reconciliation panel says it has not run (GET /api/reconcile answers null before the first run).
    await page.locator('#h-reconcile').waitFor();
    assert.match((await page.locator('section[aria-labelledby="h-reconcile"]').textContent()) ?? '', /Not run yet/);
    await shot(page, 'usage');

    await page.goto(`${sc.url}/dashboard/pricing`);
    const pricing = page.getByRole('form', { name: 'Price override' });
    await pricing.waitFor();
    // Prices in use come from the server's price book: the model's catalogue rates, not "—".
    const used = page.locator('tr', { has: page.getByRole('cell', { name: MODEL, exact: true }) }).first();
    const cells = await used.locator('td').allTextContents();
    assert.deepEqual(cells.slice(2, 7), ['catalogue (genai-prices)', '$3', '$15', '$0.3', '$3.75'], cells.join(' | '));
    await pricing.getByLabel('Model').fill('my-local-model');
    await pricing.getByLabel('Input').fill('1');
    await pricing.getByLabel('Output', { exact: true }).fill('2');
    await pricing.getByRole('button', { name: 'Save price' }).click();
    await page.getByRole('button', { name: 'Remove my-local-model' }).waitFor();
    const prices = await admin<{ overrides: Array<{ model: string; output: number }> }>(sc, '/api/pricing');
    assert.deepEqual(prices.overrides.map((p) => [p.model, p.output]), [['my-local-model', 2]]);
    await shot(page, 'pricing');

    await page.goto(`${sc.url}/dashboard/settings`);
    await page.getByRole('list', { name: 'Alert channels' }).waitFor();
    // The server's checklist (GET /api/trust alertChannels): five channels, none set up yet.
    assert.deepEqual(await Promise.all((await page.locator('.checklist li').all()).map((l) => l.getAttribute('data-channel'))), ['webhook', 'slack', 'telegram', 'email', 'desktop']);
    assert.equal(await page.locator('.checklist li').filter({ hasText: 'not set' }).count(), 5);
    await shot(page, 'settings');

    await page.goto(`${sc.url}/dashboard/trust`);
    await page.getByRole('heading', { name: 'What leaves the machine' }).waitFor();
    await shot(page, 'trust');
  });

  test('the overview fits a phone screen and follows dark mode (screenshots when asked)', async () => {
    await admin(sc, '/api/budgets', { method: 'POST', body: JSON.stringify({ name: 'nightly', scope: 'tag', cap: 2, period: 'week' }) });
    // Some spend in named sessions (as Claude Code sends them), one of them still streaming. Bigger
    // answers only for the screenshots, where the bars should show.
    mock.options.outputTokens = SHOTS === null ? 200 : 6000;
    mock.options.tokenIntervalMs = 0;
    for (const s of ['3f2a9c1e-refactor', '3f2a9c1e-refactor', '7b11d0aa-tests', 'nightly-run']) {
      await client(sc, token, { 'x-spendcap-session': s, ...(s === 'nightly-run' ? { 'x-spendcap-budget': 'nightly' } : {}) }).messages.stream({ model: MODEL, max_tokens: 8000, messages }).finalMessage();
    }
    mock.options.tokenIntervalMs = 5;
    // The one left running streams for several seconds, so the page can show it in flight.
    mock.options.outputTokens = Math.max(mock.options.outputTokens ?? 0, 1500);
    await page.goto(`${sc.url}/dashboard`);
    await row(page, 'claude').waitFor();
    await page.getByRole('cell', { name: '7b11d0aa-tests' }).waitFor();
    const running = client(sc, token, { 'x-spendcap-session': 'c9e04f12-docs' }).messages.stream({ model: MODEL, max_tokens: 8000, messages }).finalMessage();
    // The session in flight shows as such once the page refreshes its sessions (a hold opening triggers it).
    await page.locator('tr[data-session="c9e04f12-docs"][data-open="true"]').waitFor();
    await shot(page, 'overview');

    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, storageState: await context.storageState() });
    const p = await phone.newPage();
    await p.goto(`${sc.url}/dashboard`);
    await row(p, 'claude').waitFor();
    // No sideways scrolling of the page (wide tables scroll inside their own box), and every budget's buttons are on screen.
    assert.ok(Number(await p.evaluate('document.documentElement.scrollWidth')) <= 390, 'page wider than the phone');
    for (const name of ['Lift', '+$5', 'Kill']) {
      const box = await row(p, 'claude').getByRole('button', { name, exact: true }).boundingBox();
      assert.ok(box !== null && box.x >= 0 && box.x + box.width <= 390, `${name} on screen: ${JSON.stringify(box)}`);
    }
    // Every menu link is on screen (the nav wraps), and the sessions table fits its box without scrolling sideways.
    for (const link of await p.getByRole('navigation', { name: 'Dashboard' }).getByRole('link').all()) {
      const box = await link.boundingBox();
      assert.ok(box !== null && box.x >= 0 && box.x + box.width <= 390, `menu link ${await link.textContent()} on screen: ${JSON.stringify(box)}`);
    }
    await p.getByRole('cell', { name: '7b11d0aa-tests' }).waitFor();
    const fits = await p.evaluate<[number, number]>("(() => { const w = document.querySelector('.sessions-table').closest('.table-wrap'); return [w.scrollWidth, w.clientWidth]; })()");
    assert.ok(fits[0] <= fits[1], `sessions table fits a phone: ${fits.join(' > ')}`);
    await shot(p, 'phone');
    await phone.close();

    const dark = await browser.newContext({ colorScheme: 'dark', viewport: { width: 1280, height: 900 }, storageState: await context.storageState() });
    const d = await dark.newPage();
    await d.goto(`${sc.url}/dashboard`);
    await row(d, 'claude').waitFor();
    const bg = String(await d.evaluate('getComputedStyle(document.body).backgroundColor'));
    const [r, g, b] = (bg.match(/\d+/g) ?? []).map(Number);
    assert.ok(r! + g! + b! < 120, `dark background: ${bg}`);
    await shot(d, 'dark');
    await dark.close();
    await running.catch(() => undefined);
  });
});
