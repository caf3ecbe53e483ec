// The provider call's body as the meter reads it: nothing lost before a listener, 'end' after the last
// chunk and never inside undici's callback, backpressure reaching undici, destroy aborting the call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallAbort, UpstreamBody } from './upstream-call.js';

function body(): { b: UpstreamBody; calls: { resumed: number; aborted: number } } {
  const calls = { resumed: 0, aborted: 0 };
  const b = new UpstreamBody(
    () => void calls.resumed++,
    () => void calls.aborted++,
  );
  return { b, calls };
}

test('chunks that came with the headers reach listeners attached later, in order, then end', async () => {
  const { b } = body();
  assert.equal(b.push(Buffer.from('a')), true);
  assert.equal(b.push(Buffer.from('b')), true);
  b.finish();
  const seen: string[] = [];
  await new Promise<void>((resolve) => {
    b.on('data', (c) => seen.push(c.toString()));
    b.on('end', () => {
      seen.push('end');
      resolve();
    });
  });
  assert.deepEqual(seen, ['a', 'b', 'end']);
});

test('end is never heard inside the call that finished the body', async () => {
  const { b } = body();
  const seen: string[] = [];
  b.on('data', (c) => seen.push(c.toString()));
  b.on('end', () => seen.push('end'));
  b.push(Buffer.from('x'));
  b.finish();
  assert.deepEqual(seen, ['x'], 'data at once, end not yet');
  await Promise.resolve();
  assert.deepEqual(seen, ['x', 'end']);
});

test('a paused body tells undici to stop reading and restarts it on resume, losing nothing', async () => {
  const { b, calls } = body();
  const seen: string[] = [];
  b.on('data', (c) => {
    seen.push(c.toString());
    if (seen.length === 1) b.pause();
  });
  assert.equal(b.push(Buffer.from('1')), false, 'the listener paused: undici must wait');
  assert.equal(b.push(Buffer.from('2')), false);
  b.finish();
  await Promise.resolve();
  assert.deepEqual(seen, ['1'], 'nothing while paused, not even the end');
  let ended = false;
  b.on('end', () => void (ended = true));
  b.resume();
  assert.deepEqual(seen, ['1', '2']);
  assert.equal(calls.resumed, 1);
  assert.equal(ended, true);
});

test('an error after the headers comes after the chunks already received; destroy aborts the call and silences the rest', async () => {
  const { b } = body();
  const seen: string[] = [];
  b.on('data', (c) => seen.push(c.toString()));
  b.on('error', (e) => seen.push(`error: ${e.message}`));
  b.push(Buffer.from('p'));
  b.fail(new Error('reset'));
  await Promise.resolve();
  assert.deepEqual(seen, ['p', 'error: reset']);

  const d = body();
  const late: string[] = [];
  d.b.on('data', (c) => late.push(c.toString()));
  d.b.on('end', () => late.push('end'));
  d.b.destroy();
  d.b.push(Buffer.from('q'));
  d.b.finish();
  await Promise.resolve();
  assert.deepEqual(late, []);
  assert.equal(d.calls.aborted, 1);
});

test('an abort before the call connects stops it as soon as it does; after, at once; once only', () => {
  const early = new CallAbort();
  early.abort();
  let stopped = 0;
  early.onAbort(() => void stopped++);
  assert.equal(stopped, 1);
  const late = new CallAbort();
  late.onAbort(() => void stopped++);
  late.abort();
  late.abort();
  assert.equal(stopped, 2);
});
