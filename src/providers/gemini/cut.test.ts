import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SseParser } from '../../proxy/sse.js';
import type { SseEvent } from '../../proxy/sse-types.js';
import { GeminiStreamMeter } from './stream-meter.js';
import { CUT_FINISH_REASON } from './cut.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const NOTICE = 'spendcap: key "dev" reached its cap: spent $5.00 of $5.00 (day). Raise it: spendcap lift dev --add 5';

interface Chunk {
  candidates: Array<{ content: { parts: Array<{ text?: string }>; role: string }; finishReason: string; finishMessage: string; index: number }>;
  usageMetadata: Record<string, number>;
  modelVersion?: string;
  responseId?: string;
}

function tailChunks(m: GeminiStreamMeter): Chunk[] {
  const tail = m.cutTail(NOTICE);
  assert.ok(tail.endsWith('\r\n\r\n'), 'Gemini frames events with CRLF CRLF');
  return new SseParser().push(Buffer.from(tail)).map((e) => JSON.parse(e.data) as Chunk);
}

function fixtureEvents(name: string): SseEvent[] {
  return new SseParser().push(readFileSync(FIXTURES + name));
}

test('a cut mid-answer: one chunk with the notice as text, finishReason OTHER, finishMessage and the usage charged', () => {
  const m = new GeminiStreamMeter(undefined, () => 0);
  const events = fixtureEvents('gemini-streamGenerateContent-sse-thinking.sse');
  for (const ev of events.slice(0, 4)) m.onEvent(ev);
  const chunks = tailChunks(m);
  assert.equal(chunks.length, 1);
  const c = chunks[0]!;
  assert.equal(CUT_FINISH_REASON, 'OTHER');
  assert.equal(c.candidates.length, 1);
  assert.equal(c.candidates[0]!.finishReason, 'OTHER');
  assert.equal(c.candidates[0]!.content.parts[0]!.text, `\n\n${NOTICE}`);
  assert.equal(c.candidates[0]!.content.role, 'model');
  assert.equal(c.candidates[0]!.finishMessage, NOTICE);
  assert.equal(c.modelVersion, 'gemini-2.5-flash');
  assert.equal(c.responseId, '0J-HaJetAqv0jrEPwu-tsQ0');
  const u = c.usageMetadata;
  assert.equal(u['promptTokenCount'], 10);
  assert.equal(u['thoughtsTokenCount'], 540);
  assert.equal((u['candidatesTokenCount'] ?? 0) + (u['thoughtsTokenCount'] ?? 0), m.outputTokensForHold());
  assert.equal(u['totalTokenCount'], 10 + m.outputTokensForHold());
});

test('a cut before any chunk: the notice alone, candidate 0', () => {
  const m = new GeminiStreamMeter(undefined, () => 0);
  const c = tailChunks(m)[0]!;
  assert.equal(c.candidates[0]!.index, 0);
  assert.equal(c.candidates[0]!.content.parts[0]!.text, NOTICE);
  assert.equal(c.modelVersion, undefined);
});

test('a function call already forwarded stays whole; the tail only adds the notice', () => {
  const m = new GeminiStreamMeter(undefined, () => 0);
  m.onEvent({ event: undefined, data: JSON.stringify({ candidates: [{ content: { parts: [{ functionCall: { name: 'run', args: { command: 'ls' } } }], role: 'model' }, index: 0 }], usageMetadata: { promptTokenCount: 4 } }) });
  const c = tailChunks(m)[0]!;
  assert.deepEqual(c.candidates[0]!.content.parts, [{ text: `\n\n${NOTICE}` }]);
});

test('several candidates: each unfinished one is finished', () => {
  const m = new GeminiStreamMeter({ thinkingCap: null, candidateCount: 3 }, () => 0);
  m.onEvent({ event: undefined, data: JSON.stringify({ candidates: [{ content: { parts: [{ text: 'a' }] }, index: 0, finishReason: 'STOP' }, { content: { parts: [{ text: 'b' }] }, index: 1 }, { content: { parts: [{ text: 'c' }] }, index: 2 }], usageMetadata: { promptTokenCount: 4 } }) });
  const c = tailChunks(m)[0]!;
  assert.deepEqual(c.candidates.map((x) => x.index), [1, 2]);
});

test('nothing is appended after the natural end or after an error event', () => {
  const done = new GeminiStreamMeter(undefined, () => 0);
  for (const ev of fixtureEvents('gemini-streamGenerateContent-sse-basic.sse')) done.onEvent(ev);
  assert.equal(done.cutTail(NOTICE), '');
  const failed = new GeminiStreamMeter(undefined, () => 0);
  failed.onEvent({ event: undefined, data: '{"error":{"code":500,"message":"x","status":"INTERNAL"}}' });
  assert.equal(failed.cutTail(NOTICE), '');
});
