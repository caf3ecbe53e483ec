import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SseParser } from '../../proxy/sse.js';
import type { SseEvent } from '../../proxy/sse-types.js';
import { estimateTokens } from '../../proxy/estimate-tokens.js';
import { ResponsesStreamMeter } from './responses-meter.js';
import { mayReasonHidden, reasoningTokensPerSecond } from './models.js';

// Compiled to dist/src/providers/openai/: four levels up is the repo root.
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));

export function ev(type: string, fields: Record<string, unknown> = {}): SseEvent {
  return { event: type, data: JSON.stringify({ type, ...fields }) };
}

function meter(model = 'gpt-4.1', effort: string | null = null, now: () => number = Date.now): ResponsesStreamMeter {
  return new ResponsesStreamMeter({ model, estimatedInputTokens: 1000, reasoningEffort: effort }, now);
}

test('the docs fixture: usage from response.completed, model, complete', () => {
  const m = meter('gpt-5.4');
  const events = new SseParser().push(readFileSync(FIXTURES + 'openai-responses-stream.sse'));
  let midStream = 0;
  for (const e of events) {
    m.onEvent(e);
    if (e.event === 'response.output_text.delta') midStream = m.outputTokensForHold();
  }
  assert.ok(midStream >= 1, 'the delta was counted before the usage came');
  assert.equal(m.complete, true);
  assert.equal(m.hasFinalUsage, true);
  assert.equal(m.inputKnown, true);
  assert.equal(m.model, 'gpt-5.4');
  assert.deepEqual(m.usage, { inputTokens: 37, outputTokens: 11, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 });
  assert.ok(m.outputTokensForHold() >= 11);
  assert.equal(m.terminal, 'response.completed');
});

test('before the terminal event the input is the request estimate and the output an upper estimate of every delta', () => {
  const m = meter();
  assert.equal(m.inputKnown, false);
  assert.equal(m.usage.inputTokens, 1000);
  const text = 'Spend caps keep an agent from running up a bill overnight. '.repeat(20);
  const args = JSON.stringify({ cmd: 'grep -rn "budget" src/ | head -50' });
  const summary = 'I should look at the budget code first.';
  m.onEvent(ev('response.created', { response: { id: 'resp_1', model: 'gpt-4.1', status: 'in_progress', output: [] }, sequence_number: 0 }));
  m.onEvent(ev('response.output_item.added', { output_index: 0, item: { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] } }));
  m.onEvent(ev('response.content_part.added', { item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '' } }));
  for (const piece of text.match(/.{1,7}/g)!) m.onEvent(ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: piece }));
  m.onEvent(ev('response.output_item.added', { output_index: 1, item: { id: 'fc_1', type: 'function_call', status: 'in_progress', name: 'exec_command', call_id: 'call_1', arguments: '' } }));
  for (const piece of args.match(/.{1,8}/g)!) m.onEvent(ev('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 1, delta: piece }));
  m.onEvent(ev('response.reasoning_summary_text.delta', { item_id: 'rs_1', output_index: 2, summary_index: 0, delta: summary }));
  const floor = estimateTokens(text) + estimateTokens(args) + estimateTokens(summary);
  assert.ok(m.outputTokensForHold() >= floor, `${m.outputTokensForHold()} < ${floor}`);
  assert.ok(m.outputTokensForHold() <= floor * 1.3, 'not wildly over');
  assert.equal(m.openItems.get(0)?.part?.text, text, 'the open text is followed for the cut');
  assert.equal(m.complete, false);
  assert.equal(m.hasFinalUsage, false);
});

test('the provider count wins when larger (reasoning tokens never streamed); the estimate when larger', () => {
  const m = meter();
  m.onEvent(ev('response.completed', { response: { id: 'r', model: 'gpt-4.1-2025-04-14', usage: { input_tokens: 900, input_tokens_details: { cached_tokens: 800 }, output_tokens: 5000, output_tokens_details: { reasoning_tokens: 4990 } } } }));
  assert.equal(m.outputTokensForHold(), 5000);
  assert.deepEqual([m.usage.inputTokens, m.usage.cacheReadTokens, m.usage.outputTokens], [100, 800, 5000]);
  assert.equal(m.model, 'gpt-4.1-2025-04-14');
  const small = meter();
  small.onEvent(ev('response.output_text.delta', { output_index: 0, delta: 'word '.repeat(100) }));
  small.onEvent(ev('response.incomplete', { response: { usage: { input_tokens: 1, output_tokens: 3 } } }));
  assert.ok(small.outputTokensForHold() >= 100);
  assert.equal(small.terminal, 'response.incomplete');
});

test('response.failed and error events end the stream; failed may carry usage', () => {
  const f = meter();
  f.onEvent(ev('response.failed', { response: { error: { code: 'server_error' }, usage: { input_tokens: 10, output_tokens: 2 } } }));
  assert.deepEqual([f.complete, f.hasFinalUsage], [true, true]);
  const e = meter();
  e.onEvent(ev('error', { code: 'server_error', message: 'boom' }));
  assert.deepEqual([e.complete, e.hasFinalUsage], [true, false]);
  // junk is ignored
  e.onEvent({ event: undefined, data: '[DONE]' });
  e.onEvent({ event: 'x', data: '"str"' });
});

test('an item that arrives whole (no deltas) is counted at output_item.done', () => {
  const m = meter();
  const text = 'A whole answer that came in one piece. '.repeat(10);
  m.onEvent(ev('response.output_item.added', { output_index: 0, item: { id: 'msg_1', type: 'message', content: [] } }));
  m.onEvent(ev('response.output_item.done', { output_index: 0, item: { id: 'msg_1', type: 'message', status: 'completed', content: [{ type: 'output_text', text }] } }));
  assert.ok(m.outputTokensForHold() >= estimateTokens(text));
  assert.equal(m.doneItems.size, 1);
  assert.equal(m.openItems.size, 0);
});

// The fastest OpenAI's API models generate (gpt-5-nano, gpt-4.1-nano, priority tier: public
// measurements up to about 250 tokens/s): a fact about the world, not the meter's constant.
const FASTEST_REAL_OPENAI_TOKENS_PER_SECOND = 250;

test('hidden reasoning: a reasoning model is on the clock while no visible item is open, covering the fastest real model', () => {
  let t = 1_000_000;
  const m = meter('o4-mini', null, () => t);
  assert.equal(m.needsClock, true, 'from the first byte: it may reason before any event');
  for (let ms = 200; ms <= 2000; ms += 200) {
    t += 200;
    assert.ok(m.outputTokensForHold() >= Math.ceil((FASTEST_REAL_OPENAI_TOKENS_PER_SECOND * ms) / 1000), `after ${ms} ms: ${m.outputTokensForHold()}`);
  }
  m.onEvent(ev('response.created', { response: { id: 'r', model: 'o4-mini', output: [] } }));
  m.onEvent(ev('response.output_item.added', { output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } }));
  assert.equal(m.needsClock, true, 'a reasoning item is open');
  t += 1000;
  m.onEvent(ev('response.output_item.done', { output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } }));
  m.onEvent(ev('response.output_item.added', { output_index: 1, item: { id: 'msg_1', type: 'message', content: [] } }));
  assert.equal(m.needsClock, false, 'a visible item is streaming: its deltas are the bound');
  const frozen = m.outputTokensForHold();
  assert.ok(frozen >= 3 * FASTEST_REAL_OPENAI_TOKENS_PER_SECOND, 'three seconds of reasoning at the fastest real rate are held');
  t += 10_000;
  assert.equal(m.outputTokensForHold(), frozen, 'time spent streaming text is not counted twice');
  m.onEvent(ev('response.output_item.done', { output_index: 1, item: { id: 'msg_1', type: 'message', content: [] } }));
  assert.equal(m.needsClock, true, 'between items it may reason again');
  t += 1000;
  m.onEvent(ev('response.completed', { response: { usage: { input_tokens: 1, output_tokens: 2000 } } }));
  assert.equal(m.needsClock, false);
  assert.ok(m.hiddenReasoningTokens >= 4 * FASTEST_REAL_OPENAI_TOKENS_PER_SECOND, 'four seconds off-screen: at least what the fastest real model reasons in them');
});

test('models known not to reason, and reasoning.effort "none", are never on the clock', () => {
  for (const [model, effort] of [['gpt-4.1', null], ['gpt-4o-mini', null], ['gpt-5-chat-latest', null], ['gpt-5.1', 'none'], ['openai/gpt-4o', null]] as const) {
    assert.equal(meter(model, effort).needsClock, false, `${model} ${effort}`);
  }
  for (const [model, effort] of [['gpt-5', null], ['o3', null], ['gpt-4.1', 'high'], ['qwen/qwen3-235b', null], ['gpt-5-codex', null]] as const) {
    assert.equal(meter(model, effort).needsClock, true, `${model} ${effort}`);
  }
  assert.equal(mayReasonHidden('deepseek/deepseek-r1', null), true);
});

test('speed assumptions per model family', () => {
  assert.ok(reasoningTokensPerSecond('gpt-5') >= FASTEST_REAL_OPENAI_TOKENS_PER_SECOND);
  assert.ok(reasoningTokensPerSecond('openai/o4-mini') >= FASTEST_REAL_OPENAI_TOKENS_PER_SECOND);
  // Cerebras / Groq / SambaNova serve spark and open-weight models at up to about 3,000 tokens/s.
  for (const fast of ['gpt-5.3-codex-spark', 'openai/gpt-oss-120b', 'meta-llama/llama-4']) assert.ok(reasoningTokensPerSecond(fast) >= 3000, fast);
  // The tokenizer factors are asserted by their effect in ../tokenizer-factors.test.ts.
});

test('a hosted search adds its results to the input: the estimate makes room for them before the usage says so', () => {
  const m = meter();
  m.onEvent(ev('response.output_item.added', { output_index: 0, item: { id: 'ws_1', type: 'web_search_call', status: 'in_progress' } }));
  assert.ok(m.outputTokensForHold() >= 20_000);
  m.onEvent(ev('response.output_item.done', { output_index: 1, item: { id: 'fs_1', type: 'file_search_call', status: 'completed', queries: ['x'] } }));
  assert.ok(m.outputTokensForHold() >= 36_000);
});

test('usage.cost (OpenRouter) becomes the provider cost', () => {
  const m = meter();
  m.onEvent(ev('response.completed', { response: { usage: { input_tokens: 10, output_tokens: 2, cost: 0.00042 } } }));
  assert.equal(m.providerCostNanos, 420);
});

test("OpenAI's reasoning is an output item before the answer: an answer first means the clocked wait was the prompt, not reasoning", () => {
  let t = 1_000_000;
  const answerFirst = meter('gpt-5', null, () => t);
  t += 300;
  assert.ok(answerFirst.outputTokensForHold() > 0, 'while nothing is open, the wait may be reasoning');
  answerFirst.onEvent(ev('response.created', { response: { id: 'r', model: 'gpt-5', output: [] } }));
  answerFirst.onEvent(ev('response.output_item.added', { output_index: 0, item: { id: 'msg_1', type: 'message', content: [] } }));
  assert.equal(answerFirst.hiddenReasoningTokens, 0);
  // A reasoning item first: the wait before the answer stays held, whatever came first.
  t = 1_000_000;
  const reasoned = meter('gpt-5', null, () => t);
  reasoned.onEvent(ev('response.output_item.added', { output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } }));
  t += 300;
  reasoned.onEvent(ev('response.output_item.done', { output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } }));
  reasoned.onEvent(ev('response.output_item.added', { output_index: 1, item: { id: 'msg_1', type: 'message', content: [] } }));
  assert.ok(reasoned.hiddenReasoningTokens >= Math.ceil((FASTEST_REAL_OPENAI_TOKENS_PER_SECOND * 300) / 1000));
  // Behind a router (a vendor prefix) the rule does not apply: another vendor may reason without an item.
  t = 1_000_000;
  const routed = meter('anthropic/claude-sonnet-4.5', null, () => t);
  t += 300;
  routed.onEvent(ev('response.output_item.added', { output_index: 0, item: { id: 'msg_1', type: 'message', content: [] } }));
  assert.ok(routed.hiddenReasoningTokens > 0);
});
