import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CUT_INPUT_MARKER } from '../tool-input.js';
import { parseChatRequest } from './chat-request.js';
import { CHAT_CUT_FINISH_REASON } from './chat-cut.js';
import { ChatStreamMeter } from './chat-stream-meter.js';

function meter(body: Record<string, unknown>): ChatStreamMeter {
  const r = parseChatRequest(Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], stream: true, ...body })));
  if ('code' in r) throw new Error(r.message);
  return new ChatStreamMeter(r);
}

const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 7, model: 'gpt-4o-2024-08-06', system_fingerprint: 'fp_1' };
function feed(m: ChatStreamMeter, delta: Record<string, unknown>, finish: string | null = null, index = 0): void {
  m.onEvent({ event: undefined, data: JSON.stringify({ ...base, choices: [{ index, delta, logprobs: null, finish_reason: finish }] }) });
}

interface Chunk {
  id: string;
  model: string;
  created: number;
  choices: Array<{ index: number; delta: Record<string, unknown>; finish_reason: string | null }>;
  usage?: unknown;
}

/** The tail's data payloads: chunks, and [DONE] last. */
function parseTail(tail: string): { chunks: Chunk[]; done: boolean } {
  const parts = tail.split('\n\n').filter((p) => p !== '');
  for (const p of parts) assert.ok(p.startsWith('data: ') && !p.includes('\n'), `one data line per event: ${p}`);
  const datas = parts.map((p) => p.slice(6));
  const done = datas.at(-1) === '[DONE]';
  return { chunks: datas.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d) as Chunk), done };
}

test('cut after some text: the notice continues the content, then a cap_reached finish and [DONE], in the stream\'s own id and model', () => {
  const m = meter({ model: 'gpt-4o' });
  feed(m, { role: 'assistant', content: '' });
  feed(m, { content: 'Hello there' });
  const { chunks, done } = parseTail(m.cutTail('spendcap: key "k" reached its cap'));
  assert.equal(done, true);
  assert.equal(chunks.length, 2);
  assert.deepEqual(chunks[0]!.choices[0]!.delta, { content: '\n\nspendcap: key "k" reached its cap' });
  assert.equal(chunks[1]!.choices[0]!.finish_reason, CHAT_CUT_FINISH_REASON);
  assert.equal(CHAT_CUT_FINISH_REASON, 'cap_reached');
  for (const c of chunks) {
    assert.deepEqual([c.id, c.model, c.created], ['chatcmpl-1', 'gpt-4o-2024-08-06', 7]);
    assert.equal('usage' in c, false, 'the client did not ask for usage: none in the tail');
  }
});

test('cut before the first chunk: the notice carries the role; n choices each get one', () => {
  const m = meter({ model: 'o3', n: 2 });
  const { chunks } = parseTail(m.cutTail('notice'));
  assert.equal(chunks.length, 4);
  assert.deepEqual(chunks[0]!.choices[0], { index: 0, delta: { role: 'assistant', content: 'notice' }, logprobs: null, finish_reason: null });
  assert.deepEqual(chunks[2]!.choices[0]!.index, 1);
  assert.equal(chunks[0]!.model, 'o3');
  assert.match(chunks[0]!.id, /^chatcmpl-spendcap-cut-/);
});

test('cut inside a tool call: its arguments become valid JSON that no schema accepts', () => {
  const m = meter({ model: 'gpt-4o' });
  feed(m, { role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'ls', arguments: '' } }] });
  feed(m, { tool_calls: [{ index: 0, function: { arguments: '{"path":"/tmp"}' } }] });
  feed(m, { tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'shell', arguments: '' } }] });
  const sent = '{"command":["rm","-rf","bui';
  feed(m, { tool_calls: [{ index: 1, function: { arguments: sent } }] });
  const { chunks } = parseTail(m.cutTail('notice'));
  assert.equal(chunks.length, 3, 'only the open call is closed, then notice and finish');
  const closer = (chunks[0]!.choices[0]!.delta['tool_calls'] as Array<{ index: number; function: { arguments: string } }>)[0]!;
  assert.equal(closer.index, 1);
  assert.deepEqual(JSON.parse(sent + closer.function.arguments), { command: null, [CUT_INPUT_MARKER]: true });
  assert.deepEqual(chunks[1]!.choices[0]!.delta, { content: 'notice' });
});

test('the legacy function_call delta is closed the same way', () => {
  const m = meter({ model: 'gpt-4o' });
  feed(m, { role: 'assistant', function_call: { name: 'f', arguments: '{"a":' } });
  const { chunks } = parseTail(m.cutTail('n'));
  const args = (chunks[0]!.choices[0]!.delta['function_call'] as { arguments: string }).arguments;
  assert.deepEqual(JSON.parse('{"a":' + args), { a: null, [CUT_INPUT_MARKER]: true });
});

test('a client that asked for usage gets "usage":null on the tail chunks and a usage chunk with what spendcap charged', () => {
  const m = meter({ model: 'gpt-4o', stream_options: { include_usage: true } });
  feed(m, { role: 'assistant', content: 'Some words here' });
  const { chunks, done } = parseTail(m.cutTail('n'));
  assert.equal(done, true);
  assert.equal(chunks.length, 3);
  assert.equal(chunks[0]!.usage, null);
  const last = chunks[2]!;
  assert.deepEqual(last.choices, []);
  const u = last.usage as { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  assert.equal(u.completion_tokens, m.outputTokensForHold());
  assert.equal(u.prompt_tokens, m.info.estimatedInputTokens);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
});

test('after the choice finished only the end is missing; after usage only [DONE]', () => {
  const m = meter({ model: 'gpt-4o', stream_options: { include_usage: true } });
  feed(m, { content: 'x' }, 'stop');
  const { chunks } = parseTail(m.cutTail('n'));
  assert.equal(chunks.length, 1);
  assert.deepEqual(chunks[0]!.choices, []);
  m.onEvent({ event: undefined, data: JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } }) });
  assert.equal(m.cutTail('n'), 'data: [DONE]\n\n');
  m.onEvent({ event: undefined, data: '[DONE]' });
  assert.equal(m.cutTail('n'), '');
});
