import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alertFor, cutAlerts } from './alerts';
import { parseBudget } from './model';

const b = (spentUsd: number, extra: Record<string, unknown> = {}) => parseBudget({ name: 'w', capUsd: 10, spentUsd, heldUsd: 0, killed: false, ...extra })!;
const T = [50, 80, 100];

test('crossing a threshold alerts once with the highest one passed', () => {
  assert.equal(alertFor(b(4), b(4.9), T), null);
  assert.deepEqual(alertFor(b(4), b(8.5), T)?.message, 'spendcap: budget "w" passed 80 % of its cap ($8.50 / $10).');
  assert.equal(alertFor(b(8.5), b(8.7), T), null, 'no repeat inside the same band');
  assert.equal(alertFor(b(9), b(2), T), null, 'a lift is not an alarm');
  assert.equal(alertFor(b(7), b(7.6, { heldUsd: 0.5 }), T)?.message, 'spendcap: budget "w" passed 80 % of its cap ($7.60 / $10, $0.50 held by open requests).', 'the held part is named');
});

test('reaching the cap and being killed are their own alerts', () => {
  assert.equal(alertFor(b(9), b(10), T)?.kind, 'reached');
  assert.equal(alertFor(b(9), b(9, { killed: true }), T)?.kind, 'killed');
  assert.equal(alertFor(b(9, { killed: true }), b(10, { killed: true }), T), null);
});

test('cut responses are grouped per key', () => {
  const a = cutAlerts([{ keyName: 'w' }, { keyName: 'w' }, { keyName: 'x' }]);
  assert.deepEqual(a.map((x) => x.message), ['spendcap: 2 responses on key "w" were cut at the cap.', 'spendcap: a response on key "x" was cut at the cap.']);
});
