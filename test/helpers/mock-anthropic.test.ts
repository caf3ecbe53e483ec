import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic } from './mock-anthropic.js';
import type { MockAnthropic, MockBill } from './mock-anthropic.js';

const KEY = 'sk-ant-test-0123456789';

function client(mock: MockAnthropic): Anthropic {
  return new Anthropic({ apiKey: KEY, baseURL: mock.url, maxRetries: 0 });
}

function only<T>(list: readonly T[]): T {
  assert.equal(list.length, 1);
  const v = list[0];
  assert.ok(v !== undefined);
  return v;
}

const TOKEN_SHAPE = /^(?: [A-Za-z]+|[A-Z][a-z]*|,|\.|\n\n)$/;

void test('stream: finalMessage usage equals the bill; real SSE; headers and key reach upstream', async () => {
  const mock = await startMockAnthropic({ outputTokens: 30, tokenIntervalMs: 0, inputTokens: 120, datedModel: true });
  try {
    const stream = client(mock).messages.stream({
      model: 'claude-opus-4-5',
      max_tokens: 1000,
      messages: [{ role: 'user', content: 'hello' }],
    });
    const deltas: string[] = [];
    stream.on('text', (d) => deltas.push(d));
    const msg = await stream.finalMessage();
    await mock.waitIdle();

    const bill = only(mock.bills);
    assert.equal(msg.usage.output_tokens, 30);
    assert.equal(msg.usage.input_tokens, 120);
    assert.deepEqual(bill.usage, {
      input_tokens: 120,
      output_tokens: 30,
      cache_read_input_tokens: 0,
      cache_creation_5m: 0,
      cache_creation_1h: 0,
    });
    assert.equal(bill.complete, true);
    assert.equal(bill.aborted, false);
    assert.equal(bill.finalized, true);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.model, 'claude-opus-4-5-20251101');
    assert.equal(bill.model, 'claude-opus-4-5-20251101');
    assert.equal(deltas.length, 30);
    for (const d of deltas) assert.match(d, TOKEN_SHAPE);
    const first = msg.content[0];
    assert.ok(first?.type === 'text');
    assert.equal(first.text, deltas.join(''));
    assert.equal(mock.openStreams, 0);

    const req = only(mock.requests);
    assert.equal(req.method, 'POST');
    assert.equal(req.url.split('?')[0], '/v1/messages');
    const auth = `${req.headers['authorization'] ?? ''} ${String(req.headers['x-api-key'] ?? '')}`;
    assert.ok(auth.includes(KEY), `key reached upstream: ${auth}`);
    assert.equal((JSON.parse(req.body) as { stream: boolean }).stream, true);

    const { response } = await client(mock)
      .messages.create({ model: 'claude-sonnet-4-6', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .withResponse();
    assert.equal(response.headers.get('x-mock-header'), '1');
    assert.equal(response.headers.get('request-id'), mock.bills[1]?.id);
    assert.ok(response.headers.get('anthropic-ratelimit-requests-limit'));
  } finally {
    await mock.close();
  }
});

void test('stream wire format: event lines, usage fields, pings', async () => {
  const mock = await startMockAnthropic({
    outputTokens: 20,
    tokenIntervalMs: 0,
    pingEvery: 8,
    cache: { read: 7, write5m: 3, write1h: 2 },
  });
  try {
    const res = await fetch(`${mock.url}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY },
      body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 100, stream: true, messages: [] }),
    });
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)\n\n/gm)].map((m) => ({
      event: m[1],
      data: JSON.parse(m[2] ?? '') as Record<string, unknown>,
    }));
    for (const e of events) assert.equal(e.event, e.data['type']);
    const names = events.map((e) => e.event).filter((n) => n !== 'ping');
    assert.deepEqual(names, [
      'message_start',
      'content_block_start',
      ...Array<string>(20).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    assert.equal(events.filter((e) => e.event === 'ping').length, 1 + 2);
    const start = events[0]?.data['message'] as { usage: Record<string, unknown>; model: string };
    assert.equal(start.model, 'claude-haiku-4-5');
    assert.deepEqual(
      { ...start.usage, input_tokens: 0 },
      {
        input_tokens: 0,
        cache_creation_input_tokens: 5,
        cache_read_input_tokens: 7,
        cache_creation: { ephemeral_5m_input_tokens: 3, ephemeral_1h_input_tokens: 2 },
        output_tokens: 1,
        service_tier: 'standard',
      },
    );
    const md = events.find((e) => e.event === 'message_delta')?.data;
    assert.deepEqual(md?.['delta'], { stop_reason: 'end_turn', stop_sequence: null });
    assert.deepEqual(md?.['usage'], {
      output_tokens: 20,
      input_tokens: start.usage['input_tokens'],
      cache_creation_input_tokens: 5,
      cache_read_input_tokens: 7,
    });
    await mock.waitIdle();
    const bill = only(mock.bills);
    assert.equal(bill.usage.cache_read_input_tokens, 7);
    assert.equal(bill.usage.cache_creation_5m, 3);
    assert.equal(bill.usage.cache_creation_1h, 2);
  } finally {
    await mock.close();
  }
});

void test('non-stream: full Message JSON billed on write; max_tokens clamps; deterministic text', async () => {
  const mock = await startMockAnthropic({ outputTokens: 40, requestIdPrefix: 'ns' });
  try {
    const c = client(mock);
    const params = { model: 'claude-opus-4-5', max_tokens: 25, messages: [{ role: 'user' as const, content: 'hi' }] };
    const a = await c.messages.create(params);
    const b = await c.messages.create({ ...params, max_tokens: 1000 });
    await mock.waitIdle();
    assert.equal(a.stop_reason, 'max_tokens');
    assert.equal(a.usage.output_tokens, 25);
    assert.equal(b.stop_reason, 'end_turn');
    assert.equal(b.usage.output_tokens, 40);
    const [billA, billB] = mock.bills as [MockBill, MockBill];
    assert.equal(billA.usage.output_tokens, 25);
    assert.equal(billA.usage.input_tokens, a.usage.input_tokens);
    assert.equal(billB.usage.output_tokens, 40);
    assert.ok(billA.complete && !billA.aborted && !billA.stream);
    assert.match(billA.id, /^req_ns\d+$/);
    assert.ok(a.content[0]?.type === 'text' && a.content[0].text.length > 25);

    // Same seed, same request index -> same text.
    const again = await startMockAnthropic({ outputTokens: 40 });
    try {
      const a2 = await client(again).messages.create(params);
      assert.deepEqual(a2.content, a.content);
    } finally {
      await again.close();
    }
  } finally {
    await mock.close();
  }
});

void test('abort mid-stream: bill counts only written tokens, marked aborted, ≥ deltas the client saw', async () => {
  const mock = await startMockAnthropic({ outputTokens: 400, tokenIntervalMs: 1 });
  try {
    const stream = client(mock).messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'write a lot' }],
    });
    let seen = 0;
    stream.on('text', () => {
      seen++;
      if (seen === 10) stream.abort();
    });
    await assert.rejects(stream.finalMessage());
    await mock.waitIdle();
    const bill = only(mock.bills);
    assert.equal(bill.aborted, true);
    assert.equal(bill.complete, false);
    assert.equal(bill.finalized, true);
    assert.ok(bill.usage.output_tokens >= seen, `${bill.usage.output_tokens} >= ${seen}`);
    assert.ok(bill.usage.output_tokens < 400, `stopped writing: ${bill.usage.output_tokens}`);
    assert.ok(bill.usage.input_tokens > 0);
    assert.equal(mock.openStreams, 0);
    const frozen = bill.usage.output_tokens;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(bill.usage.output_tokens, frozen);
  } finally {
    await mock.close();
  }
});

void test('abort before the first byte bills nothing', async () => {
  const mock = await startMockAnthropic({ firstByteDelayMs: 200 });
  try {
    const ac = new AbortController();
    const p = client(mock).messages.create(
      { model: 'claude-sonnet-4-6', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'x' }] },
      { signal: ac.signal },
    );
    setTimeout(() => ac.abort(), 30);
    await assert.rejects(p);
    await mock.waitIdle();
    const bill = only(mock.bills);
    assert.equal(bill.aborted, true);
    assert.equal(bill.usage.input_tokens, 0);
    assert.equal(bill.usage.output_tokens, 0);
  } finally {
    await mock.close();
  }
});

void test('thinking + tool_use: blocks, one token per delta, stop_reason tool_use', async () => {
  const mock = await startMockAnthropic({
    tokenIntervalMs: 0,
    thinking: true,
    thinkingTokens: 6,
    toolUse: { input: { command: 'ls -la /tmp', description: 'List files' } },
  });
  try {
    const stream = client(mock).messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 1000,
      tools: [{ name: 'Bash', description: 'run', input_schema: { type: 'object', properties: {} } }],
      messages: [{ role: 'user', content: 'list files' }],
    });
    let jsonDeltas = 0;
    let thinkingDeltas = 0;
    stream.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta' && e.delta.type === 'input_json_delta') jsonDeltas++;
      if (e.type === 'content_block_delta' && e.delta.type === 'thinking_delta') thinkingDeltas++;
    });
    const msg = await stream.finalMessage();
    await mock.waitIdle();
    assert.deepEqual(
      msg.content.map((b) => b.type),
      ['thinking', 'text', 'tool_use'],
    );
    const tool = msg.content[2];
    assert.ok(tool?.type === 'tool_use');
    assert.equal(tool.name, 'Bash');
    assert.deepEqual(tool.input, { command: 'ls -la /tmp', description: 'List files' });
    const thinking = msg.content[0];
    assert.ok(thinking?.type === 'thinking' && thinking.signature.length > 10);
    assert.equal(msg.stop_reason, 'tool_use');
    assert.equal(thinkingDeltas, 6);
    assert.ok(jsonDeltas > 5);
    const bill = only(mock.bills);
    assert.equal(bill.usage.output_tokens, msg.usage.output_tokens);
    const text = msg.content[1];
    assert.ok(text?.type === 'text');
    assert.equal(msg.usage.output_tokens, 6 + jsonDeltas + (text.text.match(/ ?[A-Za-z]+|[,.]|\n\n/g) ?? []).length);
  } finally {
    await mock.close();
  }
});

void test('errors: HTTP status with body and headers; mid-stream error event', async () => {
  const mock = await startMockAnthropic({ status: 529, errorHeaders: { 'x-should-retry': 'false' } });
  try {
    const c = client(mock);
    await assert.rejects(
      c.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
      (e: unknown) => e instanceof Anthropic.APIError && e.status === 529 && /Overloaded/.test(e.message),
    );
    assert.equal(mock.bills[0]?.status, 529);
    assert.equal(mock.bills[0]?.usage.output_tokens, 0);

    mock.options = { tokenIntervalMs: 0, midStreamError: { afterTokens: 5, type: 'overloaded_error' } };
    const stream = c.messages.stream({
      model: 'claude-sonnet-4-6',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'x' }],
    });
    await assert.rejects(stream.finalMessage(), (e: unknown) => e instanceof Anthropic.APIError);
    await mock.waitIdle();
    const bill = mock.bills[1];
    assert.ok(bill);
    assert.equal(bill.usage.output_tokens, 5);
    assert.equal(bill.errored, true);
    assert.equal(bill.complete, false);
    assert.equal(bill.aborted, false);
  } finally {
    await mock.close();
  }
});

void test('perRequest overrides, count_tokens, models, HEAD, billedNanos rounding', async () => {
  const mock = await startMockAnthropic({
    tokenIntervalMs: 0,
    inputTokens: 1,
    outputTokens: 1,
    perRequest: (_req, i) => (i === 1 ? { outputTokens: 3, cache: { read: 1, write1h: 1 } } : undefined),
  });
  try {
    const c = client(mock);
    const p = { model: 'claude-sonnet-4-6', max_tokens: 10, messages: [{ role: 'user' as const, content: 'x' }] };
    const m1 = await c.messages.create(p);
    const m2 = await c.messages.create(p);
    assert.equal(m1.usage.output_tokens, 1);
    assert.equal(m2.usage.output_tokens, 3);
    assert.equal(m2.usage.cache_read_input_tokens, 1);
    // $3 in / $15 out / $0.30 read / $6 1h-write per Mtok = 3 / 15 / 0.3 / 6 n$ per token.
    // request 1: 3 + 15 = 18 n$; request 2: 3 + 45 + 0.3 + 6 = 54.3 → ceil 55 n$.
    const price = { input: 3_000_000, output: 15_000_000, cacheRead: 300_000, cacheWrite5m: 3_750_000, cacheWrite1h: 6_000_000 };
    assert.equal(mock.billedNanos(price), 18 + 55);
    mock.options = { ...mock.options, perRequest: undefined, inputTokens: 1_000_000, outputTokens: 1 };
    await c.messages.create(p); // 1M input tokens at $3/Mtok = $3 = 3_000_000 n$, + 15 n$
    assert.equal(mock.billedNanos(price), 18 + 55 + 3_000_015);

    const count = await c.messages.countTokens({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(count.input_tokens, 1_000_000);
    const models = await c.models.list();
    assert.ok(models.data.some((m) => m.id === 'claude-sonnet-4-6'));
    for (const path of ['/', '/api/hello']) {
      const r = await fetch(mock.url + path, { method: 'HEAD' });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-mock-header'), '1');
    }
    assert.equal(mock.bills.length, 3);
  } finally {
    await mock.close();
  }
});
