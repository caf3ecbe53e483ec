import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SseParser } from '../../proxy/sse.js';
import type { SseEvent } from '../../proxy/sse-types.js';
import { estimateTokens } from '../../proxy/estimate-tokens.js';
import { kindsOfText, worstCaseTokens } from '../../proxy/token-samples.js';
import { parseChatRequest } from './chat-request.js';
import type { ChatRequestInfo } from './chat-request.js';
import { ChatStreamMeter, stripHiddenUsage, TOOL_CALL_OVERHEAD_TOKENS } from './chat-stream-meter.js';

// Compiled to dist/src/providers/openai/: four levels up is the repo root.
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));

function info(body: Record<string, unknown>, receivedAt = 0): ChatRequestInfo {
  const r = parseChatRequest(Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body })), () => receivedAt);
  if ('code' in r) throw new Error(r.message);
  return r;
}

function events(text: string): SseEvent[] {
  return new SseParser().push(Buffer.from(text));
}

const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1' };
function chunk(delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}): SseEvent {
  return { event: undefined, data: JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra }) };
}

test('the recorded include_usage stream: usage from the last chunk, model, complete at [DONE]', () => {
  const m = new ChatStreamMeter(info({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true } }));
  const evs = events(readFileSync(FIXTURES + 'openai-chat-completions-stream-include-usage.sse', 'utf8'));
  for (const ev of evs.slice(0, -2)) m.onEvent(ev);
  assert.equal(m.hasFinalUsage, false);
  assert.equal(m.inputKnown, false);
  // 10 real completion tokens; the estimate is at or above them before usage arrives
  assert.ok(m.outputTokensForHold() >= 10, `estimate ${m.outputTokensForHold()}`);
  m.onEvent(evs.at(-2)!);
  assert.equal(m.hasFinalUsage, true);
  assert.deepEqual(m.usage, { inputTokens: 17, outputTokens: 10, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 });
  assert.equal(m.complete, false);
  m.onEvent(evs.at(-1)!);
  assert.equal(m.complete, true);
  assert.equal(m.model, 'gpt-4o-2024-08-06');
  assert.equal(m.rewrite, undefined, 'the client asked for usage: bytes pass untouched');
  assert.equal(m.cutTail('x'), '');
});

test('estimates every billed field: content, refusal, tool names and arguments (with framing), streamed reasoning', () => {
  const m = new ChatStreamMeter(info({ model: 'gpt-4.1', stream: true }));
  const prose = 'Budgets are enforced before the request leaves the machine, and every token is counted.';
  m.onEvent(chunk({ role: 'assistant', content: '' }));
  m.onEvent(chunk({ content: prose.slice(0, 20) }));
  m.onEvent(chunk({ content: prose.slice(20) }));
  const afterText = m.outputTokensForHold();
  assert.ok(afterText >= estimateTokens(prose) && afterText <= estimateTokens(prose) + 1, `${afterText}`);
  m.onEvent(chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'shell', arguments: '' } }] }));
  m.onEvent(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"command":["ls","-la"]}' } }] }));
  assert.ok(m.outputTokensForHold() >= afterText + TOOL_CALL_OVERHEAD_TOKENS + 8);
  const beforeReasoning = m.outputTokensForHold();
  m.onEvent(chunk({ reasoning_content: 'Let me think about the budget carefully.' }));
  m.onEvent(chunk({ reasoning: 'More thoughts.', reasoning_details: [{ type: 'reasoning.text', text: 'More thoughts.' }] }));
  m.onEvent(chunk({ refusal: 'I cannot.' }));
  assert.ok(m.outputTokensForHold() >= beforeReasoning + 8 + 3 + 3);
  assert.equal(m.needsClock, false, 'gpt-4.1 does not reason hidden');
});

test('a model on an unknown vocabulary is held above an o200k model, enough for its coarsest plausible vocabulary', () => {
  for (const s of kindsOfText()) {
    const a = new ChatStreamMeter(info({ model: 'gpt-4o', stream: true }));
    const b = new ChatStreamMeter(info({ model: 'mistralai/mistral-7b-instruct', stream: true }));
    for (const d of s.text.match(/\s*\S+|\s+/g) ?? []) {
      a.onEvent(chunk({ content: d }));
      b.onEvent(chunk({ content: d }));
    }
    assert.ok(b.outputTokensForHold() > a.outputTokensForHold(), s.name);
    assert.ok(b.outputTokensForHold() >= worstCaseTokens('open-weight', s), `${s.name}: ${b.outputTokensForHold()} < ${worstCaseTokens('open-weight', s)}`);
  }
});

test('hidden reasoning: the clock bounds the output until the choice answers, then the bound is fixed', () => {
  let now = 0;
  const m = new ChatStreamMeter(info({ model: 'o4-mini', stream: true }, 0), () => now);
  assert.equal(m.needsClock, true);
  m.onEvent(chunk({ role: 'assistant', content: '' }));
  assert.equal(m.needsClock, true, 'an empty content delta is not an answer');
  now = 2_500;
  assert.equal(m.outputTokensForHold(), 1250, '2.5 s × 500 tokens/s');
  m.onEvent(chunk({ content: 'Hello' }));
  assert.equal(m.needsClock, false);
  const fixed = m.outputTokensForHold();
  assert.ok(fixed >= 1250 && fixed <= 1252);
  now = 60_000;
  assert.equal(m.outputTokensForHold(), fixed, 'the clock no longer runs');
  m.onEvent({ event: undefined, data: JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 10, completion_tokens: 900, completion_tokens_details: { reasoning_tokens: 899 } } }) });
  assert.equal(m.usage.outputTokens, 900);
  assert.equal(m.outputTokensForHold(), fixed, 'never below what was held');
});

test('hidden reasoning runs from when the request was read, for each of n choices, and stops at usage or [DONE]', () => {
  let now = 1000;
  const m = new ChatStreamMeter(info({ model: 'deepseek-r1', stream: true, reasoning_effort: 'high', n: 2 }, 0), () => now);
  assert.equal(m.outputTokensForHold(), 2 * 3000, '1 s since the request at 3000 tokens/s, two choices');
  m.onEvent(chunk({ content: 'x' }));
  assert.equal(m.needsClock, true, 'choice 1 still thinks');
  now = 2000;
  m.onEvent({ event: undefined, data: JSON.stringify({ ...base, choices: [{ index: 1, delta: {}, finish_reason: 'stop' }] }) });
  assert.equal(m.needsClock, false);
  const m2 = new ChatStreamMeter(info({ model: 'o3', stream: true }, 0), () => now);
  m2.onEvent({ event: undefined, data: '[DONE]' });
  assert.equal(m2.needsClock, false);
});

test('OpenRouter: usage.cost is the provider cost; an error payload ends the stream', () => {
  const m = new ChatStreamMeter(info({ model: 'openai/gpt-4o', stream: true }));
  m.onEvent({ event: undefined, data: JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 100, completion_tokens: 20, cost: 0.00045, is_byok: false } }) });
  assert.equal(m.providerCostNanos, 450_000);
  const e = new ChatStreamMeter(info({ model: 'gpt-4o', stream: true }));
  e.onEvent({ event: undefined, data: '{"error":{"message":"boom","type":"server_error","param":null,"code":null}}' });
  assert.deepEqual(e.sawError, { type: 'server_error', message: 'boom' });
  assert.equal(e.cutTail('x'), '');
});

test('hidden usage: the usage chunk is dropped and "usage":null removed, leaving the bytes the client would have had', () => {
  const m = new ChatStreamMeter(info({ model: 'gpt-4o', stream: true }));
  assert.ok(m.rewrite, 'defined only when spendcap asked for the usage');
  const plain = { ...base, choices: [{ index: 0, delta: { content: 'Hi "usage":null' }, logprobs: null, finish_reason: null }] };
  const withNull = JSON.stringify({ ...plain, usage: null });
  assert.equal(m.rewrite({ event: undefined, data: withNull }), `data: ${JSON.stringify(plain)}\n\n`);
  // usage:null before another key (OpenAI's obfuscation field)
  const mid = JSON.stringify({ ...plain, usage: null, obfuscation: 'abc' });
  assert.equal(stripHiddenUsage({ event: undefined, data: mid }), `data: ${JSON.stringify({ ...plain, obfuscation: 'abc' })}\n\n`);
  assert.equal(stripHiddenUsage({ event: undefined, data: JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } }) }), '');
  // a provider that puts usage on a content chunk keeps the chunk, without usage
  const onContent = JSON.stringify({ ...plain, usage: { prompt_tokens: 1, completion_tokens: 1 } });
  assert.deepEqual(JSON.parse(stripHiddenUsage({ event: undefined, data: onContent }).slice(6)), plain);
  assert.equal(stripHiddenUsage({ event: undefined, data: '[DONE]' }), 'data: [DONE]\n\n');
  assert.equal(stripHiddenUsage({ event: undefined, data: JSON.stringify(plain) }), `data: ${JSON.stringify(plain)}\n\n`);
  assert.equal(stripHiddenUsage({ event: undefined, data: 'not json "usage"' }), 'data: not json "usage"\n\n');
});

test('a prediction is part of the output estimate until the provider counts it', () => {
  const m = new ChatStreamMeter(info({ model: 'gpt-4o', stream: true, prediction: { type: 'content', content: 'const x = 1;\n'.repeat(50) } }));
  assert.equal(m.outputTokensForHold(), m.info.predictionTokens);
  assert.ok(m.info.predictionTokens > 100);
});
