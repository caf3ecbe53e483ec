import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usdToNanos } from '../pricing/index.js';
import { corrections, dailyDrift, generationDrift, keyUsageDrift, sumByUtcDay, utcDay } from './compare.js';
import type { GenerationCheck, LedgerCost } from './compare.js';

const day1 = Date.UTC(2026, 2, 1, 23, 30);
const day2 = Date.UTC(2026, 2, 2, 0, 30);
const row = (id: number, ts: number, keyName: string, cost: number): LedgerCost => ({ id, ts, requestId: `gen-${id}`, keyId: 1, keyName, provider: 'openrouter', costNanos: usdToNanos(cost) });

test('a row whose charge differs from OpenRouter\'s figure is corrected to it; matching and unknown rows are not', () => {
  const checks: GenerationCheck[] = [
    { row: row(1, day1, 'a', 0.01), providerNanos: usdToNanos(0.012), cancelled: false },
    { row: row(2, day1, 'a', 0.02), providerNanos: usdToNanos(0.02), cancelled: false },
    { row: row(3, day2, 'a', 0.05), providerNanos: usdToNanos(0.003), cancelled: true },
    { row: row(4, day2, 'b', 0.05), providerNanos: null, cancelled: false },
  ];
  assert.deepEqual(
    corrections(checks).map((c) => [c.rowId, c.day, c.fromNanos, c.toNanos, c.cancelled]),
    [
      [1, '2026-03-01', usdToNanos(0.01), usdToNanos(0.012), false],
      [3, '2026-03-02', usdToNanos(0.05), usdToNanos(0.003), true],
    ],
  );
  const lines = generationDrift(checks);
  assert.deepEqual(
    lines.map((l) => [l.subject, l.day, l.driftNanos, l.rows, l.missing]),
    [
      ['a', '2026-03-01', usdToNanos(0.002), 2, 0],
      ['a', '2026-03-02', usdToNanos(0.003) - usdToNanos(0.05), 1, 0],
      ['b', '2026-03-02', 0, 1, 1],
    ],
  );
});

test('daily reports are compared per UTC day, each day either side has', () => {
  const ledger = sumByUtcDay([
    { ts: day1, costNanos: usdToNanos(1) },
    { ts: day1 + 1000, costNanos: usdToNanos(0.5) },
    { ts: day2, costNanos: usdToNanos(2) },
  ]);
  assert.equal(utcDay(day2), '2026-03-02');
  const provider = new Map([
    ['2026-03-01', usdToNanos(1.5)],
    ['2026-03-03', usdToNanos(0.25)],
  ]);
  assert.deepEqual(
    dailyDrift('anthropic', 'anthropic', ledger, provider).map((l) => [l.day, l.ledgerNanos, l.providerNanos, l.driftNanos]),
    [
      ['2026-03-01', usdToNanos(1.5), usdToNanos(1.5), 0],
      ['2026-03-02', usdToNanos(2), 0, -usdToNanos(2)],
      ['2026-03-03', 0, usdToNanos(0.25), usdToNanos(0.25)],
    ],
  );
  assert.equal(keyUsageDrift('k', usdToNanos(1), usdToNanos(1.25)).driftNanos, usdToNanos(0.25));
});
