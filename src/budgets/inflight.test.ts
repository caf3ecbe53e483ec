import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hiddenMarginTokens, HIDDEN_CLOCK_MS, InflightMargin, LATENCY_WINDOW_MS, MAX_GENERATION_TOKENS_PER_MS, UpstreamLatency, UpstreamRate } from './inflight.js';

test('before the first token only the minimum is held', () => {
  const m = new InflightMargin(4, 10);
  assert.equal(m.tokens(0, 0), 4);
  m.observe(5, 0);
  assert.equal(m.tokens(5, 0), 4);
});

test('a steady stream holds rate × latency ahead: 1 token/ms, 10 ms → 10 + the minimum', () => {
  const m = new InflightMargin(4, 10);
  for (let t = 1; t <= 500; t++) m.observe(t, t);
  const held = m.tokens(500, 500);
  assert.ok(held >= 4 + 10 && held <= 4 + 11, String(held));
  const slow = new InflightMargin(4, 10);
  for (let t = 10; t <= 1000; t += 10) slow.observe(t, t / 10);
  assert.ok(slow.tokens(1000, 100) <= 4 + 2, 'a stream of 0.1 token/ms holds about one token ahead');
});

test('a burst after a slow start is seen at once, and a young stream holds everything it produced', () => {
  const m = new InflightMargin(4, 10);
  for (let t = 1; t <= 100; t++) m.observe(t * 10, t); // 0.1 token/ms for 1 s
  m.observe(1005, 400); // 300 tokens in 5 ms
  assert.ok(m.tokens(1005, 400) >= 4 + 300);
  const young = new InflightMargin(4, 50);
  young.observe(1, 30);
  assert.equal(young.tokens(2, 30), 4 + 30);
});

test('a cut is charged rate × latency beyond what it read, not the minimum held ahead for a next chunk', () => {
  const m = new InflightMargin(8, 10);
  for (let t = 1; t <= 500; t++) m.observe(t, t);
  assert.equal(m.tokens(500, 500) - m.chargeTokens(500, 500), 8);
  assert.ok(m.chargeTokens(500, 500) >= 10, 'the tokens in flight at 1 token/ms over 10 ms');
  const fresh = new InflightMargin(8, 10);
  assert.equal(fresh.chargeTokens(0, 0), 8, 'before its first token a stream is charged the minimum: its first chunk may be on the way');
});

test('a cut after the whole socket read is charged the latency only: a late read is a burst the provider wrote over the lag', () => {
  // 1 token/ms for 500 ms, read 60 ms late at the end: the last read brought 60 tokens at once.
  const m = new InflightMargin(8, 10, 60, 0, 60, 1);
  for (let t = 1; t <= 440; t++) m.observe(t, t);
  m.observe(500, 500);
  assert.ok(m.chargeTokens(500, 500) >= 60, 'left unread, what waited behind the read is charged at the lag');
  const afterRead = m.chargeAfterReadTokens(500, 500);
  assert.ok(afterRead >= 10 && afterRead <= 11, `read, only rate × latency is in flight (${afterRead})`);
  const fast = new InflightMargin(8, 10, 60, 0, 60, 1);
  for (let t = 1; t <= 500; t++) fast.observe(t, 4 * t);
  assert.ok(fast.chargeAfterReadTokens(500, 2000) >= 40, 'a provider measured at 4 tokens/ms over its life is that fast');
  const fresh = new InflightMargin(8, 10, 60, 0.5, 60, 1);
  assert.equal(fresh.chargeAfterReadTokens(0, 0), 8, 'before its first token: the minimum (its first chunk may be on the way)');
});

test('the hidden-output margin covers two clock periods at the meter rate; a meter without a rate keeps 128 tokens', () => {
  assert.equal(hiddenMarginTokens(1000), Math.ceil((1000 * 2 * HIDDEN_CLOCK_MS) / 1000));
  assert.ok(hiddenMarginTokens(3000) >= 3 * 2 * HIDDEN_CLOCK_MS);
  assert.equal(hiddenMarginTokens(undefined), 128);
});

test('on the clock a burst counts up to the speed bound; a stream measured faster over its life is not bounded', () => {
  const m = new InflightMargin(4, 10);
  for (let t = 1; t <= 100; t++) m.observe(t * 10, t); // 0.1 token/ms for 1 s
  m.observe(1005, 400); // 300 tokens read at once after a stall
  assert.ok(m.chargeTokens(1005, 400) >= 300, 'without a bound the burst is taken for the rate');
  assert.equal(m.chargeTokens(1005, 400, 1000), 10, '1,000 tokens/s × 10 ms');
  const fast = new InflightMargin(4, 10);
  for (let t = 1; t <= 500; t++) fast.observe(t, 4 * t); // 4 tokens/ms over its whole life
  assert.ok(fast.chargeTokens(500, 2000, 1000) >= 40, 'the lifetime rate stands above the bound');
});

test('the abort latency is the quickest recent answer of the upstream, and rises again once old answers leave', () => {
  const l = new UpstreamLatency();
  assert.equal(l.floor(100, 0), 100, 'before any answer: the fallback');
  l.observe(8, 0);
  for (let i = 0; i < 31; i++) l.observe(40, 100 + i);
  assert.equal(l.floor(40, 200), 8, 'a burst queued at the provider does not raise it');
  l.observe(40, LATENCY_WINDOW_MS + 2000);
  assert.equal(l.floor(40, LATENCY_WINDOW_MS + 2000), 40, 'the quick answer left the last 32 and the window: the path is slower now');
});

test('a burst longer than the ring keeps the quiet answer of the last minute: queueing at the provider is not abort latency', () => {
  const l = new UpstreamLatency();
  for (let i = 0; i < 3; i++) l.observe(5 + i, 1000 * i); // quiet requests, one at a time
  for (let i = 0; i < 200; i++) l.observe(56 + (i % 100), 10_000 + i); // 200 requests at once, each queued behind the others
  assert.equal(l.floor(100, 10_300), 5, 'the burst did not push the quiet answers out');
  // An upper bound still: nothing quicker than an answer seen is assumed, and a slower path shows
  // once the window and the last 32 have both passed.
  for (let i = 0; i < 32; i++) l.observe(90, LATENCY_WINDOW_MS + 20_000 + i);
  assert.equal(l.floor(100, LATENCY_WINDOW_MS + 20_100), 90);
  // A quiet upstream keeps its last 32 answers however old: one answer an hour still has a floor.
  const q = new UpstreamLatency();
  q.observe(12, 0);
  q.observe(30, 3_600_000);
  assert.equal(q.floor(100, 7_200_000), 12);
});

test('the hold looks ahead over the abort latency and the loop lag: 1 token/ms, 10 ms + 90 ms of lag → 100 tokens', () => {
  const m = new InflightMargin(4, 10, 90);
  for (let t = 1; t <= 1000; t++) m.observe(t, t);
  const held = m.tokens(1000, 1000);
  assert.ok(held >= 4 + 100 && held <= 4 + 101, String(held));
  const idle = new InflightMargin(4, 10, 0);
  for (let t = 1; t <= 1000; t++) idle.observe(t, t);
  assert.ok(idle.tokens(1000, 1000) <= 4 + 11, 'without lag, as before');
});

test('a cut is charged over the latency and the current lag only: what a late read left behind it', () => {
  const m = new InflightMargin(4, 10, 200, 0, 40);
  for (let t = 1; t <= 1000; t++) m.observe(t, t);
  const c = m.chargeTokens(1000, 1000);
  assert.ok(c >= 50 && c <= 51, `1 token/ms × (10 + 40) ms: ${c}`);
  m.currentLagMs = 500;
  assert.ok(m.chargeTokens(1000, 1000) <= 211, 'never past the lag planned for');
});

test('a stream younger than its horizon holds the upstream recent rate over it; before its first token too', () => {
  const m = new InflightMargin(4, 10, 290, 1);
  assert.equal(m.tokens(0, 0), 4 + 300, 'before the first token: 1 token/ms × 300 ms');
  m.observe(100, 18); // the first read after a stall: 18 tokens, its own rate unknown
  assert.ok(m.tokens(100, 18) >= 4 + 300);
  assert.ok(m.chargeTokens(100, 18) >= 10, 'charged at least the rate over the latency');
  const old = new InflightMargin(4, 10, 0, 5);
  for (let t = 1; t <= 1000; t++) old.observe(t, t);
  assert.ok(old.tokens(1000, 1000) <= 4 + 11, 'an older stream goes by its own rate');
  assert.ok(Math.abs(old.lifetimeTokensPerMs(100)! - 1) < 0.01, 'its lifetime rate');
  assert.equal(new InflightMargin(4, 10).lifetimeTokensPerMs(100), null);
});

test('the upstream rate prior is the fastest recent stream', () => {
  const r = new UpstreamRate();
  assert.equal(r.fastest(), 0);
  r.observe(0.3);
  r.observe(1.2);
  r.observe(Number.NaN);
  assert.equal(r.fastest(), 1.2);
  for (let i = 0; i < 32; i++) r.observe(0.5);
  assert.equal(r.fastest(), 0.5, 'only the last 32 count');
});

test('the hidden-output margin adds the loop lag at the clock rate', () => {
  assert.equal(hiddenMarginTokens(1000, 100), Math.ceil((1000 * (2 * HIDDEN_CLOCK_MS + 100)) / 1000));
});

test('over the lag a stream read faster than any provider generates counts at the fastest generation speed only', () => {
  const m = new InflightMargin(4, 10, 100);
  for (let t = 1; t <= 1000; t++) m.observe(t, 20 * t); // 20 tokens/ms: a mock writing flat out
  const held = m.tokens(1000, 20_000);
  assert.ok(held <= 4 + 200 + MAX_GENERATION_TOKENS_PER_MS * 100 + 1, `20 × 10 ms + the lag at the generation bound: ${held}`);
  assert.ok(held >= 4 + 200 + MAX_GENERATION_TOKENS_PER_MS * 100);
});
