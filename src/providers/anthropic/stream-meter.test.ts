import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SseParser } from '../../proxy/sse.js';
import type { SseEvent } from '../../proxy/sse-types.js';
import { AnthropicStreamMeter } from './stream-meter.js';

// Compiled to dist/src/providers/anthropic/: four levels up is the repo root.
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const ANTHROPIC_FIXTURES = ['anthropic-messages-stream-basic.sse', 'anthropic-messages-stream-tool-use.sse', 'anthropic-messages-stream-error-event.sse'];

function run(chunks: Uint8Array[]): AnthropicStreamMeter {
  const parser = new SseParser();
  const meter = new AnthropicStreamMeter();
  for (const c of chunks) for (const ev of parser.push(c)) meter.onEvent(ev);
  return meter;
}

function feed(events: SseEvent[]): AnthropicStreamMeter {
  const meter = new AnthropicStreamMeter();
  for (const ev of events) meter.onEvent(ev);
  return meter;
}

function state(m: AnthropicStreamMeter): unknown {
  return {
    messageStarted: m.messageStarted,
    messageId: m.messageId,
    model: m.model,
    usage: { ...m.usage },
    hasFinalUsage: m.hasFinalUsage,
    estimatedOutputTokens: m.estimatedOutputTokens,
    hold: m.outputTokensForHold(),
    openBlock: m.openBlock,
    nextBlockIndex: m.nextBlockIndex,
    sawMessageStop: m.sawMessageStop,
    sawError: m.sawError,
    stopReason: m.stopReason,
  };
}

test('basic fixture: usage input 25 / output 15, end_turn', () => {
  const m = run([readFileSync(FIXTURES + 'anthropic-messages-stream-basic.sse')]);
  assert.deepEqual(m.usage, { inputTokens: 25, outputTokens: 15, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 });
  assert.equal(m.messageId, 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY');
  assert.equal(m.model, 'claude-sonnet-4-5-20250929');
  assert.equal(m.stopReason, 'end_turn');
  assert.ok(m.hasFinalUsage && m.complete && m.inputKnown);
  assert.equal(m.openBlock, null);
  assert.equal(m.nextBlockIndex, 1);
  assert.equal(m.outputTokensForHold(), 15);
  assert.equal(m.sawError, null);
});

test('tool-use fixture: output 89, no open block at the end, stop_reason tool_use', () => {
  const m = run([readFileSync(FIXTURES + 'anthropic-messages-stream-tool-use.sse')]);
  assert.equal(m.usage.inputTokens, 472);
  assert.equal(m.usage.outputTokens, 89);
  assert.equal(m.openBlock, null);
  assert.equal(m.nextBlockIndex, 2);
  assert.equal(m.stopReason, 'tool_use');
  assert.ok(m.sawMessageStop);
  // the streamed text and JSON were estimated, then the real count took over
  assert.ok(m.estimatedOutputTokens > 2 && m.estimatedOutputTokens < 89);
  assert.equal(m.outputTokensForHold(), 89);
});

test('error-event fixture: sawError overloaded_error', () => {
  const m = run([readFileSync(FIXTURES + 'anthropic-messages-stream-error-event.sse')]);
  assert.deepEqual(m.sawError, { type: 'overloaded_error', message: 'Overloaded' });
  assert.ok(!m.messageStarted && !m.hasFinalUsage && !m.complete);
});

for (const name of ANTHROPIC_FIXTURES) {
  test(`${name}: same final state when split at every byte boundary and fed byte by byte`, () => {
    const bytes = readFileSync(FIXTURES + name);
    const want = state(run([bytes]));
    for (let i = 0; i <= bytes.length; i++) assert.deepEqual(state(run([bytes.subarray(0, i), bytes.subarray(i)])), want, `split at ${i}`);
    const single: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i++) single.push(bytes.subarray(i, i + 1));
    assert.deepEqual(state(run(single)), want);
  });
}

test('mid-stream: the open block, the estimate growing with each delta', () => {
  const events = new SseParser().push(readFileSync(FIXTURES + 'anthropic-messages-stream-tool-use.sse'));
  let last = 0;
  for (let n = 1; n <= events.length; n++) {
    const m = feed(events.slice(0, n));
    assert.ok(m.estimatedOutputTokens >= last, 'the estimate never shrinks');
    last = m.estimatedOutputTokens;
    const ev = events[n - 1];
    if (ev?.event === 'content_block_delta') {
      assert.notEqual(m.openBlock, null);
      assert.ok(!m.hasFinalUsage);
      assert.equal(m.outputTokensForHold(), m.estimatedOutputTokens);
    }
  }
  const inTool = feed(events.slice(0, events.findIndex((e) => e.data.includes('"tool_use"')) + 1));
  assert.deepEqual(inTool.openBlock, { index: 1, type: 'tool_use' });
  assert.equal(inTool.nextBlockIndex, 2);
});

function ev(type: string, payload: Record<string, unknown>): SseEvent {
  return { event: type, data: JSON.stringify({ type, ...payload }) };
}

test('cache usage: the 5m/1h split from message_start; message_delta overwrites, never adds', () => {
  const m = feed([
    ev('message_start', {
      message: {
        id: 'msg_1',
        model: 'claude-opus-4-5',
        usage: {
          input_tokens: 10,
          output_tokens: 1,
          cache_read_input_tokens: 500,
          cache_creation_input_tokens: 3000,
          cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 },
        },
      },
    }),
  ]);
  assert.deepEqual(m.usage, { inputTokens: 10, outputTokens: 1, cacheReadTokens: 500, cacheWrite5mTokens: 1000, cacheWrite1hTokens: 2000 });
  m.onEvent(ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 10, cache_read_input_tokens: 500, cache_creation_input_tokens: 3000, output_tokens: 40 } }));
  assert.deepEqual(m.usage, { inputTokens: 10, outputTokens: 40, cacheReadTokens: 500, cacheWrite5mTokens: 1000, cacheWrite1hTokens: 2000 });
  // a second message_delta: cumulative numbers overwrite; nulls leave values alone
  m.onEvent(ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { input_tokens: null, cache_read_input_tokens: null, cache_creation_input_tokens: 3500, output_tokens: 60 } }));
  assert.deepEqual(m.usage, { inputTokens: 10, outputTokens: 60, cacheReadTokens: 500, cacheWrite5mTokens: 1000, cacheWrite1hTokens: 2500 }, 'growth goes to 1h when 1h was in use');
  m.onEvent(ev('message_delta', { delta: {}, usage: { cache_creation_input_tokens: 1200, output_tokens: 60 } }));
  assert.deepEqual([m.usage.cacheWrite5mTokens, m.usage.cacheWrite1hTokens], [0, 1200], 'a smaller total comes off 5m first');
});

test('cache usage without a split counts as 5m; a total above the split sum puts the excess on 1h', () => {
  const a = feed([ev('message_start', { message: { usage: { input_tokens: 5, output_tokens: 1, cache_creation_input_tokens: 1200, cache_read_input_tokens: null } } })]);
  assert.deepEqual(a.usage, { inputTokens: 5, outputTokens: 1, cacheReadTokens: 0, cacheWrite5mTokens: 1200, cacheWrite1hTokens: 0 });
  a.onEvent(ev('message_delta', { delta: {}, usage: { cache_creation_input_tokens: 1300, output_tokens: 9 } }));
  assert.deepEqual([a.usage.cacheWrite5mTokens, a.usage.cacheWrite1hTokens], [1300, 0], 'growth stays 5m when no 1h was written');
  const b = feed([ev('message_start', { message: { usage: { input_tokens: 5, cache_creation_input_tokens: 700, cache_creation: { ephemeral_5m_input_tokens: 456, ephemeral_1h_input_tokens: 100 } } } })]);
  assert.deepEqual([b.usage.cacheWrite5mTokens, b.usage.cacheWrite1hTokens], [456, 244]);
  const c = feed([ev('message_start', { message: { usage: { input_tokens: 5, cache_creation_input_tokens: 248, cache_creation: { ephemeral_5m_input_tokens: 456, ephemeral_1h_input_tokens: 100 } } } })]);
  assert.deepEqual([c.usage.cacheWrite5mTokens, c.usage.cacheWrite1hTokens], [456, 100], 'the split wins over a smaller total');
});

test('thinking and citations count toward the estimate; signatures do not', () => {
  const m = feed([
    ev('message_start', { message: { usage: { input_tokens: 5, output_tokens: 0 } } }),
    ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '' } }),
    ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Let me think about this step by step.' } }),
  ]);
  const afterThinking = m.estimatedOutputTokens;
  assert.ok(afterThinking >= 9);
  m.onEvent(ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM'.repeat(50) } }));
  assert.equal(m.estimatedOutputTokens, afterThinking);
  m.onEvent(ev('content_block_stop', { index: 0 }));
  m.onEvent(ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }));
  m.onEvent(ev('content_block_delta', { index: 1, delta: { type: 'citations_delta', citation: { type: 'char_location', cited_text: 'The grass is green.' } } }));
  assert.ok(m.estimatedOutputTokens > afterThinking);
});

test('pings, unknown events and malformed data are ignored', () => {
  const m = new AnthropicStreamMeter();
  m.onEvent({ event: 'ping', data: 'not even json' });
  m.onEvent({ event: 'content_block_delta', data: '{"type":"content_block_delta","index":0,"delta":' });
  m.onEvent(ev('some_future_event', { whatever: 1 }));
  m.onEvent({ event: undefined, data: '[1,2,3]' });
  assert.equal(m.messageStarted, false);
  assert.equal(m.estimatedOutputTokens, 0);
});

test('an open thinking block is bounded by time, not by its streamed summary', () => {
  let now = 1_000;
  const meter = new AnthropicStreamMeter(1, () => now);
  const ev = (event: string, data: unknown) => meter.onEvent({ event, data: JSON.stringify(data) });
  ev('message_start', { type: 'message_start', message: { id: 'm', model: 'claude-opus-4-8', usage: { input_tokens: 10, output_tokens: 1 } } });
  ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } });
  assert.equal(meter.needsClock, true);
  // The fastest a real Claude model thinks (measured, the rate test/caps.test.ts's mock uses): the
  // hold must cover what such a model has billed at every re-check, or the bill could pass the cap.
  const FASTEST_REAL_CLAUDE_TOKENS_PER_SECOND = 260;
  for (let ms = 200; ms <= 2_000; ms += 200) {
    now += 200;
    assert.ok(meter.outputTokensForHold() >= Math.ceil((FASTEST_REAL_CLAUDE_TOKENS_PER_SECOND * ms) / 1000), `after ${ms} ms of thinking: ${meter.outputTokensForHold()}`);
  }
  ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Short summary.' } });
  assert.ok(meter.outputTokensForHold() >= 2 * FASTEST_REAL_CLAUDE_TOKENS_PER_SECOND, 'two seconds of hidden thinking, whatever the summary says');
  ev('content_block_stop', { type: 'content_block_stop', index: 0 });
  assert.equal(meter.needsClock, false);
  const afterThinking = meter.outputTokensForHold();
  now += 10_000;
  assert.equal(meter.outputTokensForHold(), afterThinking, 'the clock stops with the block');
});
