import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffBudgets, sseMessage } from './live.js';
import type { LiveBudget } from './live.js';

const b = (name: string, spentUsd: number, heldUsd = 0): LiveBudget => ({ name, scope: 'key', period: 'day', mode: 'hard', killed: false, capUsd: 10, spentUsd, heldUsd, remainingUsd: 10 - spentUsd - heldUsd });

test('diffBudgets reports new and changed budgets, and removed names, once', () => {
  const state = new Map<string, LiveBudget>();
  assert.deepEqual(diffBudgets(state, [b('a', 0), b('b', 0)]).changed.map((x) => x.name), ['a', 'b']);
  assert.deepEqual(diffBudgets(state, [b('a', 0), b('b', 0)]), { changed: [], removed: [] });
  assert.deepEqual(diffBudgets(state, [b('a', 0, 0.5), b('b', 0)]).changed.map((x) => x.name), ['a']);
  assert.deepEqual(diffBudgets(state, [b('a', 0, 0.5)]), { changed: [], removed: ['b'] });
  assert.deepEqual(diffBudgets(state, [b('a', 0, 0.5)]), { changed: [], removed: [] });
});

test('sseMessage frames one JSON line per event', () => {
  assert.equal(sseMessage('spend', { a: 'x\ny' }, 3), 'id: 3\nevent: spend\ndata: {"a":"x\\ny"}\n\n');
});
