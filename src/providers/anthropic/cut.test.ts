import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import { SseParser, encodeSseEvent } from '../../proxy/sse.js';
import type { SseEvent } from '../../proxy/sse-types.js';
import { AnthropicStreamMeter } from './stream-meter.js';
import { CUT_STOP_REASON, buildCutTail } from './cut.js';
import { CUT_INPUT_MARKER } from '../tool-input.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const NOTICE = 'spendcap: key "dev" reached its cap: spent $5.00 of $5.00 (day). Raise it: spendcap lift dev --add 5';

function fixtureEvents(name: string): SseEvent[] {
  return new SseParser().push(readFileSync(FIXTURES + name));
}

function ev(type: string, payload: Record<string, unknown>): SseEvent {
  return { event: type, data: JSON.stringify({ type, ...payload }) };
}

/** A stream with a thinking block (deltas + signature), then text. */
const THINKING: SseEvent[] = [
  ev('message_start', { message: { id: 'msg_t', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 40, output_tokens: 1 } } }),
  ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
  ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'The user wants' } }),
  ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: ' a short answer.' } }),
  ev('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' } }),
  ev('content_block_stop', { index: 0 }),
  ev('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
  ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Sure' } }),
  ev('content_block_delta', { index: 1, delta: { type: 'text_delta', text: ', here it is.' } }),
  ev('content_block_stop', { index: 1 }),
  ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 30 } }),
  ev('message_stop', {}),
];

const STREAMS: Record<string, SseEvent[]> = {
  basic: fixtureEvents('anthropic-messages-stream-basic.sse'),
  'tool-use': fixtureEvents('anthropic-messages-stream-tool-use.sse'),
  thinking: THINKING,
};

/** The bytes a client receives when spendcap cuts after the first n events. */
function cutAfter(events: SseEvent[], n: number): { text: string; meter: AnthropicStreamMeter } {
  // A still clock: the tail must not depend on when the test runs.
  const meter = new AnthropicStreamMeter(1, () => 0);
  let text = '';
  for (const e of events.slice(0, n)) {
    meter.onEvent(e);
    text += encodeSseEvent(e.event, e.data);
  }
  return { text: text + buildCutTail(meter, NOTICE, CUT_STOP_REASON), meter };
}

interface Parsed {
  type: string;
  index?: number;
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string };
  usage?: { output_tokens?: unknown };
  content_block?: { type?: string };
}

/** Asserts the Anthropic stream grammar; returns the parsed events. */
function assertWellFormed(text: string): Parsed[] {
  const events = new SseParser().push(Buffer.from(text));
  const parsed = events.map((e) => {
    assert.ok(e.event !== undefined, 'every event has an event: line');
    const d = JSON.parse(e.data) as Parsed;
    assert.equal(d.type, e.event);
    return d;
  });
  const body = parsed.filter((p) => p.type !== 'ping');
  assert.equal(body.filter((p) => p.type === 'message_start').length, 1, 'exactly one message_start');
  assert.equal(body[0]?.type, 'message_start');
  assert.equal(body.at(-1)?.type, 'message_stop', 'ends with message_stop');
  let open: number | null = null;
  let lastIndex = -1;
  for (const p of body.slice(1, -1)) {
    if (p.type === 'content_block_start') {
      assert.equal(open, null, 'blocks do not nest');
      assert.ok((p.index ?? -1) > lastIndex, 'indices increase');
      open = p.index ?? -1;
      lastIndex = open;
    } else if (p.type === 'content_block_delta') {
      assert.equal(p.index, open, 'a delta belongs to the open block');
    } else if (p.type === 'content_block_stop') {
      assert.equal(p.index, open, 'stop matches the open block');
      open = null;
    } else if (p.type === 'message_delta') {
      assert.equal(open, null, 'no block open at message_delta');
      assert.equal(typeof p.usage?.output_tokens, 'number', 'message_delta carries usage.output_tokens');
    }
  }
  assert.equal(open, null);
  assert.equal(body.filter((p) => p.type === 'message_delta').length >= 1, true);
  return parsed;
}

for (const [name, events] of Object.entries(STREAMS)) {
  test(`${name}: a cut after any number of events is well-formed and carries the notice`, () => {
    for (let n = 0; n <= events.length; n++) {
      const { text, meter } = cutAfter(events, n);
      const parsed = assertWellFormed(text);
      if (meter.sawMessageDelta) continue; // the message had ended: nothing to add but its end
      const texts = parsed.filter((p) => p.delta?.type === 'text_delta').map((p) => p.delta?.text ?? '');
      assert.ok(texts.some((t) => t.includes(NOTICE)), `n=${n}: the notice is in a text delta`);
      const md = parsed.filter((p) => p.type === 'message_delta').at(-1);
      assert.equal(md?.delta?.stop_reason, CUT_STOP_REASON);
      assert.equal(md?.usage?.output_tokens, meter.outputTokensForHold());
    }
  });
}

test('tail after message_delta is only message_stop; after message_stop or an error event it is empty', () => {
  const events = STREAMS['tool-use'] ?? [];
  const { meter } = cutAfter(events, events.length - 1);
  assert.equal(buildCutTail(meter, NOTICE, CUT_STOP_REASON), 'event: message_stop\ndata: {"type":"message_stop"}\n\n');
  assert.equal(buildCutTail(cutAfter(events, events.length).meter, NOTICE, CUT_STOP_REASON), '');
  const err = cutAfter(fixtureEvents('anthropic-messages-stream-error-event.sse'), 1).meter;
  assert.equal(buildCutTail(err, NOTICE, CUT_STOP_REASON), '');
});

test('no message_start yet: a synthetic one with a fresh id, the model, zero usage', () => {
  const a = cutAfter([], 0).text;
  const b = cutAfter([], 0).text;
  const start = JSON.parse(new SseParser().push(Buffer.from(a))[0]?.data ?? '{}') as { message: { id: string; role: string; model: string; content: unknown[]; usage: Record<string, number> } };
  assert.match(start.message.id, /^msg_spendcap_cut_[0-9a-f]+$/);
  assert.notEqual(a, b, 'ids are random');
  assert.equal(start.message.role, 'assistant');
  assert.equal(start.message.model, 'unknown');
  assert.deepEqual(start.message.content, []);
  assert.equal(start.message.usage['input_tokens'], 0);
  assert.equal(start.message.usage['output_tokens'], 0);
});

test('cut inside a tool_use block: the input is closed with every field null and the marker', () => {
  const events = STREAMS['tool-use'] ?? [];
  const toolStart = events.findIndex((e) => e.data.includes('"tool_use"'));
  const toolStop = events.findIndex((e, i) => i > toolStart && e.event === 'content_block_stop');
  for (let n = toolStart + 1; n < toolStop; n++) {
    const parsed = assertWellFormed(cutAfter(events, n).text);
    const json = parsed
      .filter((p) => p.index === 1 && p.delta?.type === 'input_json_delta')
      .map((p) => p.delta?.partial_json ?? '')
      .join('');
    const input = JSON.parse(json) as Record<string, unknown>;
    assert.equal(input[CUT_INPUT_MARKER], true);
    for (const [k, v] of Object.entries(input)) if (k !== CUT_INPUT_MARKER) assert.equal(v, null, `n=${n}: ${k} survived`);
    // the notice goes in a new text block after the tool block
    const starts = parsed.filter((p) => p.type === 'content_block_start');
    assert.deepEqual(starts.at(-1), { type: 'content_block_start', index: 2, content_block: { type: 'text', text: '' } });
  }
});

// The strongest check: the official SDK (what Claude Code and most TS agents use) must accept every tail.
describe('the Anthropic TypeScript SDK accepts every cut', () => {
  let server: http.Server;
  let body = '';
  let client: Anthropic;
  before(async () => {
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    client = new Anthropic({ apiKey: 'x', baseURL: `http://127.0.0.1:${port}`, maxRetries: 0 });
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const finalMessage = (text: string): Promise<Anthropic.Message> => {
    body = text;
    return client.messages.stream({ model: 'spendcap-test-model', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
  };

  for (const [name, events] of Object.entries(STREAMS)) {
    test(`${name}: finalMessage() resolves for a cut after every event`, async () => {
      for (let n = 0; n <= events.length; n++) {
        const { text, meter } = cutAfter(events, n);
        const msg = await finalMessage(text);
        if (meter.sawMessageDelta) continue;
        assert.equal(msg.stop_reason, CUT_STOP_REASON, `n=${n}`);
        const allText = msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
        assert.ok(allText.includes(NOTICE), `n=${n}: notice missing from ${JSON.stringify(allText)}`);
        assert.equal(msg.usage.output_tokens, meter.outputTokensForHold());
        for (const b of msg.content) {
          if (b.type !== 'tool_use') continue;
          const input = b.input as Record<string, unknown>;
          // A cut after the last input fragment leaves the finished input as the model wrote it.
          const cutInside = meter.openBlock?.type === 'tool_use' && meter.toolInputCloser() !== '';
          if (cutInside) {
            assert.equal(input[CUT_INPUT_MARKER], true, `n=${n}`);
            for (const [k, v] of Object.entries(input)) if (k !== CUT_INPUT_MARKER) assert.equal(v, null, `n=${n}: ${k} survived`);
          }
        }
        if (name === 'thinking' && meter.openBlock?.type === 'thinking') {
          assert.equal(msg.content[0]?.type, 'thinking');
          assert.equal(msg.content[1]?.type, 'text');
        }
      }
    });
  }
});
