import { test } from 'node:test';
import assert from 'node:assert/strict';
import { burnPerHour, newState, renderLines, sample } from './watch-view.js';
import type { LiveBudget } from '../../admin/live.js';

const budget = (name: string, spentUsd: number, capUsd: number, extra: Partial<LiveBudget> = {}): LiveBudget => ({ name, scope: 'key', period: 'day', mode: 'hard', killed: false, capUsd, spentUsd, heldUsd: 0, remainingUsd: Math.max(0, capUsd - spentUsd), ...extra });

test('burn rate is the spend over the sampled window, per hour', () => {
  const s = newState('http://x');
  sample(s, budget('w', 1, 15), 0);
  sample(s, budget('w', 2, 15), 30 * 60_000);
  assert.equal(burnPerHour(s, 'w'), 2);
  assert.equal(burnPerHour(s, 'none'), 0);
});

test('every line fits the terminal, the screen is exactly its height, the selection and states show', () => {
  const s = newState('http://127.0.0.1:8787');
  s.connected = true;
  s.budgets = [budget('a-very-long-budget-name-indeed', 3, 15), budget('b', 2, 2), budget('c', 1, 5, { killed: true })];
  s.selected = 1;
  s.recent = Array.from({ length: 50 }, (_, i) => ({ ts: '2026-03-10T10:00:00.000Z', keyName: 'b', model: `m${i}`, costUsd: 0.01, outcome: 'ok' }));
  for (const [cols, rows] of [[100, 30], [40, 12]] as const) {
    const lines = renderLines(s, cols, rows);
    assert.equal(lines.length, rows);
    assert.ok(lines.every((l) => [...l].length <= cols));
    assert.ok(lines.some((l) => l.startsWith('> b ') && (cols < 80 || l.includes('AT CAP'))));
    assert.ok(lines.some((l) => l.startsWith('  c ') && (cols < 80 || l.includes('KILLED'))));
    assert.match(lines[rows - 1]!, /^↑\/↓ select/);
  }
});
