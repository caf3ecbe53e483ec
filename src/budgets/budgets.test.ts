import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commonRoom, findRefusal, periodWindow, planGrowth, release, reserve, settle } from './index.js';
import type { Account } from './index.js';

const account = (over: Partial<Account> = {}): Account => ({
  id: 'k1',
  label: 'key "work"',
  liftName: 'work',
  capNanos: 1_000_000,
  mode: 'hard',
  killed: false,
  spentNanos: 0,
  heldNanos: 0,
  periodEnd: null,
  periodLabel: 'day',
  exhausted: false,
  ...over,
});

test('reserve is all-or-nothing across accounts', () => {
  const key = account({ spentNanos: 200_000 });
  const session = account({ id: 's1', capNanos: 300_000, spentNanos: 250_000 });
  const refusal = reserve([key, session], 100_000);
  assert.equal(refusal?.code, 'E_CAP_REACHED');
  assert.equal(refusal?.account, session);
  assert.equal(key.heldNanos, 0, 'the key account must not keep a partial hold');
  assert.equal(reserve([key, session], 50_000), null);
  assert.equal(key.heldNanos, 50_000);
  assert.equal(session.heldNanos, 50_000);
});

test('charged + held never passes the cap through reserve', () => {
  const a = account({ capNanos: 1_000 });
  let granted = 0;
  for (let i = 0; i < 100; i++) if (reserve([a], 37) === null) granted++;
  assert.equal(granted, 27);
  assert.ok(a.spentNanos + a.heldNanos <= a.capNanos);
});

test('killed and exhausted accounts refuse; soft accounts never do', () => {
  assert.equal(findRefusal([account({ killed: true })], 0)?.code, 'E_KILLED');
  assert.equal(findRefusal([account({ exhausted: true })], 1)?.code, 'E_CAP_REACHED');
  assert.equal(findRefusal([account({ mode: 'soft', killed: true, spentNanos: 5_000_000 })], 10), null);
  assert.equal(commonRoom([account({ capNanos: 10, heldNanos: 3 }), account({ capNanos: 100 })]), 7);
  assert.equal(commonRoom([account({ mode: 'soft' })]), Number.POSITIVE_INFINITY);
});

test('settle turns a hold into a charge', () => {
  const a = account();
  reserve([a], 500);
  settle([a], 500, 420);
  assert.deepEqual([a.heldNanos, a.spentNanos], [0, 420]);
  reserve([a], 10);
  release([a], 10);
  assert.equal(a.heldNanos, 0);
});

test('planGrowth: keep, grow ahead by a step, take only what is left, cut, shrink', () => {
  assert.deepEqual(planGrowth(100, 90, 50, 1_000), { action: 'keep' });
  assert.deepEqual(planGrowth(100, 120, 50, 1_000), { action: 'grow', extraNanos: 70 });
  assert.deepEqual(planGrowth(100, 120, 50, 30), { action: 'grow', extraNanos: 30 });
  assert.deepEqual(planGrowth(100, 120, 50, 19), { action: 'cut' });
  assert.deepEqual(planGrowth(1_000, 100, 50, 0), { action: 'shrink', releaseNanos: 850 });
});

test('period windows: day, Monday weeks, months, total', () => {
  const wed = new Date(2026, 10, 25, 15, 30).getTime(); // Wednesday 25 Nov 2026, local time
  assert.deepEqual(periodWindow('day', wed), { start: new Date(2026, 10, 25).getTime(), end: new Date(2026, 10, 26).getTime() });
  assert.deepEqual(periodWindow('week', wed), { start: new Date(2026, 10, 23).getTime(), end: new Date(2026, 10, 30).getTime() });
  const sunday = new Date(2026, 10, 29, 23, 59).getTime();
  assert.equal(periodWindow('week', sunday).start, new Date(2026, 10, 23).getTime());
  assert.deepEqual(periodWindow('month', wed), { start: new Date(2026, 10, 1).getTime(), end: new Date(2026, 11, 1).getTime() });
  assert.deepEqual(periodWindow('total', wed), { start: 0, end: null });
});
