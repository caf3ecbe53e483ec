import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConditionalPrice } from '@pydantic/genai-prices';
import { compileMatch, modelPriceToRates, priceSchedule } from './catalogue.js';

test('missing cache prices default to Anthropic multipliers (0.1× / 1.25× / 2× input)', () => {
  assert.deepEqual(modelPriceToRates({ input_mtok: 2, output_mtok: 8 }), {
    input: 2_000_000_000,
    output: 8_000_000_000,
    cacheRead: 200_000_000,
    cacheWrite5m: 2_500_000_000,
    cacheWrite1h: 4_000_000_000,
  });
  // Given prices win over defaults; USD floats become exact integers.
  const r = modelPriceToRates({ input_mtok: 0.8, output_mtok: 4, cache_read_mtok: 0.08, cache_write_mtok: 1, cache_write_1h_mtok: 1.6 });
  assert.deepEqual(r, { input: 800_000_000, output: 4_000_000_000, cacheRead: 80_000_000, cacheWrite5m: 1_000_000_000, cacheWrite1h: 1_600_000_000 });
});

test('no input or no output price means not priced, never $0', () => {
  assert.equal(modelPriceToRates({ input_mtok: 3 }), null);
  assert.equal(modelPriceToRates({ output_mtok: 3 }), null);
  assert.equal(modelPriceToRates({}), null);
  assert.equal(modelPriceToRates({ input_mtok: -1, output_mtok: 3 }), null);
  assert.equal(modelPriceToRates({ input_mtok: Number.NaN, output_mtok: 3 }), null);
  // An explicit 0 is a real price (free model).
  assert.equal(modelPriceToRates({ input_mtok: 0, output_mtok: 0 })?.output, 0);
});

test('tiers: defaults derive from the premium input; several tiers collapse to lowest start, highest price', () => {
  const r = modelPriceToRates({ input_mtok: { base: 3, tiers: [{ start: 200_000, price: 6 }] }, output_mtok: 15 });
  assert.deepEqual(r?.longContext, {
    thresholdTokens: 200_000,
    input: 6_000_000_000,
    output: 15_000_000_000,
    cacheRead: 600_000_000,
    cacheWrite5m: 7_500_000_000,
    cacheWrite1h: 12_000_000_000,
  });
  const multi = modelPriceToRates({
    input_mtok: { base: 1, tiers: [{ start: 500_000, price: 4 }, { start: 128_000, price: 2 }] },
    output_mtok: { base: 5, tiers: [{ start: 300_000, price: 9 }] },
  });
  assert.equal(multi?.longContext?.thresholdTokens, 128_000);
  assert.equal(multi?.longContext?.input, 4_000_000_000);
  assert.equal(multi?.longContext?.output, 9_000_000_000);
  assert.equal(modelPriceToRates({ input_mtok: 1, output_mtok: 1 })?.longContext, undefined);
});

test('starts_with matches dated ids but not a newer version of the same line', () => {
  const m = compileMatch({ or: [{ starts_with: 'claude-sonnet-5' }, { starts_with: 'claude-sonnet-4-2025' }] });
  assert.ok(m('claude-sonnet-5'));
  assert.ok(m('claude-sonnet-5-20260101'));
  assert.ok(m('claude-sonnet-5@20260101'));
  assert.ok(m('claude-sonnet-5-latest'));
  assert.ok(m('claude-sonnet-4-20250514'));
  assert.ok(!m('claude-sonnet-5-7'));
  assert.ok(!m('claude-sonnet-5.5'));
  assert.ok(!m('claude-sonnet-50'));
  assert.ok(!m('claude-sonnet-5-7-20270101'));
  const r = compileMatch({ or: [{ equals: 'Claude-X' }, { regex: '^claude-y-\\d{8}$' }] });
  assert.ok(r('claude-x'));
  assert.ok(r('claude-y-20250101'));
  assert.ok(!r('claude-y-2025'));
  assert.ok(!compileMatch({ regex: '(' })('anything'), 'a broken regex matches nothing');
});

test('conditional prices: latest start_date <= now, else the unconstrained entry; UTC midnight', () => {
  const prices: ConditionalPrice[] = [
    { prices: { input_mtok: 5, output_mtok: 25 } },
    { constraint: { type: 'start_date', start_date: '2026-03-13' }, prices: { input_mtok: 4, output_mtok: 20 } },
    { constraint: { type: 'start_date', start_date: '2026-09-01' }, prices: { input_mtok: 6, output_mtok: 30 } },
  ];
  const at = priceSchedule(prices);
  const t = (iso: string): number => Date.parse(iso);
  assert.equal(at(t('2026-03-12T23:59:59.999Z')).rates?.output, 25_000_000_000);
  assert.equal(at(t('2026-03-13T00:00:00Z')).rates?.output, 20_000_000_000);
  assert.equal(at(t('2026-08-31T12:00:00Z')).rates?.output, 20_000_000_000);
  assert.equal(at(t('2027-01-01T00:00:00Z')).rates?.output, 30_000_000_000);
  const mid = at(t('2026-05-01T00:00:00Z'));
  assert.equal(mid.validFrom, t('2026-03-13T00:00:00Z'));
  assert.equal(mid.validUntil, t('2026-09-01T00:00:00Z'));
  // Only future-dated entries: charge the dearest rather than nothing.
  const future = priceSchedule([{ constraint: { type: 'start_date', start_date: '2030-01-01' }, prices: { input_mtok: 1, output_mtok: 2 } }]);
  assert.equal(future(t('2026-01-01T00:00:00Z')).rates?.output, 2_000_000_000);
});

test('time_of_date entries are taken conservatively: the dearest applies at any hour', () => {
  const at = priceSchedule([
    { prices: { input_mtok: 0.27, output_mtok: 1.1 } },
    { constraint: { type: 'time_of_date', start_time: '16:30:00Z', end_time: '00:30:00Z' }, prices: { input_mtok: 0.135, output_mtok: 0.55 } },
  ]);
  assert.equal(at(Date.parse('2026-01-01T17:00:00Z')).rates?.output, 1_100_000_000);
  const dearer = priceSchedule([
    { prices: { input_mtok: 1, output_mtok: 2 } },
    { constraint: { type: 'time_of_date', start_time: '08:00:00Z', end_time: '18:00:00Z' }, prices: { input_mtok: 2, output_mtok: 4 } },
  ]);
  assert.equal(dearer(Date.parse('2026-01-01T02:00:00Z')).rates?.output, 4_000_000_000);
});
