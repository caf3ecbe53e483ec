// The phone flow end to end, through the real server and the real chat clients against local fakes:
// a stream hits its cap and is cut → the phone message arrives (the budget's latest state: the cut, or
// the 80%/100% threshold of the same tick, all with buttons) with +$1 +$5 +$10 Kill → a tap on +$5
// raises the cap, the message is rewritten in place, the next request passes; a stranger's tap
// changes nothing, is refused, and is audited. Telegram through grammY, Slack through Bolt (Socket Mode).
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startServer } from '../src/server/server.js';
import type { RunningServer } from '../src/server/server.js';
import { CUT_STOP_REASON } from '../src/providers/anthropic/index.js';
import { REFUSAL_TEXT as TELEGRAM_REFUSAL } from '../src/alerts/channels/telegram/channel.js';
import { REFUSAL_TEXT as SLACK_REFUSAL } from '../src/alerts/channels/slack/channel.js';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic } from './helpers/mock-anthropic.js';
import { startFakeTelegram, plainText } from './helpers/fake-telegram.js';
import type { FakeTelegram } from './helpers/fake-telegram.js';
import { startFakeSlack } from './helpers/fake-slack.js';
import type { FakeSlack, SlackBlock } from './helpers/fake-slack.js';
import { addKey, budgetStatus, cli, tempDataDir } from './helpers/spendcap.js';

const MODEL = 'claude-sonnet-4-6';
const messages = [{ role: 'user' as const, content: 'Write a long essay about budgets.' }];
const CHAT = 987654321;
const STRANGER_CHAT = 555000111;
const BUMP_LABELS = ['+$1', '+$5', '+$10', 'Kill'];

interface EventJson { kind: string; budget: string | null; channel: string; detail: string | null }

async function eventually<T>(f: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const slackLabels = (blocks: SlackBlock[]): string[] => blocks.filter((b) => b.type === 'actions').flatMap((b) => (b.elements ?? []).map((e) => (typeof e.text === 'string' ? e.text : e.text?.text ?? '')));

describe('alerts on the phone, end to end (real server, real grammY and Bolt, fake Bot API and Slack)', () => {
  let mock: MockAnthropic;
  let server: RunningServer;
  let dataDir: string;
  let tg: FakeTelegram;
  let slack: FakeSlack;

  before(async () => {
    mock = await startMockAnthropic({ tokenIntervalMs: 1, outputTokens: 50 });
    tg = await startFakeTelegram();
    slack = await startFakeSlack({ pingMs: 500 });
    dataDir = tempDataDir();
    const nowhere = 'http://127.0.0.1:9';
    server = await startServer({ dataDir, port: 0, baseUrls: { anthropic: mock.url, openai: nowhere, openrouter: nowhere, gemini: nowhere }, pollMs: 100, alertTickMs: 100, log: () => {} });
  });
  after(async () => {
    await server.close();
    await tg.close();
    await slack.close();
    await mock.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const client = (token: string) => new Anthropic({ apiKey: token, baseURL: server.url, maxRetries: 0 });
  const events = async (budget: string): Promise<EventJson[]> => JSON.parse((await cli(dataDir, ['events', '--json', '--budget', budget])).out) as EventJson[];

  /** A stream that runs into the key's cap and is cut. */
  async function cutStream(token: string): Promise<void> {
    mock.options = { ...mock.options, outputTokens: 2000 };
    const msg = await client(token).messages.stream({ model: MODEL, max_tokens: 8000, messages }).finalMessage();
    assert.equal(msg.stop_reason, CUT_STOP_REASON, 'cut cleanly at the cap');
    mock.options = { ...mock.options, outputTokens: 50 };
  }
  /**
   * Waits until the dispatcher has delivered everything queued for `channel` (a channel gets the latest
   * state per budget: the cut row and a threshold row of the same tick are one message, the newer).
   */
  const settled = (channel: string) => eventually(async () => {
    const rows = (await server.store.alerts.recentOutbox(50)).filter((r) => r.channel === channel);
    return rows.length > 0 && rows.every((r) => r.state === 'sent' || r.state === 'superseded') ? rows : undefined;
  });
  // Once the alert arrived: a block in the same dispatcher tick would supersede it.
  const blocked = (token: string) => assert.rejects(client(token).messages.create({ model: MODEL, max_tokens: 100, messages }), /reached its cap/);

  test('telegram: cut → message with +$1 +$5 +$10 Kill; +$5 from the chat bumps, rewrites in place, next request passes; a stranger is refused and audited', async () => {
    const token = await addKey(dataDir, 'phone', 0.01);
    const add = await cli(dataDir, ['alerts', 'add', 'telegram', '--name', 'tg', '--bot-token', tg.token, '--chat-id', String(CHAT), '--api-root', tg.apiRoot, '--budget', 'phone']);
    assert.equal(add.code, 0, add.err);
    // The dispatcher picks the channel up on its next tick and grammY starts long polling the fake.
    await tg.waitFor(() => tg.calls.some((c) => c.method === 'getUpdates'), 'grammY long polling');

    await cutStream(token);
    await settled('tg');
    const alert = await tg.waitFor(() => [...tg.messages.values()].reverse().find((m) => m.chat.id === CHAT && JSON.stringify(m.reply_markup?.inline_keyboard.flat().map((b) => b.text)) === JSON.stringify(BUMP_LABELS)), 'the alert with buttons');
    assert.match(plainText(alert), /^key "phone" (reached \$0\.\d+ of \$0\.01|is at (80|100)%: \$0\.\d+ of \$0\.01)/);
    await blocked(token);
    const capBefore = (await budgetStatus({ dataDir }, 'phone')).capUsd;
    assert.equal(capBefore, 0.01);

    const q = tg.tap(alert.message_id, '+$5', { chatId: CHAT, userId: CHAT });
    const answer = await tg.waitFor(() => tg.answers.find((a) => a.callback_query_id === q), 'the callback answer');
    assert.equal(answer.text, '✓ Bumped — cap is now $5.01');
    const rewritten = await tg.waitFor(() => (alert.history.some((h) => h.includes('✓ Bumped')) ? alert : undefined), 'editMessageText');
    const edit = tg.calls.find((c) => c.method === 'editMessageText' && Number(c.params.message_id) === alert.message_id);
    assert.ok(edit, 'rewritten by editMessageText on the same message id');
    assert.equal(plainText(rewritten).split('\n')[0], '✓ Bumped — cap is now $5.01');
    assert.deepEqual(rewritten.reply_markup?.inline_keyboard.flat().map((b) => b.text), BUMP_LABELS, 'a bump keeps the buttons');
    assert.equal((await budgetStatus({ dataDir }, 'phone')).capUsd, 5.01, 'cap raised by $5');
    const lift = (await events('phone')).find((e) => e.kind === 'lift');
    assert.equal(lift?.channel, 'telegram');
    assert.match(lift?.detail ?? '', new RegExp(`by telegram user ${CHAT}`));

    const next = await client(token).messages.create({ model: MODEL, max_tokens: 100, messages });
    assert.equal(next.type, 'message', 'the next request passes');

    // A stranger's chat taps +$10 on the same message: refused, nothing changes, an audit event.
    const textBefore = alert.text;
    const s = tg.tap(alert.message_id, '+$10', { chatId: STRANGER_CHAT, userId: STRANGER_CHAT });
    const refusal = await tg.waitFor(() => tg.answers.find((a) => a.callback_query_id === s), 'the refusal');
    assert.deepEqual(refusal, { callback_query_id: s, text: TELEGRAM_REFUSAL, show_alert: true });
    const audited = await eventually(async () => (await events('phone')).find((e) => e.kind === 'alert-refused'));
    assert.equal(audited.channel, 'telegram');
    assert.match(audited.detail ?? '', new RegExp(`telegram user ${STRANGER_CHAT} is not allowed to act \\(chat\\): add on channel "tg"`));
    assert.equal((await budgetStatus({ dataDir }, 'phone')).capUsd, 5.01, 'cap unchanged by the stranger');
    assert.equal(alert.text, textBefore, 'the message is not rewritten for a stranger');
    console.log(`# telegram: alert "${plainText({ text: alert.history[0] ?? '', parse_mode: 'HTML' }).split('\n')[0]}" → "${plainText(rewritten).split('\n')[0]}"; stranger got "${refusal.text}"`);
  });

  test('slack: cut → message with +$1 +$5 +$10 Kill; +$5 by a user in the channel bumps and chat.update rewrites it; a tap from another channel is refused', async () => {
    const token = await addKey(dataDir, 'team', 0.01);
    const add = await cli(dataDir, ['alerts', 'add', 'slack', '--name', 'sl', '--bot-token', slack.botToken, '--app-token', slack.appToken, '--channel', slack.channelId, '--api-url', slack.apiUrl, '--budget', 'team']);
    assert.equal(add.code, 0, add.err);
    await slack.waitFor(() => slack.sockets.opened > 0, 'Bolt in Socket Mode');

    await cutStream(token);
    await settled('sl');
    const alert = await slack.waitFor(() => [...slack.messages.values()].reverse().find((m) => m.channel === slack.channelId && JSON.stringify(slackLabels(m.blocks)) === JSON.stringify(BUMP_LABELS)), 'the alert with buttons');
    assert.match(alert.text, /^key "team" (reached \$0\.\d+ of \$0\.01|is at (80|100)%: \$0\.\d+ of \$0\.01)/);
    await blocked(token);

    const env = slack.tap(alert.ts, '+$5', { userId: 'U0OWNER01', channelId: slack.channelId });
    await slack.waitFor(() => slack.acks.find((a) => a.envelope_id === env), 'the ack');
    await slack.waitFor(() => alert.history.length > 1, 'chat.update');
    assert.ok(slack.calls.some((c) => c.method === 'chat.update' && c.params.ts === alert.ts), 'rewritten by chat.update on the same ts');
    assert.equal(alert.text, '✓ Bumped — cap is now $5.01');
    assert.equal((await budgetStatus({ dataDir }, 'team')).capUsd, 5.01, 'cap raised by $5');
    const lift = (await events('team')).find((e) => e.kind === 'lift');
    assert.equal(lift?.channel, 'slack');
    assert.match(lift?.detail ?? '', /by slack user U0OWNER01/);
    const next = await client(token).messages.create({ model: MODEL, max_tokens: 100, messages });
    assert.equal(next.type, 'message', 'the next request passes');

    const updates = alert.history.length;
    slack.tap(alert.ts, '+$10', { userId: 'U0OWNER01', channelId: 'C0OTHER0001', channelName: 'random' });
    const eph = await slack.waitFor(() => slack.ephemerals.find((e) => e.text === SLACK_REFUSAL), 'the ephemeral refusal');
    assert.equal(eph.user, 'U0OWNER01');
    const audited = await eventually(async () => (await events('team')).find((e) => e.kind === 'alert-refused'));
    assert.equal(audited.channel, 'slack');
    assert.equal((await budgetStatus({ dataDir }, 'team')).capUsd, 5.01, 'cap unchanged');
    assert.equal(alert.history.length, updates, 'the message is not rewritten for a refused tap');
  });
});
