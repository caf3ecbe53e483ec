// The provider call's body as the meter reads it: nothing lost before a listener, 'end' after the last
// chunk and never inside undici's callback, backpressure reaching undici, destroy aborting the call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callUpstream, CallAbort, UpstreamBody } from './upstream-call.js';

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

test("the provider's time to answer leaves out the wait for a connection in front of the call", async () => {
  const { createServer } = await import('node:http');
  const { Pool } = await import('undici');
  // The provider answers each request 20 ms after it has it; one connection, so the second call
  // waits about 120 ms for the first to finish before it is even sent.
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.end('ok'), req.url === '/slow' ? 120 : 20));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
  try {
    const call = async (path: string): Promise<{ answeredAfterMs: number; totalMs: number }> => {
      const t0 = performance.now();
      const r = await callUpstream(pool, { path, method: 'POST', body: 'x' }, new CallAbort());
      await new Promise<void>((resolve) => r.body.on('data', () => undefined).on('end', resolve));
      return { answeredAfterMs: r.answeredAfterMs, totalMs: performance.now() - t0 };
    };
    const [first, queued] = await Promise.all([call('/slow'), call('/quick')]);
    assert.ok(first.answeredAfterMs >= 110, `the slow answer took ${first.answeredAfterMs} ms`);
    assert.ok(queued.totalMs >= 130, `the second call waited for the connection (${queued.totalMs} ms in all)`);
    // Relative to the call, not a fixed bound: on a loaded machine every time stretches, but the 120 ms queue stays out.
    assert.ok(queued.answeredAfterMs >= 15 && queued.answeredAfterMs < queued.totalMs - 100, `its answer took ${queued.answeredAfterMs} ms of ${queued.totalMs}, not the queue's`);
  } finally {
    await pool.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
