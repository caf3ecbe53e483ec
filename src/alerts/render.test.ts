import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usdToNanos } from '../pricing/index.js';
import { backoffMs, buildAlert, crossedThreshold, forecastReach, parseEvents, routes, supersededBy } from './render.js';

const base = { budget: 'work', scope: 'key' as const, spentNanos: usdToNanos(15), capNanos: usdToNanos(15), periodStart: 0, periodEnd: Date.UTC(2026, 2, 2) };
const opts = { id: 'a1', dashboardUrl: 'http://x/dashboard', tz: 'UTC', now: Date.UTC(2026, 2, 1, 14) };

test('a reached cap reads as the issue says, with +$1/+$5/+$10/Kill', () => {
  const a = buildAlert({ ...base, kind: 'threshold', thresholdPct: 100 }, opts);
  assert.equal(a.title, 'key "work" reached $15.00 of $15.00');
  assert.deepEqual(a.buttons.map((b) => b.label), ['+$1', '+$5', '+$10', 'Kill']);
  assert.deepEqual(a.buttons.map((b) => b.addNanos ?? null), [usdToNanos(1), usdToNanos(5), usdToNanos(10), null]);
  assert.match(a.text, /Dashboard: http:\/\/x\/dashboard/);
});

test('a storm of blocks is one alert whose title carries the count; the dedupe key does not change with the count', () => {
  const one = buildAlert({ ...base, kind: 'block', count: 1 }, opts);
  const many = buildAlert({ ...base, kind: 'block', count: 12 }, opts);
  assert.match(many.title, /12 requests were refused/);
  assert.equal(one.dedupeKey, many.dedupeKey);
  assert.notEqual(one.dedupeKey, buildAlert({ ...base, kind: 'block', capNanos: usdToNanos(20) }, opts).dedupeKey, 'after a raise, a block is news again');
});

test('thresholds: the highest crossed only, so 0→100% is one alert', () => {
  assert.equal(crossedThreshold(usdToNanos(15), usdToNanos(15), [50, 80, 100]), 100);
  assert.equal(crossedThreshold(usdToNanos(12), usdToNanos(15), [50, 80, 100]), 80);
  assert.equal(crossedThreshold(usdToNanos(1), usdToNanos(15), [50, 80, 100]), null);
});

test('forecast: $6 of $15 burned at $2 per 15 minutes reaches the cap in 67.5 minutes, before the day ends', () => {
  const now = Date.UTC(2026, 2, 1, 14);
  const recent = [
    { ts: now - 15 * 60_000, costNanos: usdToNanos(1) },
    { ts: now - 60_000, costNanos: usdToNanos(1) },
  ];
  const reach = forecastReach({ spentNanos: usdToNanos(6), capNanos: usdToNanos(15), periodEnd: Date.UTC(2026, 2, 2), now, recent });
  assert.equal(reach, now + 67.5 * 60_000);
  const alert = buildAlert({ ...base, kind: 'forecast', reachAt: reach, spentNanos: usdToNanos(6) }, opts);
  assert.equal(alert.title, 'key "work": at this rate the cap is reached at 15:07');
  assert.equal(forecastReach({ spentNanos: usdToNanos(6), capNanos: usdToNanos(15), periodEnd: now + 60 * 60_000, now, recent }), null, 'not before the period ends: no alert');
});

test('routing: --budget and --events choose; asks go to every channel of the budget', () => {
  assert.equal(routes({ budgets: [], events: [] }, { kind: 'block', budget: 'x' }), true);
  assert.equal(routes({ budgets: ['work'], events: [] }, { kind: 'block', budget: 'x' }), false);
  assert.equal(routes({ budgets: [], events: ['threshold'] }, { kind: 'block', budget: 'x' }), false);
  assert.equal(routes({ budgets: [], events: ['threshold'] }, { kind: 'ask', budget: 'x' }), true);
  assert.deepEqual(parseEvents('threshold,block,cut,kill,lift'), ['threshold', 'block', 'cut', 'kill', 'lift']);
  assert.throws(() => parseEvents('bogus'), /unknown event "bogus"/);
});

test('a backlog keeps the newest per budget; asks and rows not tried yet are never superseded', () => {
  const rows = [
    { id: 'a', budget: 'w', kind: 'threshold', updatedAt: 1, attempts: 3 },
    { id: 'b', budget: 'w', kind: 'block', updatedAt: 3, attempts: 1 },
    { id: 'c', budget: 'w', kind: 'ask', updatedAt: 2, attempts: 2 },
    { id: 'd', budget: 'z', kind: 'cut', updatedAt: 1, attempts: 0 },
    { id: 'e', budget: 'z', kind: 'threshold', updatedAt: 2, attempts: 0 },
    { id: 'f', budget: 'w', kind: 'cut', updatedAt: 2, attempts: 0 },
  ];
  assert.deepEqual(supersededBy(rows), ['a']);
  assert.deepEqual([1, 2, 3, 10, 20].map(backoffMs), [1000, 2000, 4000, 300_000, 300_000]);
});
