import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromUsd } from './money';
import { parseBudget } from './model';
import { burnPerHour, capReachedAt, dayName, startOfDay } from './report';

test('today starts at local midnight of spendcap\'s time zone, across DST too', () => {
  const now = new Date('2026-03-29T12:00:00Z'); // the day Paris moves to summer time
  assert.equal(startOfDay(now, 'UTC').toISOString(), '2026-03-29T00:00:00.000Z');
  assert.equal(startOfDay(now, 'Europe/Paris').toISOString(), '2026-03-28T23:00:00.000Z');
  assert.equal(startOfDay(new Date('2026-03-29T23:30:00Z'), 'America/New_York').toISOString(), '2026-03-29T04:00:00.000Z');
  assert.equal(dayName(new Date('2026-03-29T23:30:00Z'), 'Europe/Paris'), '2026-03-30');
});

test('burn rate counts the rows of the budget: its key, its tag, or all for a global one', () => {
  const rows = [
    { keyName: 'work', tag: null, costUsd: 0.5 },
    { keyName: 'work', tag: 'ci', costUsd: 0.25 },
    { keyName: 'home', tag: null, costUsd: 1 },
  ];
  assert.equal(burnPerHour({ name: 'work', scope: 'key' }, rows), fromUsd(0.75));
  assert.equal(burnPerHour({ name: 'ci', scope: 'tag' }, rows), fromUsd(0.25));
  assert.equal(burnPerHour({ name: 'all', scope: 'global' }, rows), fromUsd(1.75));
  assert.equal(burnPerHour({ name: 'work', scope: 'key' }, rows, 1_800_000), fromUsd(1.5), 'per hour over a half-hour window');
});

test('the cap is reached when what is left runs out at the burn rate, unless the period resets first', () => {
  const now = new Date('2026-03-01T10:00:00Z');
  const b = parseBudget({ name: 'w', scope: 'key', capUsd: 15, spentUsd: 5, heldUsd: 1, killed: false, periodEnd: '2026-03-02T00:00:00.000Z' })!;
  assert.equal(capReachedAt(b, fromUsd(2), now)?.toISOString(), '2026-03-01T14:30:00.000Z');
  assert.equal(capReachedAt(b, 0, now), null);
  assert.equal(capReachedAt(b, fromUsd(0.5), now), null, '18 h needed, 14 h left in the day');
});
