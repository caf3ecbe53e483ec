// The dashboard's Alerts page in headless chromium: the setup checklist turns green after "Send
// test", a held request shows "Allow +$5" and a click lets it through, the Trust page lists each
// channel's fields. SPENDCAP_SCREENSHOTS=1 saves docs/screenshots/alerts-*.png.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, signedInPage } from './helpers/browser.js';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic } from './helpers/mock-anthropic.js';
import { addKey, cli, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SHOTS = process.env.SPENDCAP_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'screenshots') : null;

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS === null) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

describe('dashboard: alerts', () => {
  let mock: MockAnthropic;
  let sc: TestSpendcap;
  let browser: Browser;
  let received = 0;
  const hook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200).end();
    });
  });
  before(async () => {
    mock = await startMockAnthropic({ tokenIntervalMs: 1, outputTokens: 20 });
    sc = await startSpendcap(mock.url, { pollMs: 100 });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    browser = await launchBrowser();
  });
  after(async () => {
    await browser.close();
    await sc.close();
    await mock.close();
    hook.closeAllConnections();
    await new Promise((r) => hook.close(r));
  });

  test('the checklist row turns green after Send test; a held request is allowed from the page', async () => {
    const token = await addKey(sc.dataDir, 'work', 0.0001, ['--mode', 'ask', '--ask-timeout', '30']);
    assert.equal((await cli(sc.dataDir, ['alerts', 'add', 'webhook', '--url', `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`, '--secret', 's'])).code, 0);
    const { page, context } = await signedInPage(browser, sc.dataDir);
    try {
      await page.goto(`${sc.url}/dashboard/alerts`);
      const webhookRow = page.locator('.alerts-setup > li[data-channel="webhook"]');
      await webhookRow.waitFor();
      assert.match((await webhookRow.locator('.pill').textContent()) ?? '', /configured, not tested/);
      assert.equal(await page.locator('.alerts-setup > li').count(), 5, 'one row per channel kind');
      await webhookRow.getByRole('button', { name: 'Send test' }).click();
      await page.locator('.alerts-setup li.done[data-channel="webhook"]').waitFor({ timeout: 10_000 });
      assert.equal(received, 1, 'the test reached the webhook');
      await page.locator('.alerts-setup li[data-channel="telegram"] summary').click();
      await shot(page, 'alerts-checklist');

      // A request on the ask-mode key waits; the page shows the question; Allow lets it through.
      const pending = new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0 }).messages.create({ model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
      const allow = page.getByRole('button', { name: 'Allow +$5' });
      for (let i = 0; i < 50 && (await allow.count()) === 0; i++) {
        await page.reload();
        await page.waitForTimeout(150);
      }
      assert.match((await page.locator('.asks > li').first().textContent()) ?? '', /Allow \+\$5 for key work\?/);
      await shot(page, 'alerts-approval');
      await allow.click();
      const msg = await pending;
      assert.equal(msg.type, 'message');

      await page.goto(`${sc.url}/dashboard/trust`);
      await page.locator('text=spentUsd').first().waitFor({ timeout: 10_000 });
    } finally {
      await context.close();
    }
  });
});
