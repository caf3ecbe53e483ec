// The Slack channel through the real @slack/bolt (Socket Mode) and @slack/web-api clients, pointed
// at a local fake Slack (Web API + Socket Mode WebSocket), and the incoming-webhook path.
// Contract-style checks any button channel must pass, then Slack's own.
// SPENDCAP_SCREENSHOTS=1 also saves the rendered messages to docs/screenshots/alerts-slack.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatUsd, usdToNanos } from '../../../pricing/index.js';
import type { Alert, AlertChannel, ChannelConfig, InboundAction } from '../../types.js';
import { slackChannelHtml, startFakeSlack } from '../../../../test/helpers/fake-slack.js';
import type { FakeSlack, SlackBlock } from '../../../../test/helpers/fake-slack.js';
import { launchBrowser } from '../../../../test/helpers/browser.js';
import { createSlackChannel, formatSlackAppManifest, REFUSAL_TEXT, SlackChannelError } from './index.js';
import type { SlackRefusal } from './index.js';

const ROOT = join(import.meta.dirname, '..', '..', '..', '..', '..');
const SHOTS = process.env.SPENDCAP_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'screenshots') : null;
const OWNER = 'U0OWNER01';
const STRANGER = 'U0STRANGER';

function recoveryAlert(over: Partial<Alert> = {}): Alert {
  return {
    id: `a${Math.random().toString(36).slice(2)}`, dedupeKey: 'threshold:work:100:p', kind: 'threshold', budget: 'work', scope: 'key', thresholdPct: 100,
    spentNanos: usdToNanos(15), capNanos: usdToNanos(15), count: 1,
    title: `key "work" reached ${formatUsd(usdToNanos(15))} of ${formatUsd(usdToNanos(15))}`, text: 'Requests on key work are refused until the cap is raised.\nPeriod ends 2026-12-31 00:00 UTC.',
    dashboardUrl: 'http://127.0.0.1:8787/dashboard', ts: new Date().toISOString(),
    buttons: [
      { action: 'add', label: '+$1', addNanos: usdToNanos(1) },
      { action: 'add', label: '+$5', addNanos: usdToNanos(5) },
      { action: 'add', label: '+$10', addNanos: usdToNanos(10) },
      { action: 'kill', label: 'Kill' },
    ],
    ...over,
  };
}

function askAlert(): Alert {
  return recoveryAlert({
    kind: 'ask', dedupeKey: 'ask:work:q1', title: `Allow +${formatUsd(usdToNanos(5))} for key work?`, text: 'A request is waiting (up to 120 s) because it would pass the cap.',
    buttons: [{ action: 'approve', label: 'Allow +$5', addNanos: usdToNanos(5), askId: 'q1' }, { action: 'deny', label: 'Deny', askId: 'q1' }],
  });
}

/** A stand-in for core's audited action: a cap that taps raise, and every call recorded. */
function fakeBank(): { calls: InboundAction[]; cap: () => number; handle: (a: InboundAction) => Promise<{ ok: boolean; text: string }> } {
  let cap = usdToNanos(15);
  const calls: InboundAction[] = [];
  return {
    calls,
    cap: () => cap,
    handle: async (a) => {
      calls.push(a);
      if (a.button.action === 'add') {
        cap += a.button.addNanos ?? 0;
        return { ok: true, text: `✓ Bumped — cap is now ${formatUsd(cap)}` };
      }
      if (a.button.action === 'approve') return { ok: true, text: `✓ Allowed — ${a.button.label.replace('Allow ', '')} for key ${a.budget}` };
      if (a.button.action === 'deny') return { ok: true, text: '✗ Denied — the request was blocked' };
      return { ok: true, text: `■ Killed — key ${a.budget} is stopped` };
    },
  };
}

const labels = (blocks: SlackBlock[]): string[] => blocks.filter((b) => b.type === 'actions').flatMap((b) => (b.elements ?? []).map((e) => (typeof e.text === 'string' ? e.text : e.text?.text ?? '')));

function appConfig(fake: FakeSlack, settings: Record<string, string> = {}): ChannelConfig {
  return { name: 'team-slack', kind: 'slack', budgets: [], events: [], settings: { botToken: fake.botToken, appToken: fake.appToken, channel: fake.channelId, apiUrl: fake.apiUrl, allowedUsers: OWNER, ...settings } };
}

describe('slack app channel (Bolt in Socket Mode against a fake Slack)', () => {
  let fake: FakeSlack;
  let channel: AlertChannel;
  const bank = fakeBank();
  const refusals: SlackRefusal[] = [];

  before(async () => {
    fake = await startFakeSlack({ pingMs: 300 });
    channel = createSlackChannel(appConfig(fake), { onRefused: (r) => refusals.push(r) });
    assert.equal(typeof channel.start, 'function', 'a button channel listens');
    await channel.start?.((a) => bank.handle(a));
  });
  after(async () => {
    await channel.stop();
    await fake.close();
  });

  test('contract: kind, name, fieldsSent, and a send returns a ref', async () => {
    assert.equal(channel.kind, 'slack');
    assert.equal(channel.name, 'team-slack');
    assert.ok(channel.fieldsSent.includes('title') && !channel.fieldsSent.some((f) => /prompt|response|key/i.test(f)));
    const r = await channel.send(recoveryAlert({ buttons: [] }));
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(Object.keys(r.ref ?? {}).sort(), ['channel', 'ts']);
  });

  test('Socket Mode came up through apps.connections.open on the configured base, and answers pings', async () => {
    assert.ok(fake.calls.some((c) => c.method === 'apps.connections.open' && c.token === fake.appToken));
    assert.equal(fake.sockets.opened, 1);
    await fake.waitFor(() => fake.sockets.pongs > 0, 'a pong');
  });

  test('an alert arrives in the channel with +$1 +$5 +$10 Kill', async () => {
    const r = await channel.send(recoveryAlert());
    assert.equal(r.ok, true, r.error);
    const m = fake.messages.get(r.ref?.ts ?? '');
    assert.ok(m);
    assert.equal(m.channel, fake.channelId);
    assert.match(m.text, /key "work" reached \$15\.00 of \$15\.00/);
    assert.deepEqual(labels(m.blocks), ['+$1', '+$5', '+$10', 'Kill']);
    assert.ok(!JSON.stringify(fake.calls.filter((c) => c.method.startsWith('chat.')).map((c) => c.params)).includes('xox'), 'no token in what is posted');
  });

  test('a tap on +$5 by an allowed user is acked, adds $5, and chat.update rewrites the message', async () => {
    const r = await channel.send(recoveryAlert());
    const ts = r.ref?.ts ?? '';
    const calls = bank.calls.length;
    const env = fake.tap(ts, '+$5', { userId: OWNER, channelId: fake.channelId });
    await fake.waitFor(() => fake.acks.find((a) => a.envelope_id === env), 'the ack');
    const m = await fake.waitFor(() => { const x = fake.messages.get(ts); return x && x.history.length > 1 ? x : undefined; }, 'the chat.update');
    assert.equal(bank.calls.length, calls + 1);
    assert.deepEqual(bank.calls.at(-1), { channel: 'slack', user: OWNER, budget: 'work', button: { action: 'add', label: '+$5', addNanos: usdToNanos(5) } });
    assert.equal(m.text, '✓ Bumped — cap is now $20.00');
    assert.equal(m.blocks[0]?.text?.text, '*✓ Bumped — cap is now $20.00*');
    assert.deepEqual(labels(m.blocks), ['+$1', '+$5', '+$10', 'Kill'], 'a bump keeps the buttons');
    assert.equal(bank.cap(), usdToNanos(20));
  });

  test('a tap by a stranger, or from another channel, is refused: ephemeral note, no handler call, no update', async () => {
    const r = await channel.send(recoveryAlert());
    const ts = r.ref?.ts ?? '';
    const calls = bank.calls.length;
    const e1 = fake.tap(ts, '+$10', { userId: STRANGER, channelId: fake.channelId });
    await fake.waitFor(() => fake.acks.find((a) => a.envelope_id === e1), 'the ack');
    await fake.waitFor(() => fake.ephemerals.find((e) => e.user === STRANGER), 'the refusal');
    fake.tap(ts, 'Kill', { userId: OWNER, channelId: 'C0OTHER0001', channelName: 'random' });
    await fake.waitFor(() => refusals.length >= 2, 'two refusals');
    assert.deepEqual(refusals.slice(-2), [
      { channel: 'slack', channelName: 'team-slack', slackChannel: fake.channelId, user: STRANGER, reason: 'user', budget: 'work', action: 'add' },
      { channel: 'slack', channelName: 'team-slack', slackChannel: 'C0OTHER0001', user: OWNER, reason: 'channel', budget: 'work', action: 'kill' },
    ]);
    assert.deepEqual(fake.ephemerals.find((e) => e.user === STRANGER), { channel: fake.channelId, user: STRANGER, text: REFUSAL_TEXT });
    assert.equal(bank.calls.length, calls);
    assert.equal(fake.messages.get(ts)?.history.length, 1);
  });

  test('an ask alert: Allow +$5 approves with its ask id, the buttons go away', async () => {
    const r = await channel.send(askAlert());
    const ts = r.ref?.ts ?? '';
    const m0 = fake.messages.get(ts);
    assert.deepEqual(labels(m0?.blocks ?? []), ['Allow +$5', 'Deny']);
    fake.tap(ts, 'Allow +$5', { userId: OWNER, channelId: fake.channelId });
    const m = await fake.waitFor(() => { const x = fake.messages.get(ts); return x && x.history.length > 1 ? x : undefined; }, 'the chat.update');
    assert.deepEqual(bank.calls.at(-1)?.button, { action: 'approve', label: 'Allow +$5', addNanos: usdToNanos(5), askId: 'q1' });
    assert.match(m.text, /✓ Allowed/);
    assert.deepEqual(labels(m.blocks), []);
  });

  test('after Slack asks for a refresh (disconnect message), the app reconnects and taps still work', async () => {
    const opened = fake.sockets.opened;
    fake.refresh();
    await fake.waitFor(() => fake.sockets.opened > opened, 'a new Socket Mode connection', 15_000);
    const r = await channel.send(recoveryAlert());
    const calls = bank.calls.length;
    await fake.waitFor(() => {
      try {
        fake.tap(r.ref?.ts ?? '', '+$1', { userId: OWNER, channelId: fake.channelId });
        return true;
      } catch {
        return false; // the old socket is closing and the new one not yet open
      }
    }, 'an open socket');
    await fake.waitFor(() => bank.calls.length > calls, 'the tap over the new connection');
    assert.equal(bank.calls.at(-1)?.button.label, '+$1');
  });

  test('update() rewrites a sent message in place', async () => {
    const first = recoveryAlert({ kind: 'block', title: 'key "work": 1 request blocked' });
    const r = await channel.send(first);
    assert.ok(r.ref);
    assert.equal(typeof channel.update, 'function');
    const u = await channel.update!(r.ref, { ...first, count: 12, title: 'key "work": 12 requests blocked' });
    assert.equal(u.ok, true, u.error);
    assert.match(fake.messages.get(r.ref.ts ?? '')?.text ?? '', /12 requests blocked/);
  });

  test('a wrong app token fails start() quickly with a typed error', async () => {
    const wrong = createSlackChannel(appConfig(fake, { appToken: 'xapp-wrong' }));
    await assert.rejects(wrong.start!((a) => bank.handle(a)), (e: unknown) => e instanceof SlackChannelError && e.code === 'E_SLACK_CONNECT' && /invalid_auth/.test(e.message) && !e.message.includes('xapp-wrong'));
    await wrong.stop();
  });

  test('a channel name (#name) works as the configured channel', async () => {
    const named = createSlackChannel(appConfig(fake, { channel: `#${fake.channelName}` }));
    const r = await named.send(recoveryAlert());
    assert.equal(r.ref?.channel, fake.channelId);
    await named.stop();
  });

  test('a failed send says why and whether a retry can help', async () => {
    const bad = createSlackChannel(appConfig(fake, { botToken: 'xoxb-wrong' }));
    assert.deepEqual(await bad.send(recoveryAlert()), { ok: false, error: 'Slack: invalid_auth', retryable: false });
    const nowhere = createSlackChannel(appConfig(fake, { channel: 'nope' }));
    assert.deepEqual(await nowhere.send(recoveryAlert()), { ok: false, error: 'Slack: channel_not_found', retryable: false });
    const gone = createSlackChannel(appConfig(fake, { apiUrl: 'http://127.0.0.1:9/api/' }));
    const g = await gone.send(recoveryAlert());
    assert.equal(g.ok, false);
    assert.equal(g.retryable, true);
    assert.ok(!(g.error ?? '').includes('xox'));
  });

  test('the messages as a person sees them (rendered and screenshotted)', async () => {
    // As it arrives, after a +$5 tap, and a held request answered.
    const all = [...fake.messages.values()];
    const shown = [all.find((m) => m.history.length === 1 && labels(m.blocks).length === 4), all.find((m) => /Bumped/.test(m.text)), all.find((m) => /Allowed/.test(m.text))].filter((m) => m !== undefined);
    assert.equal(shown.length, 3);
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 560, height: 300 }, deviceScaleFactor: 2 });
      await page.setContent(slackChannelHtml(shown));
      const dir = SHOTS ?? mkdtempSync(join(tmpdir(), 'spendcap-shots-'));
      const file = join(dir, 'alerts-slack.png');
      await page.screenshot({ path: file, fullPage: true });
      assert.ok(statSync(file).size > 5_000);
      assert.ok((await page.locator('.btn', { hasText: '+$5' }).count()) > 0);
    } finally {
      await browser.close();
    }
  });
});

describe('slack incoming webhook (plain alerts)', () => {
  let fake: FakeSlack;
  before(async () => { fake = await startFakeSlack(); });
  after(async () => { await fake.close(); });

  const hook = (): ChannelConfig => ({ name: 'slack', kind: 'slack', budgets: [], events: [], settings: { webhookUrl: fake.webhookUrl() } });

  test('posts text and blocks, no buttons (a webhook cannot receive taps), and has no start/update', async () => {
    const channel = createSlackChannel(hook());
    fake.webhookStatus = 200;
    assert.deepEqual(await channel.send(recoveryAlert()), { ok: true });
    const body = fake.webhooks.at(-1)?.body as { text: string; blocks: SlackBlock[] };
    assert.match(body.text, /reached \$15\.00 of \$15\.00/);
    assert.match(body.blocks[0]?.text?.text ?? '', /^\*key "work" reached/);
    assert.deepEqual(labels(body.blocks), []);
    assert.equal('start' in channel, false);
    assert.equal('update' in channel, false);
    await channel.stop();
  });

  test('a 5xx is retryable, a 4xx (revoked, bad payload) is not', async () => {
    const channel = createSlackChannel(hook());
    fake.webhookStatus = 500;
    assert.deepEqual(await channel.send(recoveryAlert()), { ok: false, error: 'Slack webhook: HTTP 500 internal_error', retryable: true });
    fake.webhookStatus = 400;
    assert.deepEqual(await channel.send(recoveryAlert()), { ok: false, error: 'Slack webhook: HTTP 400 invalid_payload', retryable: false });
    fake.webhookStatus = 200;
  });
});

describe('slack settings and manifest', () => {
  test('a malformed setting is a typed error that says what to do', () => {
    const cfg = (settings: Record<string, string>): ChannelConfig => ({ name: 's', kind: 'slack', budgets: [], events: [], settings });
    assert.throws(() => createSlackChannel(cfg({ botToken: 'xoxp-user', appToken: 'xapp-1', channel: 'C1' })), (e: unknown) => e instanceof SlackChannelError && e.code === 'E_SLACK_CONFIG' && /xoxb-/.test(e.message));
    assert.throws(() => createSlackChannel(cfg({ botToken: 'xoxb-1', appToken: 'xoxb-2', channel: 'C1' })), (e: unknown) => e instanceof SlackChannelError && /connections:write/.test(e.message));
    assert.throws(() => createSlackChannel(cfg({ botToken: 'xoxb-1', appToken: 'xapp-1' })), (e: unknown) => e instanceof SlackChannelError && /--channel/.test(e.message));
    assert.throws(() => createSlackChannel(cfg({})), (e: unknown) => e instanceof SlackChannelError && /--webhook-url/.test(e.message));
  });

  test('the manifest turns Socket Mode and interactivity on, with chat:write', () => {
    const m = JSON.parse(formatSlackAppManifest()) as { settings: { socket_mode_enabled: boolean; interactivity: { is_enabled: boolean } }; oauth_config: { scopes: { bot: string[] } } };
    assert.equal(m.settings.socket_mode_enabled, true);
    assert.equal(m.settings.interactivity.is_enabled, true);
    assert.deepEqual(m.oauth_config.scopes.bot, ['chat:write']);
  });

  test('the setup walkthrough shows the manifest the code prints', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'alerts-slack-telegram.md'), 'utf8');
    assert.ok(doc.includes('```json\n' + formatSlackAppManifest() + '```'), 'docs/alerts-slack-telegram.md: paste formatSlackAppManifest() output');
  });
});
