import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SseParser, encodeSseEvent } from './sse.js';
import type { SseEvent } from './sse-types.js';

// Compiled to dist/src/proxy/: three levels up is the repo root.
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const fixtureNames = readdirSync(FIXTURES).filter((f) => f.endsWith('.sse'));

function fixture(name: string): Buffer {
  return readFileSync(FIXTURES + name);
}

function parseChunks(chunks: Uint8Array[]): { events: SseEvent[]; parser: SseParser } {
  const parser = new SseParser();
  const events: SseEvent[] = [];
  for (const c of chunks) events.push(...parser.push(c));
  return { events, parser };
}

/** Slow, obviously-correct model: byte offset just after the last blank line in `bytes`. */
function lastBoundary(bytes: Buffer): number {
  let lineStart = 0;
  let boundary = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== 0x0a && b !== 0x0d) continue;
    const empty = i === lineStart;
    let next = i + 1;
    if (b === 0x0d && bytes[next] === 0x0a) next++;
    if (empty) boundary = next;
    lineStart = next;
    i = next - 1;
  }
  return boundary;
}

test('fixtures are found', () => {
  assert.ok(fixtureNames.length >= 7, `found ${fixtureNames.length} fixtures in ${FIXTURES}`);
});

for (const name of fixtureNames) {
  test(`fixture ${name}: whole, every 2-way split and byte-by-byte agree`, () => {
    const bytes = fixture(name);
    const whole = parseChunks([bytes]);
    assert.ok(whole.events.length > 0);
    assert.equal(whole.parser.pendingBytes, 0);
    for (let i = 0; i <= bytes.length; i++) {
      const split = parseChunks([bytes.subarray(0, i), bytes.subarray(i)]);
      assert.deepEqual(split.events, whole.events, `split at ${i}`);
      assert.equal(split.parser.pendingBytes, 0);
    }
    const single: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i++) single.push(Uint8Array.of(bytes[i] ?? 0));
    assert.deepEqual(parseChunks(single).events, whole.events);
  });

  test(`fixture ${name}: pendingBytes after every truncation equals the tail after the last blank line`, () => {
    const bytes = fixture(name);
    const parser = new SseParser();
    for (let i = 0; i < bytes.length; i++) {
      parser.push(bytes.subarray(i, i + 1));
      const prefix = bytes.subarray(0, i + 1);
      assert.equal(parser.pendingBytes, prefix.length - lastBoundary(prefix), `after ${i + 1} bytes`);
    }
  });
}

test('anthropic basic fixture: named events and JSON data', () => {
  const { events } = parseChunks([fixture('anthropic-messages-stream-basic.sse')]);
  assert.deepEqual(
    events.map((e) => e.event),
    ['message_start', 'content_block_start', 'ping', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'],
  );
  for (const e of events) assert.equal((JSON.parse(e.data) as { type: string }).type, e.event);
});

test('gemini fixture (CRLF) gives data-only events', () => {
  const { events } = parseChunks([fixture('gemini-streamGenerateContent-sse-basic.sse')]);
  assert.equal(events.length, 3);
  for (const e of events) {
    assert.equal(e.event, undefined);
    assert.ok(!e.data.includes('\r'));
    JSON.parse(e.data);
  }
});

test('openai responses fixture: the literal "..." line is ignored', () => {
  const { events } = parseChunks([fixture('openai-responses-stream.sse')]);
  assert.ok(events.every((e) => e.event !== undefined && e.event.startsWith('response.')));
  assert.ok(!events.some((e) => e.data.includes('...') && e.data.length < 10));
});

test('openai chat fixture ends with [DONE]', () => {
  const { events } = parseChunks([fixture('openai-chat-completions-stream-include-usage.sse')]);
  assert.equal(events.at(-1)?.data, '[DONE]');
});

function parseText(s: string): { events: SseEvent[]; pending: number } {
  const { events, parser } = parseChunks([Buffer.from(s)]);
  return { events, pending: parser.pendingBytes };
}

test('line endings: \\n, \\r\\n and lone \\r are all line ends', () => {
  const want = [{ event: 'a', data: '1' }, { event: 'b', data: '2' }, { event: 'c', data: '3' }];
  assert.deepEqual(parseText('event: a\ndata: 1\n\nevent: b\r\ndata: 2\r\n\r\nevent: c\rdata: 3\r\r').events, want);
});

test('\\r\\n split between \\r and \\n is one line end, and its \\n is not pending', () => {
  const p = new SseParser();
  assert.deepEqual(p.push(Buffer.from('data: x\r\n\r')), [{ event: undefined, data: 'x' }]);
  assert.equal(p.pendingBytes, 0);
  assert.deepEqual(p.push(Buffer.from('\n')), []);
  assert.equal(p.pendingBytes, 0);
  assert.deepEqual(p.push(Buffer.from('data: y\r')), []);
  assert.equal(p.pendingBytes, 8);
  // This \n completes "data: y\r\n", it is not a blank line.
  assert.deepEqual(p.push(Buffer.from('\n')), []);
  assert.deepEqual(p.push(Buffer.from('\r\n')), [{ event: undefined, data: 'y' }]);
  assert.equal(p.pendingBytes, 0);
});

test('comments, unknown fields and non-field lines are ignored; comment-only blocks do not dispatch', () => {
  const r = parseText(': hello\n\n: ping\nid: 7\nretry: 100\ndatabase: no\n...\nevent: e\ndata: d\n\n');
  assert.deepEqual(r.events, [{ event: 'e', data: 'd' }]);
  assert.equal(r.pending, 0);
});

test('multi-line data is joined by \\n; only one leading space is stripped', () => {
  assert.deepEqual(parseText('data: a\ndata:b\ndata:  c\ndata\ndata:\n\n').events, [
    { event: undefined, data: 'a\nb\n c\n\n' },
  ]);
});

test('an event with no data is dispatched with empty data; a bare blank line is not', () => {
  assert.deepEqual(parseText('\n\nevent: x\n\n\n').events, [{ event: 'x', data: '' }]);
});

test('pendingBytes counts bytes (not chars) of the incomplete block', () => {
  const p = new SseParser();
  p.push(Buffer.from('data: a\n\ndata: é😀'));
  assert.equal(p.pendingBytes, Buffer.byteLength('data: é😀'));
  p.push(Buffer.from('\n'));
  assert.equal(p.pendingBytes, Buffer.byteLength('data: é😀\n'));
  p.push(Buffer.from('\n'));
  assert.equal(p.pendingBytes, 0);
});

test('multi-byte UTF-8 split at every byte position decodes intact', () => {
  const text = 'event: é\ndata: {"t":"héllo 😀 世界"}\n\n';
  const bytes = Buffer.from(text);
  const want = [{ event: 'é', data: '{"t":"héllo 😀 世界"}' }];
  for (let i = 0; i <= bytes.length; i++) {
    for (let j = i; j <= bytes.length; j++) {
      const { events } = parseChunks([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]);
      assert.deepEqual(events, want, `split at ${i},${j}`);
    }
  }
});

test('a leading UTF-8 BOM is stripped', () => {
  assert.deepEqual(parseText('\uFEFFevent: a\ndata: 1\n\n').events, [{ event: 'a', data: '1' }]);
});

test('long lines spanning many chunks grow the carry buffer', () => {
  const big = 'x'.repeat(50_000);
  const bytes = Buffer.from(`data: ${big}\n\n`);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += 333) chunks.push(bytes.subarray(i, i + 333));
  assert.deepEqual(parseChunks(chunks).events, [{ event: undefined, data: big }]);
});

test('plain Uint8Array chunks (not Buffer) are accepted, including views with an offset', () => {
  const backing = new Uint8Array(Buffer.from('zzzdata: hi\n\nzz'));
  const p = new SseParser();
  assert.deepEqual(p.push(backing.subarray(3, 13)), [{ event: undefined, data: 'hi' }]);
});

test('encodeSseEvent', () => {
  assert.equal(encodeSseEvent('ping', '{"type":"ping"}'), 'event: ping\ndata: {"type":"ping"}\n\n');
  assert.equal(encodeSseEvent(undefined, 'a\nb\r\nc'), 'data: a\ndata: b\ndata: c\n\n');
  const round = parseText(encodeSseEvent('x', 'line1\nline2') + encodeSseEvent(undefined, ''));
  assert.deepEqual(round.events, [{ event: 'x', data: 'line1\nline2' }, { event: undefined, data: '' }]);
});

test('sse: comments are skipped unless the parser is asked to keep them', () => {
  const text = ': OPENROUTER PROCESSING\n\ndata: {"a":1}\n\n';
  assert.deepEqual(new SseParser().push(Buffer.from(text)), [{ event: undefined, data: '{"a":1}' }]);
  assert.deepEqual(new SseParser(true).push(Buffer.from(text)), [
    { event: undefined, data: '', comment: ' OPENROUTER PROCESSING' },
    { event: undefined, data: '{"a":1}' },
  ]);
});
