import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budgetMoney, formatCap, formatCents, formatPrecise, fromUsd, liftBody, toUsd } from './money';

test('USD from the API becomes exact integer units, and back', () => {
  assert.equal(fromUsd(0.1 + 0.2), fromUsd(0.3));
  assert.equal(toUsd(fromUsd(3.1)), 3.1);
  const m = budgetMoney({ capUsd: 15, spentUsd: 3.2, heldUsd: 0.04, remainingUsd: 11.76, ceilingUsd: null });
  assert.equal(m.cap - m.spent - m.held, m.remaining);
  assert.equal(m.ceiling, null);
  // Nano-dollars, as spendcap counts: a cheap request's cost is not rounded away when rows are summed.
  assert.equal(fromUsd(0.000000123), 123);
  assert.equal([0.0000004, 0.0000004, 0.0000004].map(fromUsd).reduce((a, b) => a + b, 0), 1200);
});

test('spent is shown rounded up to the cent, caps without cents when whole', () => {
  assert.equal(formatCents(fromUsd(3.1)), '$3.10');
  assert.equal(formatCents(fromUsd(3.101)), '$3.11', 'never shows less than was spent');
  assert.equal(formatCents(0), '$0.00');
  assert.equal(formatCap(fromUsd(15)), '$15');
  assert.equal(formatCap(fromUsd(15.5)), '$15.50');
  assert.equal(formatPrecise(fromUsd(0.0042)), '$0.0042');
});

test('a lift body says what the API takes', () => {
  assert.deepEqual(liftBody(fromUsd(5)), { add: 5 });
  assert.deepEqual(liftBody('ceiling'), { toCeiling: true });
});
