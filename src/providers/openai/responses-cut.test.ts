import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SseParser } from '../../proxy/sse.js';
import type { SseEvent } from '../../proxy/sse-types.js';
import { ResponsesStreamMeter } from './responses-meter.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const NOTICE = 'spendcap: key "work" reached its cap of $1.00 (day); this response was cut here. Raise it: spendcap lift work --add 5';

function ev(type: string, fields: Record<string, unknown> = {}): SseEvent {
  return { event: type, data: JSON.stringify({ type, ...fields }) };
}

/** The value at a path of keys and indexes in parsed JSON (undefined when absent). */
function at(v: unknown, ...path: Array<string | number>): unknown {
  let cur = v;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/** The tail's events, parsed; every one has its `event:` line equal to its type. */
function tailEvents(tail: string): unknown[] {
  const events = new SseParser().push(Buffer.from(tail));
  return events.map((e) => {
    const d: unknown = JSON.parse(e.data);
    assert.equal(e.event, at(d, 'type'));
    return d;
  });
}

function fed(events: SseEvent[], model = 'gpt-4.1'): ResponsesStreamMeter {
  const m = new ResponsesStreamMeter({ model, estimatedInputTokens: 500, reasoningEffort: null });
  for (const e of events) m.onEvent(e);
  return m;
}

const fixture = new SseParser().push(readFileSync(FIXTURES + 'openai-responses-stream.sse'));

test('cut mid-text: the open part and message are closed "incomplete", then response.incomplete with the notice as reason', () => {
  const upTo = fixture.findIndex((e) => e.event === 'response.output_text.delta');
  const m = fed(fixture.slice(0, upTo + 1));
  const tail = tailEvents(m.cutTail(NOTICE));
  assert.deepEqual(tail.map((e) => at(e, 'type')), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.incomplete']);
  assert.equal(at(tail[0], 'text'), 'Hi');
  assert.equal(at(tail[0], 'item_id'), 'msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654');
  assert.deepEqual(at(tail[1], 'part'), { type: 'output_text', text: 'Hi', annotations: [], logprobs: [] });
  const item = at(tail[2], 'item');
  assert.deepEqual([at(item, 'type'), at(item, 'status'), at(item, 'role'), at(item, 'content', 0, 'text')], ['message', 'incomplete', 'assistant', 'Hi']);
  const r = at(tail[3], 'response');
  assert.equal(at(r, 'id'), 'resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654', 'the response the provider opened');
  assert.equal(at(r, 'status'), 'incomplete');
  assert.deepEqual(at(r, 'incomplete_details'), { reason: NOTICE });
  assert.deepEqual(at(r, 'output'), [item]);
  assert.equal(at(r, 'usage', 'input_tokens'), 500, 'the input spendcap charged for');
  assert.equal(at(r, 'usage', 'output_tokens'), m.outputTokensForHold());
  assert.equal(at(r, 'usage', 'total_tokens'), 500 + m.outputTokensForHold());
  // the fixture has no sequence numbers: the tail numbers from 0
  assert.deepEqual(tail.map((e) => at(e, 'sequence_number')), [0, 1, 2, 3]);
});

test('the meter fed its own tail ends: terminal, usage as charged, nothing more to cut', () => {
  const m = fed(fixture.slice(0, 5));
  const tail = m.cutTail(NOTICE);
  for (const e of new SseParser().push(Buffer.from(tail))) m.onEvent(e);
  assert.equal(m.terminal, 'response.incomplete');
  assert.equal(m.openItems.size, 0);
  assert.equal(m.cutTail(NOTICE), '');
});

test('after a terminal event there is nothing to add', () => {
  assert.equal(fed(fixture).cutTail(NOTICE), '');
  assert.equal(fed([ev('error', { code: 'x', message: 'y' })]).cutTail(NOTICE), '');
});

test('cut mid-function-call: the call stays open (no arguments.done, no output_item.done) and is left out of the output', () => {
  const m = fed([
    ev('response.created', { response: { id: 'resp_1', status: 'in_progress', model: 'gpt-5', output: [] }, sequence_number: 0 }),
    ev('response.output_item.added', { output_index: 0, item: { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] }, sequence_number: 1 }),
    ev('response.content_part.added', { item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: '' }, sequence_number: 2 }),
    ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Running it.', sequence_number: 3 }),
    ev('response.output_text.done', { item_id: 'msg_1', output_index: 0, content_index: 0, text: 'Running it.', sequence_number: 4 }),
    ev('response.content_part.done', { item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'output_text', text: 'Running it.', annotations: [] }, sequence_number: 5 }),
    ev('response.output_item.done', { output_index: 0, item: { id: 'msg_1', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Running it.', annotations: [] }] }, sequence_number: 6 }),
    ev('response.output_item.added', { output_index: 1, item: { id: 'fc_1', type: 'function_call', status: 'in_progress', name: 'exec_command', call_id: 'call_1', arguments: '' }, sequence_number: 7 }),
    ev('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 1, delta: '{"cmd": "rm -', sequence_number: 8 }),
  ]);
  const tail = tailEvents(m.cutTail(NOTICE));
  assert.deepEqual(tail.map((e) => at(e, 'type')), ['response.incomplete']);
  assert.equal(at(tail[0], 'sequence_number'), 9);
  const out = at(tail[0], 'response', 'output');
  assert.ok(Array.isArray(out));
  assert.deepEqual(out.map((o) => [at(o, 'type'), at(o, 'status')]), [['message', 'completed']]);
});

test('cut while reasoning: the reasoning item stays open, only response.incomplete is added; hidden reasoning is reported as reasoning', () => {
  let t = 0;
  const m = new ResponsesStreamMeter({ model: 'o3', estimatedInputTokens: 10, reasoningEffort: 'high' }, () => t);
  m.onEvent(ev('response.created', { response: { id: 'resp_1', status: 'in_progress', model: 'o3', output: [] }, sequence_number: 0 }));
  m.onEvent(ev('response.output_item.added', { output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] }, sequence_number: 1 }));
  t += 3000;
  const tail = tailEvents(m.cutTail(NOTICE));
  assert.deepEqual(tail.map((e) => at(e, 'type')), ['response.incomplete']);
  assert.ok(Number(at(tail[0], 'response', 'usage', 'output_tokens_details', 'reasoning_tokens')) >= 1500);
  assert.deepEqual(at(tail[0], 'response', 'output'), []);
});

test('cut before the provider said anything: a response.created is made up first, so SDKs have a response', () => {
  const m = fed([]);
  const tail = tailEvents(m.cutTail(NOTICE));
  assert.deepEqual(tail.map((e) => at(e, 'type')), ['response.created', 'response.incomplete']);
  assert.match(String(at(tail[0], 'response', 'id')), /^resp_spendcap_cut_[0-9a-f]{24}$/);
  assert.equal(at(tail[1], 'response', 'id'), at(tail[0], 'response', 'id'));
  assert.equal(at(tail[1], 'response', 'model'), 'gpt-4.1');
  assert.deepEqual(tail.map((e) => at(e, 'sequence_number')), [0, 1]);
});

test('an open refusal part is closed with refusal.done', () => {
  const m = fed([
    ev('response.created', { response: { id: 'resp_1', status: 'in_progress', output: [] } }),
    ev('response.output_item.added', { output_index: 0, item: { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] } }),
    ev('response.content_part.added', { item_id: 'msg_1', output_index: 0, content_index: 0, part: { type: 'refusal', refusal: '' } }),
    ev('response.refusal.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: "I can't" }),
  ]);
  const tail = tailEvents(m.cutTail(NOTICE));
  assert.deepEqual(tail.map((e) => at(e, 'type')), ['response.refusal.done', 'response.content_part.done', 'response.output_item.done', 'response.incomplete']);
  assert.equal(at(tail[0], 'refusal'), "I can't");
  assert.deepEqual(at(tail[2], 'item', 'content'), [{ type: 'refusal', refusal: "I can't" }]);
});
