import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usdToNanos } from '../../pricing/money.js';
import { statuslineText } from './statusline.js';
import type { StatusFacts } from './statusline.js';

const NOW = Date.UTC(2026, 2, 10, 20, 40);
const base: StatusFacts = { sessionSpent: usdToNanos(0.42), keyName: 'work', period: 'day', spent: usdToNanos(3.1), cap: usdToNanos(15), burnPerHour: usdToNanos(1.2), periodEnd: Date.UTC(2026, 2, 11), killed: false };

test('the line names session spend, the period of the cap, the burn rate and when the cap is reached', () => {
  // $11.90 left at $1.20/h is 9.9 h: past midnight, so the period resets first.
  assert.equal(statuslineText(base, NOW, 'UTC'), 'spendcap $0.42 session · $3.10 of $15.00 today · $1.20/h · resets first (00:00)');
  // $2.90 left at $1.20/h: 2 h 25 min from 20:40.
  assert.equal(statuslineText({ ...base, spent: usdToNanos(12.1) }, NOW, 'UTC'), 'spendcap $0.42 session · $12.10 of $15.00 today · $1.20/h · cap at 23:05');
  assert.equal(statuslineText({ ...base, spent: usdToNanos(12.1) }, NOW, 'Europe/Paris'), 'spendcap $0.42 session · $12.10 of $15.00 today · $1.20/h · cap at 00:05');
});

test('at the cap, killed, idle, without a session or without a key', () => {
  assert.equal(statuslineText({ ...base, spent: usdToNanos(15) }, NOW, 'UTC'), 'spendcap $0.42 session · $15.00 of $15.00 today · $1.20/h · AT CAP');
  assert.equal(statuslineText({ ...base, killed: true }, NOW, 'UTC'), 'spendcap $0.42 session · $3.10 of $15.00 today · KILLED');
  assert.equal(statuslineText({ ...base, burnPerHour: 0 }, NOW, 'UTC'), 'spendcap $0.42 session · $3.10 of $15.00 today');
  assert.equal(statuslineText({ ...base, sessionSpent: null, period: 'week', periodEnd: null }, NOW, 'UTC'), 'spendcap · $3.10 of $15.00 this week · $1.20/h · cap at 06:35');
  assert.equal(statuslineText({ ...base, keyName: null }, NOW, 'UTC'), 'spendcap $0.42 session');
});
