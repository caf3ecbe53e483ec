// The Telegram channel through the real grammY client, pointed at a local fake Bot API
// (client.apiRoot). Contract-style checks any button channel must pass, then Telegram's own.
// SPENDCAP_SCREENSHOTS=1 also saves the rendered messages to docs/screenshots/alerts-telegram.png.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatUsd, usdToNanos } from '../../../pricing/index.js';
import type { Alert, AlertChannel, ChannelConfig, InboundAction } from '../../types.js';
import { startFakeTelegram, telegramChatHtml } from '../../../../test/helpers/fake-telegram.js';
import type { FakeTelegram } from '../../../../test/helpers/fake-telegram.js';
import { launchBrowser } from '../../../../test/helpers/browser.js';
import { createTelegramChannel, discoverTelegramChatId, REFUSAL_TEXT, TelegramChannelError } from './index.js';
import type { TelegramRefusal } from './index.js';

const ROOT = join(import.meta.dirname, '..', '..', '..', '..', '..');
const SHOTS = process.env.SPENDCAP_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'screenshots') : null;
const CHAT = 424242;
const STRANGER = 999001;

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

function config(fake: FakeTelegram, settings: Record<string, string> = {}): ChannelConfig {
  return { name: 'phone', kind: 'telegram', budgets: [], events: [], settings: { botToken: fake.token, chatId: String(CHAT), apiRoot: fake.apiRoot, ...settings } };
}

describe('telegram channel (grammY against a fake Bot API)', () => {
  let fake: FakeTelegram;
  let channel: AlertChannel;
  const bank = fakeBank();
  const refusals: TelegramRefusal[] = [];

  before(async () => {
    fake = await startFakeTelegram();
    channel = createTelegramChannel(config(fake), { onRefused: (r) => refusals.push(r), pollTimeoutSeconds: 1 });
    assert.equal(typeof channel.start, 'function', 'a button channel listens');
    await channel.start?.((a) => bank.handle(a));
  });
  after(async () => {
    await channel.stop();
    await fake.close();
  });

  test('contract: kind, name, fieldsSent, and a send returns a ref', async () => {
    assert.equal(channel.kind, 'telegram');
    assert.equal(channel.name, 'phone');
    assert.ok(channel.fieldsSent.includes('title') && !channel.fieldsSent.some((f) => /prompt|response|key/i.test(f)));
    const r = await channel.send(recoveryAlert({ buttons: [] }));
    assert.equal(r.ok, true, r.error);
    assert.ok(r.ref?.messageId);
  });

  test('an alert arrives in the configured chat with +$1 +$5 +$10 Kill', async () => {
    const r = await channel.send(recoveryAlert());
    assert.equal(r.ok, true, r.error);
    const m = fake.messages.get(Number(r.ref?.messageId));
    assert.ok(m);
    assert.equal(m.chat.id, CHAT);
    assert.match(m.text, /key "work" reached \$15\.00 of \$15\.00/);
    assert.deepEqual(m.reply_markup?.inline_keyboard.flat().map((b) => b.text), ['+$1', '+$5', '+$10', 'Kill']);
    assert.ok(!JSON.stringify(fake.calls).includes('sk-'), 'no key in anything sent');
  });

  test('a tap on +$5 from the configured chat adds $5, answers the tap and rewrites the message', async () => {
    const r = await channel.send(recoveryAlert());
    const id = Number(r.ref?.messageId);
    const before = bank.calls.length;
    const q = fake.tap(id, '+$5', { chatId: CHAT, userId: CHAT });
    const answer = await fake.waitFor(() => fake.answers.find((a) => a.callback_query_id === q), 'the callback answer');
    assert.equal(bank.calls.length, before + 1);
    const call = bank.calls.at(-1);
    assert.deepEqual(call, { channel: 'telegram', user: String(CHAT), budget: 'work', button: { action: 'add', label: '+$5', addNanos: usdToNanos(5) } });
    assert.equal(answer.text, '✓ Bumped — cap is now $20.00');
    const m = await fake.waitFor(() => { const x = fake.messages.get(id); return x && x.history.length > 1 ? x : undefined; }, 'the rewrite');
    assert.match(m.text, /^<b>✓ Bumped — cap is now \$20\.00<\/b>/);
    assert.match(m.text, /\n<i>key "work" reached \$15\.00 of \$15\.00<\/i>$/, 'the title stays as context, without markup inside');
    assert.deepEqual(m.reply_markup?.inline_keyboard.flat().map((b) => b.text), ['+$1', '+$5', '+$10', 'Kill'], 'a bump keeps the buttons');
    assert.equal(bank.cap(), usdToNanos(20));
  });

  test('a tap from another chat is refused: alert text, no handler call, message unchanged, reported', async () => {
    const r = await channel.send(recoveryAlert());
    const id = Number(r.ref?.messageId);
    const calls = bank.calls.length;
    const capBefore = bank.cap();
    const q = fake.tap(id, '+$10', { chatId: STRANGER, userId: STRANGER });
    const answer = await fake.waitFor(() => fake.answers.find((a) => a.callback_query_id === q), 'the refusal');
    assert.deepEqual(answer, { callback_query_id: q, text: REFUSAL_TEXT, show_alert: true });
    assert.equal(bank.calls.length, calls);
    assert.equal(bank.cap(), capBefore);
    assert.equal(fake.messages.get(id)?.history.length, 1);
    assert.deepEqual(refusals.at(-1), { channel: 'telegram', channelName: 'phone', chatId: String(STRANGER), user: String(STRANGER), reason: 'chat', budget: 'work', action: 'add' });
  });

  test('an ask alert: Allow +$5 approves with its ask id and the buttons go away', async () => {
    const r = await channel.send(askAlert());
    const id = Number(r.ref?.messageId);
    assert.deepEqual(fake.messages.get(id)?.reply_markup?.inline_keyboard.flat().map((b) => b.text), ['Allow +$5', 'Deny']);
    fake.tap(id, 'Allow +$5', { chatId: CHAT, userId: CHAT });
    const m = await fake.waitFor(() => { const x = fake.messages.get(id); return x && x.history.length > 1 ? x : undefined; }, 'the rewrite');
    assert.deepEqual(bank.calls.at(-1)?.button, { action: 'approve', label: 'Allow +$5', addNanos: usdToNanos(5), askId: 'q1' });
    assert.match(m.text, /✓ Allowed/);
    assert.equal(m.reply_markup, undefined);
  });

  test('update() rewrites a sent message in place (a storm count, then an outcome)', async () => {
    const first = recoveryAlert({ kind: 'block', title: 'key "work": 1 request blocked' });
    const r = await channel.send(first);
    assert.ok(r.ref);
    assert.equal(typeof channel.update, 'function');
    const u = await channel.update!(r.ref, { ...first, count: 12, title: 'key "work": 12 requests blocked' });
    assert.equal(u.ok, true, u.error);
    assert.match(fake.messages.get(Number(r.ref.messageId))?.text ?? '', /12 requests blocked/);
    assert.equal((await channel.update!(r.ref, { ...first, count: 12, title: 'key "work": 12 requests blocked' })).ok, true, 'the same text again is not a failure');
    await channel.update!(r.ref, first, '✓ Lifted');
    assert.match(fake.messages.get(Number(r.ref.messageId))?.text ?? '', /^<b>✓ Lifted<\/b>/);
  });

  test('/start in any chat is answered with that chat id', async () => {
    fake.say(-100777, 5, '/start');
    const reply = await fake.waitFor(() => [...fake.messages.values()].find((m) => m.chat.id === -100777), 'the /start reply');
    assert.match(reply.text, /this chat's id is -100777/);
    assert.ok(!reply.text.includes(fake.token), 'the token is never echoed');
  });

  test('a failed send says why and whether a retry can help', async () => {
    const bad = createTelegramChannel(config(fake, { botToken: '123456:wrong-token' }));
    const r = await bad.send(recoveryAlert());
    assert.deepEqual(r, { ok: false, error: 'Telegram 401: Unauthorized', retryable: false });
    await bad.stop();
    const gone = createTelegramChannel(config(fake, { apiRoot: 'http://127.0.0.1:9' }));
    const g = await gone.send(recoveryAlert());
    assert.equal(g.ok, false);
    assert.equal(g.retryable, true);
    assert.ok(!(g.error ?? '').includes('wrong-token') && !(g.error ?? '').includes(fake.token));
    await gone.stop();
  });

  test('a malformed setting is a typed error that says what to do', () => {
    assert.throws(() => createTelegramChannel(config(fake, { chatId: '@me' })), (e: unknown) => e instanceof TelegramChannelError && e.code === 'E_TELEGRAM_CONFIG' && /send \/start/.test(e.message));
    assert.throws(() => createTelegramChannel(config(fake, { botToken: 'nope' })), (e: unknown) => e instanceof TelegramChannelError && /@BotFather/.test(e.message));
  });

  test('the messages as a person sees them (rendered and screenshotted)', async () => {
    // As it arrives, after a +$5 tap, and a held request answered.
    const all = [...fake.messages.values()].filter((m) => m.chat.id === CHAT);
    const messages = [all.find((m) => m.history.length === 1 && m.reply_markup?.inline_keyboard.flat().length === 4), all.find((m) => /Bumped/.test(m.text)), all.find((m) => /Allowed/.test(m.text))].filter((m) => m !== undefined);
    assert.equal(messages.length, 3);
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 420, height: 300 }, deviceScaleFactor: 2 });
      await page.setContent(telegramChatHtml(messages));
      const dir = SHOTS ?? mkdtempSync(join(tmpdir(), 'spendcap-shots-'));
      const file = join(dir, 'alerts-telegram.png');
      await page.screenshot({ path: file, fullPage: true });
      assert.ok(statSync(file).size > 5_000);
      assert.equal(await page.locator('.btn', { hasText: '+$5' }).count() > 0, true);
    } finally {
      await browser.close();
    }
  });
});

describe('telegram channel in a group chat with allowedUsers', () => {
  test('a member not on the list is refused; a listed one acts', async () => {
    const fake = await startFakeTelegram();
    const GROUP = -1001234;
    const refusals: TelegramRefusal[] = [];
    const bank = fakeBank();
    const channel = createTelegramChannel(config(fake, { chatId: String(GROUP), allowedUsers: '11, 12' }), { onRefused: (r) => refusals.push(r), pollTimeoutSeconds: 1 });
    try {
      await channel.start?.((a) => bank.handle(a));
      const r = await channel.send(recoveryAlert());
      const id = Number(r.ref?.messageId);
      const q = fake.tap(id, '+$1', { chatId: GROUP, userId: 13 });
      await fake.waitFor(() => fake.answers.find((a) => a.callback_query_id === q), 'the refusal');
      assert.deepEqual(refusals, [{ channel: 'telegram', channelName: 'phone', chatId: String(GROUP), user: '13', reason: 'user', budget: 'work', action: 'add' }]);
      assert.equal(bank.calls.length, 0);
      fake.tap(id, '+$1', { chatId: GROUP, userId: 12 });
      await fake.waitFor(() => bank.calls.length === 1, 'the listed user acting');
      assert.equal(bank.calls[0]?.user, '12');
      // Stopped and started again: one tap is still one call.
      await channel.stop();
      await channel.start?.((a) => bank.handle(a));
      const q2 = fake.tap(id, '+$1', { chatId: GROUP, userId: 11 });
      await fake.waitFor(() => fake.answers.find((a) => a.callback_query_id === q2), 'the answer after a restart');
      assert.equal(bank.calls.length, 2);
    } finally {
      await channel.stop();
      await fake.close();
    }
  });
});

describe('telegram channel with a slow handler', () => {
  test('a handler slower than the callback query lives still rewrites the message', async () => {
    const fake = await startFakeTelegram(undefined, { queryTtlMs: 200 });
    const channel = createTelegramChannel(config(fake), { pollTimeoutSeconds: 1, onError: () => {} });
    try {
      await channel.start?.(async () => {
        await new Promise((r) => setTimeout(r, 400));
        return { ok: true, text: '✓ Allowed — +$5 for key work' };
      });
      const r = await channel.send(askAlert());
      const id = Number(r.ref?.messageId);
      fake.tap(id, 'Allow +$5', { chatId: CHAT, userId: CHAT });
      const m = await fake.waitFor(() => { const x = fake.messages.get(id); return x && x.history.length > 1 ? x : undefined; }, 'the rewrite');
      assert.match(m.text, /✓ Allowed/);
      assert.equal(fake.answers.length, 0, 'the late answer was refused by the API');
    } finally {
      await channel.stop();
      await fake.close();
    }
  });
});

describe('discoverTelegramChatId', () => {
  test('returns the chat of the first /start and confirms it, replying in that chat', async () => {
    const fake = await startFakeTelegram();
    try {
      setTimeout(() => { fake.say(CHAT, CHAT, 'hello'); fake.say(CHAT, CHAT, '/start'); }, 100);
      const found = await discoverTelegramChatId(fake.token, fake.apiRoot, { timeoutMs: 5_000 });
      assert.deepEqual(found, { chatId: String(CHAT), chatType: 'private', botUsername: 'spendcap_test_bot', from: `user${CHAT}` });
      assert.match([...fake.messages.values()].at(-1)?.text ?? '', /found this chat: id 424242/);
      const polls = fake.calls.filter((c) => c.method === 'getUpdates');
      assert.ok(Number(polls.at(-1)?.params.offset) > 0, 'the /start update is confirmed');
    } finally {
      await fake.close();
    }
  });

  test('no /start in time is a typed error naming the bot', async () => {
    const fake = await startFakeTelegram();
    try {
      await assert.rejects(discoverTelegramChatId(fake.token, fake.apiRoot, { timeoutMs: 1_200 }), (e: unknown) => e instanceof TelegramChannelError && e.code === 'E_TELEGRAM_NO_START' && /t\.me\/spendcap_test_bot/.test(e.message));
    } finally {
      await fake.close();
    }
  });
});
