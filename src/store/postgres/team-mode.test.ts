import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Account } from '../../budgets/account.js';
import { slotsOf } from './allowance.js';
import { redactUrl } from './team-mode.js';

test('redactUrl hides the password and keeps the rest', () => {
  assert.equal(redactUrl('postgres://spendcap:s3cr3t@db.internal:5432/spendcap'), 'postgres://spendcap:***@db.internal:5432/spendcap');
  assert.equal(redactUrl('postgres://postgres@127.0.0.1:5432/x'), 'postgres://postgres@127.0.0.1:5432/x');
  assert.doesNotMatch(redactUrl('postgres://u:p%40ss@h/db?sslmode=require'), /p%40ss|p@ss/);
});

const account = (over: Partial<Account>): Account => ({
  id: 'a',
  label: 'a',
  liftName: 'a',
  capNanos: 100,
  mode: 'hard',
  killed: false,
  spentNanos: 0,
  heldNanos: 0,
  periodEnd: null,
  periodLabel: 'total',
  exhausted: false,
  ...over,
});

test('only hard stored budgets draw on a lease: sessions and soft budgets stay per instance', () => {
  const slots = slotsOf([
    account({ budgetId: 1, periodStart: 10, scope: 'key' }),
    account({ budgetId: 2, periodStart: 10, scope: 'global', mode: 'soft' }),
    account({ scope: 'session' }),
    account({ budgetId: 3, periodStart: 20, scope: 'tag' }),
  ]);
  assert.deepEqual(slots, [
    { budgetId: 1, periodStart: 10 },
    { budgetId: 3, periodStart: 20 },
  ]);
});
