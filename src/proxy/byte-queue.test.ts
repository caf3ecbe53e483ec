import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteQueue } from './byte-queue.js';

test('byte queue: bytes come out in order, split anywhere, without loss', () => {
  const q = new ByteQueue();
  const got: Buffer[] = [];
  q.push(Buffer.from('hello '));
  q.push(Buffer.from('wor'));
  q.push(Buffer.from('ld!'));
  q.take(8, (b) => got.push(b));
  assert.equal(Buffer.concat(got).toString(), 'hello wo');
  assert.equal(q.length, 4);
  q.push(Buffer.from('?'));
  q.take(100, (b) => got.push(b));
  assert.equal(Buffer.concat(got).toString(), 'hello world!?');
  assert.equal(q.length, 0);
});

test('byte queue: a 64 MB event in 64 KB chunks is held and released in linear time', () => {
  const q = new ByteQueue();
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 1024; i++) q.push(chunk);
  let out = 0;
  q.take(q.length, (b) => (out += b.length));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(out, 64 * 1024 * 1024);
  assert.ok(ms < 200, `${ms} ms`);
});
