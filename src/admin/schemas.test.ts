import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, createBudgetSchema, liftSchema, pageQuerySchema, parseWith, priceSchema, queryObject, updateBudgetSchema } from './schemas.js';

function fieldOf(fn: () => unknown): string | null {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 400);
    return err.field;
  }
  assert.fail('expected a 400');
}

test('bodies: the error names the field that is wrong', () => {
  assert.equal(fieldOf(() => parseWith(createBudgetSchema, { name: 'x', scope: 'global' }, 'body')), 'cap');
  assert.equal(fieldOf(() => parseWith(createBudgetSchema, { name: 'x', scope: 'global', cap: '5' }, 'body')), 'cap');
  assert.equal(fieldOf(() => parseWith(createBudgetSchema, { name: 'x', scope: 'key', cap: 5 }, 'body')), 'scope');
  assert.equal(fieldOf(() => parseWith(createBudgetSchema, { name: '-x', scope: 'tag', cap: 5 }, 'body')), 'name');
  assert.equal(fieldOf(() => parseWith(createBudgetSchema, { name: 'x', scope: 'tag', cap: 5, colour: 'red' }, 'body')), 'colour');
  assert.equal(fieldOf(() => parseWith(updateBudgetSchema, { period: 'year' }, 'body')), 'period');
  assert.equal(fieldOf(() => parseWith(updateBudgetSchema, { cap: -1 }, 'body')), 'cap');
  assert.equal(fieldOf(() => parseWith(liftSchema, { add: 1, double: true }, 'body')), 'add');
  assert.equal(fieldOf(() => parseWith(liftSchema, { double: false }, 'body')), 'double');
  assert.equal(fieldOf(() => parseWith(priceSchema, { input: 3 }, 'body')), 'output');
  assert.equal(fieldOf(() => parseWith(createBudgetSchema, [], 'body')), null);
});

test('bodies: defaults fill what is left out', () => {
  assert.deepEqual(parseWith(createBudgetSchema, { name: 'team', scope: 'global', cap: 50 }, 'body'), { name: 'team', scope: 'global', cap: 50, period: 'day', mode: 'hard', ceiling: null, clamp: false, autotune: 'off' });
  assert.deepEqual(parseWith(liftSchema, { toCeiling: true }, 'body'), { toCeiling: true });
});

test('queries: numbers and times are checked, unknown or repeated parameters refused', () => {
  assert.deepEqual(parseWith(pageQuerySchema, queryObject('?limit=5&offset=10&since=2026-01-01'), 'query'), { limit: 5, offset: 10, since: Date.parse('2026-01-01') });
  assert.deepEqual(parseWith(pageQuerySchema, queryObject('since=1700000000000'), 'query'), { limit: 50, offset: 0, since: 1_700_000_000_000 });
  assert.equal(fieldOf(() => parseWith(pageQuerySchema, queryObject('limit=0'), 'query')), 'limit');
  assert.equal(fieldOf(() => parseWith(pageQuerySchema, queryObject('offset=-1'), 'query')), 'offset');
  assert.equal(fieldOf(() => parseWith(pageQuerySchema, queryObject('since=yesterday'), 'query')), 'since');
  assert.equal(fieldOf(() => parseWith(pageQuerySchema, queryObject('page=2'), 'query')), 'page');
  assert.equal(fieldOf(() => queryObject('limit=1&limit=2')), 'limit');
});
