import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usdToNanos } from '../../../pricing/index.js';
import type { Alert } from '../../types.js';
import { decodeCallbackData, encodeCallbackData, fieldsSent, keepsButtons, labelIn, telegramMessage } from './format.js';

const noOverflow = (): string => {
  throw new Error('overflow not expected');
};

function alert(over: Partial<Alert> = {}): Alert {
  return {
    id: 'a1', dedupeKey: 'threshold:work:100:p', kind: 'threshold', budget: 'work', scope: 'key', thresholdPct: 100,
    spentNanos: usdToNanos(15), capNanos: usdToNanos(15), periodEnd: '2026-12-31T00:00:00.000Z', count: 1,
    title: 'key "work" reached $15.00 of $15.00', text: 'Requests are refused until the cap is raised.', dashboardUrl: 'http://127.0.0.1:8787/dashboard',
    buttons: [
      { action: 'add', label: '+$1', addNanos: usdToNanos(1) },
      { action: 'add', label: '+$5', addNanos: usdToNanos(5) },
      { action: 'add', label: '+$10', addNanos: usdToNanos(10) },
      { action: 'kill', label: 'Kill' },
    ],
    ts: '2026-12-02T02:00:00.000Z', ...over,
  };
}

test('callback data round-trips each action, and a budget with a bar in its name', () => {
  for (const b of alert().buttons) assert.deepEqual(decodeCallbackData(encodeCallbackData('team|a', b) ?? ''), { budget: 'team|a', action: b.action, ...(b.addNanos !== undefined ? { addNanos: b.addNanos } : {}) });
  const approve = { action: 'approve' as const, label: 'Allow +$5', addNanos: usdToNanos(5), askId: 'q7' };
  assert.deepEqual(decodeCallbackData(encodeCallbackData('work', approve) ?? ''), { budget: 'work', action: 'approve', addNanos: usdToNanos(5), askId: 'q7' });
  assert.equal(encodeCallbackData('w'.repeat(60), approve), null, 'over 64 bytes is not encoded');
  for (const bad of ['', 'sc1|a|x||work', 'sc1|z|||work', 'other|a|1||w', 'sc1|a|1||']) assert.equal(decodeCallbackData(bad), null, bad);
});

test('the message: escaped bold title, money on one row, Kill on the next', () => {
  const m = telegramMessage(alert({ title: 'key "<b>" reached & more' }), noOverflow);
  assert.match(m.text, /^<b>key "&lt;b&gt;" reached &amp; more<\/b>\n/);
  assert.match(m.text, /<a href="http:\/\/127\.0\.0\.1:8787\/dashboard">/);
  assert.deepEqual(m.reply_markup?.inline_keyboard.map((r) => r.map((b) => b.text)), [['+$1', '+$5', '+$10'], ['Kill']]);
  assert.equal(labelIn(m.reply_markup, m.reply_markup?.inline_keyboard[0]?.[1]?.callback_data ?? ''), '+$5');
  assert.equal(telegramMessage(alert({ buttons: [] }), noOverflow).reply_markup, undefined);
});

test('fieldsSent is what the message reads: other fields change nothing, listed ones change it', () => {
  const base = JSON.stringify(telegramMessage(alert(), noOverflow));
  const others: Partial<Alert> = { id: 'zz', dedupeKey: 'x', kind: 'block', scope: 'tag', thresholdPct: 50, spentNanos: 1, capNanos: 2, periodEnd: 'y', count: 9, ts: 'z' };
  for (const [k, v] of Object.entries(others)) assert.equal(JSON.stringify(telegramMessage(alert({ [k]: v }), noOverflow)), base, `${k} is not sent`);
  for (const k of ['title', 'text', 'dashboardUrl', 'budget']) {
    assert.ok(fieldsSent.includes(k));
    assert.notEqual(JSON.stringify(telegramMessage(alert({ [k]: 'other' }), noOverflow)), base, `${k} is sent`);
  }
});

test('a bump keeps the buttons for another, a kill or an answer takes them away', () => {
  assert.equal(keepsButtons('add', true), true);
  assert.equal(keepsButtons('kill', true), false);
  assert.equal(keepsButtons('approve', true), false);
  assert.equal(keepsButtons('deny', false), true);
});
