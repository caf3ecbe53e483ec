import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, SseParser } from './live';

test('SSE events split anywhere across chunks, CRLF or LF, comments skipped', () => {
  const p = new SseParser();
  const text = 'retry: 2000\r\n\r\nid: 1\r\nevent: snapshot\r\ndata: {"budgets":[]}\r\n\r\n: ping\n\nevent: spend\ndata: {"a":1,\ndata: "b":2}\n\n';
  const events = [];
  for (let i = 0; i < text.length; i += 3) events.push(...p.push(text.slice(i, i + 3)));
  assert.deepEqual(events, [
    { event: 'snapshot', data: '{"budgets":[]}' },
    { event: 'spend', data: '{"a":1,\n"b":2}' },
  ]);
});

test('backoff doubles from 0.5 s to a 30 s ceiling, with bounded jitter', () => {
  const mid = () => 0.5;
  assert.deepEqual([0, 1, 2, 3].map((n) => backoffMs(n, mid)), [500, 1000, 2000, 4000]);
  assert.equal(backoffMs(50, mid), 30_000);
  assert.equal(backoffMs(0, () => 0), 400);
  assert.equal(backoffMs(0, () => 1), 600);
});
