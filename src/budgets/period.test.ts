import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localDay, periodWindow, startOfLocalDay } from './period.js';
import { parseThresholds } from './settings.js';
import { suggestCap } from './autotune.js';

const at = (iso: string) => Date.parse(iso);
const win = (period: 'day' | 'week' | 'month' | 'total', iso: string, tz: string) => {
  const w = periodWindow(period, at(iso), tz);
  return [new Date(w.start).toISOString(), w.end === null ? null : new Date(w.end).toISOString()];
};

test('a day across DST is 23 or 25 hours and starts at local midnight (Europe/Paris)', () => {
  assert.deepEqual(win('day', '2026-03-29T10:00:00Z', 'Europe/Paris'), ['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z']);
  assert.deepEqual(win('day', '2026-10-25T10:00:00Z', 'Europe/Paris'), ['2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z']);
  // 23:30 local on the short day still belongs to it; 00:00 local the next day starts the next.
  assert.deepEqual(win('day', '2026-03-29T21:30:00Z', 'Europe/Paris')[0], '2026-03-28T23:00:00.000Z');
  assert.deepEqual(win('day', '2026-03-29T22:00:00Z', 'Europe/Paris')[0], '2026-03-29T22:00:00.000Z');
});

test('where DST skips midnight, the day starts at the first instant that exists (America/Santiago)', () => {
  assert.deepEqual(win('day', '2026-09-06T12:00:00Z', 'America/Santiago'), ['2026-09-06T04:00:00.000Z', '2026-09-07T03:00:00.000Z']);
  assert.deepEqual(win('day', '2026-09-05T12:00:00Z', 'America/Santiago'), ['2026-09-05T04:00:00.000Z', '2026-09-06T04:00:00.000Z']);
});

test('months end on the right day: February of a leap year, December into January, zones ahead of UTC', () => {
  assert.deepEqual(win('month', '2028-02-29T23:30:00Z', 'UTC'), ['2028-02-01T00:00:00.000Z', '2028-03-01T00:00:00.000Z']);
  // 05:00 on 1 March in India: already March there.
  assert.deepEqual(win('month', '2028-02-29T23:30:00Z', 'Asia/Kolkata'), ['2028-02-29T18:30:00.000Z', '2028-03-31T18:30:00.000Z']);
  assert.deepEqual(win('month', '2026-12-31T23:00:00Z', 'America/New_York'), ['2026-12-01T05:00:00.000Z', '2027-01-01T05:00:00.000Z']);
  assert.deepEqual(win('month', '2026-01-31T12:00:00Z', 'UTC'), ['2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z']);
});

test('weeks run Monday to Monday, across a year end and a DST change', () => {
  assert.deepEqual(win('week', '2026-01-01T12:00:00Z', 'UTC'), ['2025-12-29T00:00:00.000Z', '2026-01-05T00:00:00.000Z']);
  // Sunday 29 March 2026 23:59 Paris is still the week that began Monday 23 March (167 h long).
  assert.deepEqual(win('week', '2026-03-29T21:59:00Z', 'Europe/Paris'), ['2026-03-22T23:00:00.000Z', '2026-03-29T22:00:00.000Z']);
  assert.deepEqual(win('total', '2026-03-29T21:59:00Z', 'Europe/Paris'), ['1970-01-01T00:00:00.000Z', null]);
});

test('the same instant is a different day in zones far apart; localDay names it', () => {
  const t = at('2026-06-01T09:00:00Z');
  assert.equal(localDay(t, 'Pacific/Kiritimati').day, '2026-06-01');
  assert.equal(localDay(t, 'Pacific/Pago_Pago').day, '2026-05-31');
  assert.equal(startOfLocalDay(2026, 6, 1, 'Pacific/Kiritimati'), at('2026-05-31T10:00:00Z'));
  assert.equal(startOfLocalDay(2026, 1, 32, 'UTC'), at('2026-02-01T00:00:00Z'), 'days roll over like Date');
});

test('thresholds parse to sorted whole percentages', () => {
  assert.deepEqual(parseThresholds('100, 50,80'), [50, 80, 100]);
  assert.deepEqual(parseThresholds('none'), []);
  assert.throws(() => parseThresholds('50,abc'), /whole percentages/);
});

test('auto-tune: p90 of 14 days × 1.2, rounded up to the cent, scaled to the period; nothing from too little history', () => {
  const days = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map((d) => d * 100_000_000);
  // p90 nearest rank of 14 values = the 13th smallest = $1.30; × 1.2 = $1.56.
  assert.equal(suggestCap(days, 'day').suggestedNanos, 1_560_000_000);
  assert.equal(suggestCap(days, 'week').suggestedNanos, 10_920_000_000);
  assert.equal(suggestCap(days, 'month').suggestedNanos, 46_800_000_000);
  assert.equal(suggestCap(days, 'total').suggestedNanos, null);
  assert.equal(suggestCap([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 5], 'day').suggestedNanos, null);
  assert.equal(suggestCap([...new Array<number>(11).fill(0), 333_000, 333_000, 333_000], 'day').suggestedNanos, 10_000_000, 'at least a cent');
});
