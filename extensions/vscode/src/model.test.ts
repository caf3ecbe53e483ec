import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budgetState, mergeBudgets, parseBudget, pickBudget, spendText } from './model';
import { fromUsd } from './money';
import type { Budget } from './model';

function b(name: string, spentUsd: number, capUsd: number, extra: Record<string, unknown> = {}): Budget {
  const x = parseBudget({ name, scope: 'key', period: 'day', mode: 'hard', killed: false, capUsd, spentUsd, heldUsd: 0, remainingUsd: capUsd - spentUsd, ...extra });
  assert.ok(x);
  return x;
}

test('the status bar text is "$3.10 / $15"', () => {
  assert.equal(spendText(b('work', 3.1, 15)), '$3.10 / $15');
});

test('state: ok, over 80 % (held counts), reached, killed', () => {
  assert.equal(budgetState(b('a', 12, 15)), 'ok');
  assert.equal(budgetState(b('a', 12, 15, { heldUsd: 0.5 })), 'warn');
  assert.equal(budgetState(b('a', 15, 15)), 'reached');
  assert.equal(budgetState(b('a', 1, 15, { killed: true })), 'killed');
});

test('the default budget is the one nearest its cap; a killed one first; the setting wins', () => {
  const list = [b('far', 1, 100), b('near', 9, 10), b('mid', 5, 10)];
  assert.equal(pickBudget(list, undefined)?.name, 'near');
  assert.equal(pickBudget([...list, b('dead', 0, 10, { killed: true })], undefined)?.name, 'dead');
  assert.equal(pickBudget(list, 'far')?.name, 'far');
  assert.equal(pickBudget(list, 'gone')?.name, 'near');
  assert.equal(pickBudget([], undefined), undefined);
});

test('a live event replaces changed budgets, drops removed ones, keeps the ceiling the listing gave', () => {
  const full = [b('a', 1, 10, { ceilingUsd: 50, periodEnd: '2026-03-02T00:00:00.000Z' }), b('gone', 0, 1)];
  const merged = mergeBudgets(full, [b('a', 2, 10)], ['gone']);
  assert.deepEqual(merged.map((x) => [x.name, spendText(x), x.ceiling, x.periodEnd]), [['a', '$2.00 / $10', fromUsd(50), '2026-03-02T00:00:00.000Z']]);
});
