import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SseParser } from '../../proxy/sse.js';
import type { SseEvent } from '../../proxy/sse-types.js';
import { GeminiStreamMeter } from './stream-meter.js';

// Compiled to dist/src/providers/gemini/: four levels up is the repo root.
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));

function fixtureEvents(name: string): SseEvent[] {
  return new SseParser().push(readFileSync(FIXTURES + name));
}
const data = (o: unknown): SseEvent => ({ event: undefined, data: JSON.stringify(o) });
const chunk = (parts: unknown[], usage: Record<string, number>, finishReason?: string): SseEvent =>
  data({ candidates: [{ content: { parts, role: 'model' }, ...(finishReason ? { finishReason } : {}), index: 0 }], usageMetadata: usage, modelVersion: 'gemini-2.5-flash', responseId: 'r1' });

/** A clock the test moves. */
function clock(start = 1000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test('the thinking fixture (CRLF): running usage, final usage from the finishing chunk, thoughts billed as output', () => {
  const c = clock();
  const m = new GeminiStreamMeter(undefined, c.now);
  const events = fixtureEvents('gemini-streamGenerateContent-sse-thinking.sse');
  assert.equal(events.length, 5);
  m.onEvent(events[0]!);
  assert.equal(m.inputKnown, true);
  assert.equal(m.usage.inputTokens, 10);
  assert.equal(m.usage.outputTokens, 70);
  assert.ok(m.outputTokensForHold() >= 70);
  assert.equal(m.complete, false);
  assert.equal(m.needsClock, true);
  for (const ev of events.slice(1)) m.onEvent(ev);
  assert.equal(m.complete, true);
  assert.equal(m.hasFinalUsage, true);
  assert.equal(m.needsClock, false);
  assert.deepEqual({ ...m.usage }, { inputTokens: 10, outputTokens: 48 + 540, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 });
  assert.equal(m.model, 'gemini-2.5-flash');
  assert.ok(m.outputTokensForHold() >= 588);
});

test('the basic fixture: intermediate chunks report only the prompt; the estimate covers the streamed text until the last chunk', () => {
  const m = new GeminiStreamMeter(undefined, clock().now);
  const events = fixtureEvents('gemini-streamGenerateContent-sse-basic.sse');
  m.onEvent(events[0]!);
  m.onEvent(events[1]!);
  assert.equal(m.usage.outputTokens, 0);
  assert.ok(m.outputTokensForHold() >= 4, 'The + capital of Wyoming: at least 4 tokens');
  m.onEvent(events[2]!);
  assert.equal(m.hasFinalUsage, true);
  assert.equal(m.usage.outputTokens, 10);
  assert.equal(m.usage.inputTokens, 7);
});

test('the estimate is above the real count for text, digits and function calls', () => {
  const m = new GeminiStreamMeter(undefined, clock().now);
  // "1234567890" is 10 tokens for Gemini (one per digit)
  m.onEvent(chunk([{ text: 'Numbers: 1234567890 and 9876543210.' }], { promptTokenCount: 5 }));
  assert.ok(m.outputTokensForHold() >= 24, `digits: ${m.outputTokensForHold()}`);
  const f = new GeminiStreamMeter(undefined, clock().now);
  f.onEvent(chunk([{ functionCall: { name: 'run_shell_command', args: { command: 'ls -la /tmp && echo done' } } }], { promptTokenCount: 5 }));
  assert.ok(f.outputTokensForHold() >= 20, `function call: ${f.outputTokensForHold()}`);
});

test('hidden thinking: the hold grows with the clock between chunks, at the fastest generation speed', () => {
  const c = clock();
  const m = new GeminiStreamMeter(undefined, c.now);
  assert.equal(m.needsClock, true, 'before any chunk the model may be thinking');
  assert.equal(m.outputTokensForHold(), 0);
  // The fastest a real Gemini model generates (Flash-Lite, measured near 650 tokens/s): at every
  // re-check the hold covers what it may have billed for thoughts it has not reported yet.
  const FASTEST_REAL_GEMINI_TOKENS_PER_SECOND = 650;
  for (let ms = 200; ms <= 2000; ms += 200) {
    c.advance(200);
    assert.ok(m.outputTokensForHold() >= Math.ceil((FASTEST_REAL_GEMINI_TOKENS_PER_SECOND * ms) / 1000), `after ${ms} ms: ${m.outputTokensForHold()}`);
  }
  // the first chunk reports 1500 thoughts: the count replaces the clock, which restarts
  m.onEvent(chunk([{ text: 'Hi' }], { promptTokenCount: 5, thoughtsTokenCount: 1500, candidatesTokenCount: 1 }));
  assert.ok(m.outputTokensForHold() >= 1501 && m.outputTokensForHold() < 1510);
  c.advance(500);
  assert.ok(m.outputTokensForHold() >= 1501 + 500);
});

test('a thinking budget caps what the clock adds (a slow prefill is not billed as thinking)', () => {
  const c = clock();
  const m = new GeminiStreamMeter({ thinkingCap: 0, candidateCount: 1 }, c.now);
  c.advance(10_000);
  assert.equal(m.outputTokensForHold(), 64, 'only the visible tokens that may be in flight');
  const b = new GeminiStreamMeter({ thinkingCap: 1506, candidateCount: 1 }, c.now);
  c.advance(10_000);
  assert.equal(b.outputTokensForHold(), 1506 + 64);
  b.onEvent(chunk([{ text: 'x' }], { promptTokenCount: 5, thoughtsTokenCount: 1400, candidatesTokenCount: 1 }));
  c.advance(10_000);
  assert.ok(b.outputTokensForHold() <= 1400 + 1 + 2 + 106 + 64);
});

test('streamed thought summaries count when the running thoughtsTokenCount is missing', () => {
  const m = new GeminiStreamMeter(undefined, clock().now);
  m.onEvent(chunk([{ text: 'Thinking about the question in some detail here.', thought: true }], { promptTokenCount: 5 }));
  assert.ok(m.outputTokensForHold() >= 9);
});

test('cached and tool-use prompt tokens: disjoint usage', () => {
  const m = new GeminiStreamMeter(undefined, clock().now);
  m.onEvent(chunk([{ text: 'a' }], { promptTokenCount: 100, cachedContentTokenCount: 60, toolUsePromptTokenCount: 7, candidatesTokenCount: 1 }, 'STOP'));
  assert.deepEqual({ ...m.usage }, { inputTokens: 47, outputTokens: 1, cacheReadTokens: 60, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 });
});

test('candidateCount > 1: complete only when every candidate finished', () => {
  const m = new GeminiStreamMeter({ thinkingCap: null, candidateCount: 2 }, clock().now);
  m.onEvent(data({ candidates: [{ content: { parts: [{ text: 'a' }] }, finishReason: 'STOP', index: 0 }, { content: { parts: [{ text: 'b' }] }, index: 1 }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2 } }));
  assert.equal(m.complete, false);
  m.onEvent(data({ candidates: [{ content: { parts: [{ text: 'c' }] }, finishReason: 'STOP', index: 1 }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 3 } }));
  assert.equal(m.complete, true);
  assert.equal(m.usage.outputTokens, 3);
});

test('a blocked prompt ends the stream; an error event stops the clock; junk is ignored', () => {
  const m = new GeminiStreamMeter(undefined, clock().now);
  m.onEvent(data({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 9 } }));
  assert.equal(m.hasFinalUsage, true);
  const e = new GeminiStreamMeter(undefined, clock().now);
  e.onEvent({ event: undefined, data: 'not json' });
  e.onEvent(data({ error: { code: 500, message: 'boom', status: 'INTERNAL' } }));
  assert.deepEqual(e.sawError, { code: 500, status: 'INTERNAL', message: 'boom' });
  assert.equal(e.needsClock, false);
  assert.equal(e.hasFinalUsage, false);
});
