import { test } from 'node:test';
import assert from 'node:assert/strict';
import { costNanos } from './cost.js';
import { UnknownModelError } from './errors.js';
import { PriceBook } from './price-book.js';
import { ZERO_USAGE } from './types.js';
import type { PriceOverride } from './price-book.js';
import type { ResolvedPrice } from './types.js';

const NOW = new Date('2026-11-01T00:00:00Z');
const book = (overrides: PriceOverride[] = []): PriceBook =>
  new PriceBook({ overrides, now: () => NOW });

function priced(b: PriceBook, model: string): ResolvedPrice {
  const r = b.resolve('anthropic', model);
  if (r instanceof UnknownModelError) assert.fail(r.message);
  return r;
}

test('list prices: claude-haiku-4-5 $1/$5, $0.10 read, $1.25 5m, $2 1h; claude-opus-4-8 $5/$25', () => {
  const b = book();
  const haiku = priced(b, 'claude-haiku-4-5');
  assert.deepEqual(
    { ...haiku.rates },
    { input: 1_000_000_000, output: 5_000_000_000, cacheRead: 100_000_000, cacheWrite5m: 1_250_000_000, cacheWrite1h: 2_000_000_000 },
  );
  assert.equal(haiku.source, 'catalogue');
  assert.equal(haiku.estimated, false);
  const opus = priced(b, 'claude-opus-4-8');
  assert.equal(opus.rates.input, 5_000_000_000);
  assert.equal(opus.rates.output, 25_000_000_000);
  const sonnet = priced(b, 'claude-sonnet-4-5');
  assert.equal(sonnet.rates.input, 3_000_000_000);
  assert.equal(sonnet.rates.output, 15_000_000_000);
  assert.equal(sonnet.rates.longContext?.thresholdTokens, 200_000);
  assert.equal(sonnet.rates.longContext?.output, 22_500_000_000);
});

test('dated ids resolve through the catalogue match logic', () => {
  const b = book();
  for (const [model, pricedAs] of [
    ['claude-sonnet-4-5-20250929', 'claude-sonnet-4-5'],
    ['claude-haiku-4-5-20251001', 'claude-haiku-4-5'],
    ['claude-sonnet-4-5@20250929', 'claude-sonnet-4-5'],
    ['claude-sonnet-4-20250514', 'claude-sonnet-4-0'],
    ['claude-3-5-sonnet-20241022', 'claude-3-5-sonnet'],
  ] as const) {
    const r = priced(b, model);
    assert.equal(r.pricedAs, pricedAs, model);
    assert.equal(r.model, model);
    assert.equal(r.source, 'catalogue');
    assert.equal(r.estimated, false);
  }
});

test('conditional price by date: claude-opus-4-6 tiered before 2026-03-13, flat from it', () => {
  let now = new Date('2026-03-12T23:59:59Z');
  const b = new PriceBook({ overrides: [], now: () => now });
  const big = { ...ZERO_USAGE, inputTokens: 250_000 };
  const before = priced(b, 'claude-opus-4-6');
  assert.equal(before.rates.longContext?.input, 10_000_000_000);
  assert.equal(before.rates.longContext?.output, 37_500_000_000);
  assert.equal(costNanos(big, before.rates), 2_500_000_000);
  now = new Date('2026-03-13T00:00:00Z'); // same book: the cached answer must expire at the boundary
  const after = priced(b, 'claude-opus-4-6');
  assert.equal(after.rates.longContext, undefined);
  assert.equal(after.rates.input, 5_000_000_000);
  assert.equal(costNanos(big, after.rates), 1_250_000_000);
});

test('family fallback: claude-opus-4-9 is priced at the dearest opus, estimated', () => {
  const b = book();
  const r = priced(b, 'claude-opus-4-9');
  assert.equal(r.source, 'family-fallback');
  assert.equal(r.estimated, true);
  assert.equal(r.model, 'claude-opus-4-9');
  assert.ok(r.pricedAs.split('-').includes('opus'), r.pricedAs);
  const opuses = b.listKnown('anthropic').filter((k) => k.id.split('-').includes('opus'));
  const maxOut = Math.max(...opuses.map((k) => k.rates.output));
  assert.equal(r.rates.output, maxOut);
  assert.deepEqual(r.rates, priced(b, r.pricedAs).rates);
  assert.ok(r.rates.output >= 25_000_000 && r.rates.input >= 5_000_000);
});

test('family fallback for other unreleased ids; the family word must be a whole part', () => {
  const b = book();
  for (const [model, family] of [
    ['claude-sonnet-5-7', 'sonnet'], // must not be swallowed by claude-sonnet-5's starts_with
    ['claude-haiku-9', 'haiku'],
    ['claude-3-9-opus', 'opus'],
  ] as const) {
    const r = priced(b, model);
    assert.equal(r.source, 'family-fallback', model);
    assert.ok(r.pricedAs.split('-').includes(family), `${model} → ${r.pricedAs}`);
    const max = Math.max(...b.listKnown('anthropic').filter((k) => k.id.split('-').includes(family)).map((k) => k.rates.output));
    assert.equal(r.rates.output, max, model);
  }
  assert.ok(b.resolve('anthropic', 'claude-opusx-1') instanceof UnknownModelError);
});

test('refusal: no family match is an UnknownModelError, returned not thrown', () => {
  const b = book();
  for (const model of ['gpt-99', 'llama-foo', 'claude-mythos-1']) {
    const r = b.resolve('anthropic', model);
    assert.ok(r instanceof UnknownModelError, model);
    assert.ok(r instanceof Error);
    assert.equal(r.code, 'E_UNKNOWN_MODEL');
    assert.equal(r.model, model);
    assert.equal(r.provider, 'anthropic');
  }
  const e = b.resolve('anthropic', 'gpt-99');
  assert.ok(e instanceof UnknownModelError);
  assert.equal(
    e.message,
    'spendcap has no price for model "gpt-99" (provider anthropic) and cannot cap its spend. ' +
      'Set one: spendcap price set gpt-99 --input <USD per Mtok> --output <USD per Mtok>',
  );
  const odd = b.resolve('anthropic', "it's\nodd");
  assert.ok(odd instanceof UnknownModelError);
  assert.ok(!odd.message.includes('\n'));
  assert.ok(odd.message.endsWith(`price set "it's\\nodd" --input <USD per Mtok> --output <USD per Mtok>`), odd.message);
  const spaced = b.resolve('anthropic', "my model's");
  assert.ok(spaced instanceof UnknownModelError);
  assert.ok(spaced.message.includes(`price set 'my model'\\''s' --input`), spaced.message);
});

test('overrides: exact id, dated id mapping, derived cache rates', () => {
  const b = book([
    { model: 'claude-sonnet-4-5', input: 1_000_000_000, output: 2_000_000_000 },
    { model: 'claude-haiku-4-5', input: 1_000_000_000, output: 5_000_000_000, cacheRead: 50_000_000, cacheWrite: 1_500_000_000 },
  ]);
  for (const model of ['claude-sonnet-4-5', 'claude-sonnet-4-5-20250929', 'claude-sonnet-4-5@20250929']) {
    const r = priced(b, model);
    assert.equal(r.source, 'override', model);
    assert.equal(r.pricedAs, 'claude-sonnet-4-5');
    assert.equal(r.estimated, false);
    assert.deepEqual({ ...r.rates }, { input: 1_000_000_000, output: 2_000_000_000, cacheRead: 100_000_000, cacheWrite5m: 1_250_000_000, cacheWrite1h: 2_000_000_000 });
  }
  const h = priced(b, 'claude-haiku-4-5-20251001');
  assert.deepEqual({ ...h.rates }, { input: 1_000_000_000, output: 5_000_000_000, cacheRead: 50_000_000, cacheWrite5m: 1_500_000_000, cacheWrite1h: 2_400_000_000 });
  // Not a date suffix: no mapping, falls to the catalogue.
  assert.equal(priced(b, 'claude-sonnet-4-5-latest').source, 'catalogue');
});

test('overrides: price 0 is a valid free model; unknown ids become priceable', () => {
  const b = book([{ model: 'llama-foo', input: 0, output: 0 }]);
  const r = priced(b, 'llama-foo');
  assert.equal(r.source, 'override');
  assert.equal(costNanos({ ...ZERO_USAGE, inputTokens: 1_000_000, outputTokens: 1_000_000, cacheReadTokens: 5 }, r.rates), 0);
  assert.ok(b.resolve('anthropic', 'gpt-99') instanceof UnknownModelError);
});

test('setOverrides replaces the list and clears cached answers; bad prices are rejected atomically', () => {
  const b = book();
  assert.equal(priced(b, 'claude-opus-4-8').source, 'catalogue');
  assert.ok(b.resolve('anthropic', 'gpt-99') instanceof UnknownModelError);
  b.setOverrides([
    { model: 'claude-opus-4-8', input: 1, output: 2 },
    { model: 'gpt-99', input: 10, output: 20 },
  ]);
  assert.equal(priced(b, 'claude-opus-4-8').rates.output, 2);
  assert.equal(priced(b, 'gpt-99').rates.input, 10);
  assert.throws(() => b.setOverrides([{ model: 'x', input: -1, output: 1 }]), RangeError);
  assert.throws(() => b.setOverrides([{ model: 'x', input: 1.5, output: 1 }]), RangeError);
  assert.throws(() => b.setOverrides([{ model: 'x', input: 1, output: Number.NaN }]), RangeError);
  assert.throws(() => b.setOverrides([{ model: ' ', input: 1, output: 1 }]), RangeError);
  assert.equal(priced(b, 'gpt-99').rates.input, 10, 'a rejected list changes nothing');
  b.setOverrides([]);
  assert.equal(priced(b, 'claude-opus-4-8').source, 'catalogue');
  assert.ok(b.resolve('anthropic', 'gpt-99') instanceof UnknownModelError);
});

test('resolve caches: repeated calls return the same frozen object', () => {
  const b = book();
  const a = b.resolve('anthropic', 'claude-sonnet-4-5-20250929');
  assert.equal(b.resolve('anthropic', 'claude-sonnet-4-5-20250929'), a);
  assert.ok(Object.isFrozen(a));
  assert.ok(!(a instanceof Error) && Object.isFrozen(a.rates));
  const miss = b.resolve('anthropic', 'gpt-99');
  assert.equal(b.resolve('anthropic', 'gpt-99'), miss);
});

test('listKnown: overrides first, then priced catalogue models not shadowed', () => {
  const b = book([{ model: 'claude-haiku-4-5', input: 7, output: 8 }, { model: 'local-llm', input: 0, output: 0 }]);
  const list = b.listKnown('anthropic');
  assert.deepEqual(
    list.slice(0, 2).map((k) => [k.id, k.source]),
    [['claude-haiku-4-5', 'override'], ['local-llm', 'override']],
  );
  assert.equal(list.filter((k) => k.id === 'claude-haiku-4-5').length, 1);
  const sonnet = list.find((k) => k.id === 'claude-sonnet-4-5');
  assert.equal(sonnet?.source, 'catalogue');
  assert.equal(sonnet.rates.input, 3_000_000_000);
  assert.ok(list.length > 10);
});
