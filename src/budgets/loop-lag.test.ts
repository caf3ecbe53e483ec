import { test } from 'node:test';
import assert from 'node:assert/strict';
import { currentLoopLagMs, RECURRING_STALL_FACTOR, LoopLag, loopLagMs, MAX_LOOP_LAG_MS } from './loop-lag.js';

test('a loop on time has no lag; a stall is planned for over the window, stalls that recur with an allowance', () => {
  const l = new LoopLag(0, 10, 1000);
  for (let t = 10; t <= 100; t += 10) l.tick(t);
  assert.equal(l.lagMs(100), 0);
  l.tick(400); // due at 110: 290 ms late
  assert.equal(l.currentLagMs(400), 290, 'the latest turn kept I/O waiting that long');
  for (let t = 410; t <= 500; t += 10) l.tick(t);
  assert.equal(l.lagMs(500), 290, 'the next stall may come before a second one is seen');
  l.tick(710); // 200 late
  assert.equal(l.lagMs(710), 200 * RECURRING_STALL_FACTOR, 'a second: the loop stalls again and again, and the next may be longer');
  for (let t = 720; t <= 1450; t += 10) l.tick(t);
  assert.equal(l.lagMs(1450), 200, 'the first stall left the window, the second is still in it');
  assert.equal(l.currentLagMs(1450), 0, 'the loop is on time again');
  for (let t = 1460; t <= 1800; t += 10) l.tick(t);
  assert.equal(l.lagMs(1800), 0, 'the stalls left the window');
});

test('a loop late right now counts before its timer has had its turn', () => {
  const l = new LoopLag(0, 10, 1000);
  l.tick(60); // 50 late
  l.tick(100); // 30 late
  l.tick(110);
  assert.equal(l.lagMs(110), 50, 'the largest (50) when the recurring one with its allowance (30 × 1.5 = 45) is less');
  assert.equal(l.lagMs(300), 180, 'the timer was due at 120 and has not fired: 180 ms late now');
  assert.equal(l.currentLagMs(300), 180);
  assert.equal(l.lagMs(1_000_000), MAX_LOOP_LAG_MS, 'bounded');
});

test('the process sampler measures a real stall of the event loop', async () => {
  loopLagMs();
  await new Promise((r) => setTimeout(r, 30));
  const end = performance.now() + 120;
  while (performance.now() < end) {
    // A busy loop: no timer fires.
  }
  assert.ok(currentLoopLagMs() >= 100 && loopLagMs() >= 100, `late now: ${currentLoopLagMs()} ms`);
});
