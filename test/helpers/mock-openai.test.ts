import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMockOpenAI } from './mock-openai.js';
import type { MockOpenAI, MockOpenAIBill } from './mock-openai.js';

const KEY = 'sk-test-0123456789';
const TOKEN_SHAPE = /^(?: [A-Za-z]+|[A-Z][a-z]*|,|\.|\n\n)$/;

function client(mock: MockOpenAI, base = '/v1'): OpenAI {
  return new OpenAI({ apiKey: KEY, baseURL: mock.url + base, maxRetries: 0 });
}

function only<T>(list: readonly T[]): T {
  assert.equal(list.length, 1);
  const v = list[0];
  assert.ok(v !== undefined);
  return v;
}

/** Parse an SSE body into {event, data} records (data-only events have event undefined). */
function parseSse(text: string): Array<{ event: string | undefined; data: string }> {
  const out: Array<{ event: string | undefined; data: string }> = [];
  for (const block of text.split('\n\n')) {
    if (block.trim() === '') continue;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    if (data.length > 0) out.push({ event, data: data.join('\n') });
  }
  return out;
}

async function post(mock: MockOpenAI, path: string, body: unknown): Promise<Response> {
  return fetch(mock.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify(body),
  });
}

const MESSAGES = [{ role: 'user' as const, content: 'hello' }];

void test('chat stream with include_usage: SDK finalChatCompletion usage equals the bill', async () => {
  const mock = await startMockOpenAI({ outputTokens: 30, tokenIntervalMs: 0, inputTokens: 120, cachedTokens: 64, datedModel: true });
  try {
    const stream = client(mock).chat.completions.stream({
      model: 'gpt-4o',
      messages: MESSAGES,
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    stream.on('content', (d) => deltas.push(d));
    const done = await stream.finalChatCompletion();
    await mock.waitIdle();
    const bill = only(mock.bills);
    assert.deepEqual(bill.usage, { input_tokens: 120, cached_tokens: 64, output_tokens: 30, reasoning_tokens: 0 });
    assert.equal(bill.complete, true);
    assert.equal(bill.aborted, false);
    assert.equal(bill.finalized, true);
    assert.equal(bill.terminal, '[DONE]');
    assert.equal(bill.endpoint, 'chat');
    assert.equal(done.usage?.prompt_tokens, 120);
    assert.equal(done.usage?.completion_tokens, 30);
    assert.equal(done.usage?.total_tokens, 150);
    assert.equal(done.usage?.prompt_tokens_details?.cached_tokens, 64);
    assert.equal(done.usage?.completion_tokens_details?.reasoning_tokens, 0);
    assert.equal(done.model, 'gpt-4o-2024-08-06');
    assert.equal(done.choices[0]?.finish_reason, 'stop');
    assert.equal(deltas.length, 30);
    for (const d of deltas) assert.match(d, TOKEN_SHAPE);
    assert.equal(done.choices[0]?.message.content, deltas.join(''));
    assert.equal(mock.openStreams, 0);
    const req = only(mock.requests);
    assert.equal(req.url, '/v1/chat/completions');
    assert.equal(req.headers['authorization'], `Bearer ${KEY}`);
  } finally {
    await mock.close();
  }
});

void test('chat stream wire format: data-only chunks; usage chunk only when asked, billed either way', async () => {
  const mock = await startMockOpenAI({ outputTokens: 12, tokenIntervalMs: 0, inputTokens: 9 });
  try {
    const body = { model: 'gpt-4.1', stream: true, messages: MESSAGES };
    for (const includeUsage of [true, false]) {
      const res = await post(mock, '/v1/chat/completions', includeUsage ? { ...body, stream_options: { include_usage: true } } : body);
      assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      assert.match(res.headers.get('x-request-id') ?? '', /^req_mock\d+$/);
      assert.equal(res.headers.get('request-id'), res.headers.get('x-request-id'));
      const text = await res.text();
      assert.ok(!text.includes('event:'), 'data-only');
      assert.ok(text.endsWith('data: [DONE]\n\n'));
      const events = parseSse(text);
      assert.equal(events.at(-1)?.data, '[DONE]');
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data) as Record<string, unknown>);
      for (const c of chunks) assert.equal(c['object'], 'chat.completion.chunk');
      const withChoices = chunks.filter((c) => (c['choices'] as unknown[]).length > 0);
      // role chunk + 12 tokens + finish chunk
      assert.equal(withChoices.length, 14);
      const choice = (c: Record<string, unknown> | undefined): Record<string, unknown> =>
        ((c?.['choices'] as unknown[])[0] ?? {}) as Record<string, unknown>;
      assert.deepEqual(choice(withChoices[0])['delta'], { role: 'assistant', content: '', refusal: null });
      assert.equal(choice(withChoices.at(-1))['finish_reason'], 'stop');
      if (includeUsage) {
        for (const c of withChoices) assert.equal(c['usage'], null);
        const last = chunks.at(-1);
        assert.deepEqual(last?.['choices'], []);
        assert.deepEqual(last?.['usage'], {
          prompt_tokens: 9,
          completion_tokens: 12,
          total_tokens: 21,
          prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
          completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
        });
      } else {
        assert.ok(!text.includes('usage'), 'no usage anywhere');
      }
    }
    await mock.waitIdle();
    assert.equal(mock.bills.length, 2);
    for (const b of mock.bills) assert.deepEqual(b.usage, { input_tokens: 9, cached_tokens: 0, output_tokens: 12, reasoning_tokens: 0 });

    // The SDK without include_usage: no usage on the final completion, the bill still has it.
    const done = await client(mock).chat.completions.stream({ model: 'gpt-4.1', messages: MESSAGES }).finalChatCompletion();
    assert.equal(done.usage, undefined);
    await mock.waitIdle();
    assert.equal(mock.bills[2]?.usage.output_tokens, 12);
  } finally {
    await mock.close();
  }
});

void test('chat non-stream: usage with cached + reasoning tokens; max_tokens clamps; request ids; deterministic', async () => {
  const mock = await startMockOpenAI({ outputTokens: 40, inputTokens: 200, cachedTokens: 150, reasoningTokens: 64, requestIdPrefix: 'ns' });
  try {
    const c = client(mock);
    const { data: a, response, request_id } = await c.chat.completions.create({ model: 'o4-mini', messages: MESSAGES }).withResponse();
    assert.equal(a.object, 'chat.completion');
    assert.equal(a.choices[0]?.finish_reason, 'stop');
    assert.equal(a.usage?.prompt_tokens, 200);
    assert.equal(a.usage?.prompt_tokens_details?.cached_tokens, 150);
    assert.equal(a.usage?.completion_tokens, 40 + 64);
    assert.equal(a.usage?.completion_tokens_details?.reasoning_tokens, 64);
    assert.equal(a.usage?.total_tokens, 304);
    assert.match(response.headers.get('x-request-id') ?? '', /^req_ns\d+$/);
    assert.equal(request_id, mock.bills[0]?.id);

    // max_completion_tokens counts reasoning: 64 + 10 visible
    const b = await c.chat.completions.create({ model: 'o4-mini', messages: MESSAGES, max_completion_tokens: 74 });
    assert.equal(b.choices[0]?.finish_reason, 'length');
    assert.equal(b.usage?.completion_tokens, 74);
    await mock.waitIdle();
    const [billA, billB] = mock.bills as [MockOpenAIBill, MockOpenAIBill];
    assert.deepEqual(billA.usage, { input_tokens: 200, cached_tokens: 150, output_tokens: 104, reasoning_tokens: 64 });
    assert.equal(billB.usage.output_tokens, 74);
    assert.ok(billA.complete && !billA.aborted && !billA.stream);
    assert.equal(billA.terminal, 'json');

    // Same seed, same request index -> same text.
    const again = await startMockOpenAI({ outputTokens: 40, inputTokens: 200, cachedTokens: 150, reasoningTokens: 64 });
    try {
      const a2 = await client(again).chat.completions.create({ model: 'o4-mini', messages: MESSAGES });
      assert.equal(a2.choices[0]?.message.content, a.choices[0]?.message.content);
    } finally {
      await again.close();
    }
  } finally {
    await mock.close();
  }
});

void test('responses stream: SDK finalResponse usage equals the bill; named events with sequence numbers', async () => {
  const mock = await startMockOpenAI({ outputTokens: 25, tokenIntervalMs: 0, inputTokens: 300, cachedTokens: 100, reasoningTokens: 7 });
  try {
    const stream = client(mock).responses.stream({ model: 'gpt-5', input: 'hello', instructions: 'be brief' });
    const deltas: string[] = [];
    stream.on('response.output_text.delta', (e) => deltas.push(e.delta));
    const final = await stream.finalResponse();
    await mock.waitIdle();
    const bill = only(mock.bills);
    assert.deepEqual(bill.usage, { input_tokens: 300, cached_tokens: 100, output_tokens: 32, reasoning_tokens: 7 });
    assert.equal(bill.endpoint, 'responses');
    assert.equal(bill.terminal, 'response.completed');
    assert.equal(bill.complete, true);
    assert.equal(final.status, 'completed');
    assert.equal(final.id, bill.responseId);
    assert.match(final.id, /^resp_[0-9a-f]{48}$/);
    assert.equal(final.usage?.input_tokens, 300);
    assert.equal(final.usage?.input_tokens_details.cached_tokens, 100);
    assert.equal(final.usage?.output_tokens, 32);
    assert.equal(final.usage?.output_tokens_details.reasoning_tokens, 7);
    assert.equal(final.usage?.total_tokens, 332);
    assert.equal(final.instructions, 'be brief');
    assert.equal(deltas.length, 25);
    assert.equal(final.output_text, deltas.join(''));
    assert.deepEqual(
      final.output.map((i) => i.type),
      ['reasoning', 'message'],
    );

    // Raw wire: event line = data.type; sequence numbers 0..n; order as documented.
    const res = await post(mock, '/v1/responses', { model: 'gpt-5', input: 'x', stream: true });
    const events = parseSse(await res.text());
    const types = events.map((e) => {
      const d = JSON.parse(e.data) as { type: string };
      assert.equal(e.event, d.type);
      return d.type;
    });
    assert.deepEqual(
      events.map((e) => (JSON.parse(e.data) as { sequence_number: number }).sequence_number),
      types.map((_t, i) => i),
    );
    assert.deepEqual(types, [
      'response.created',
      'response.in_progress',
      'response.output_item.added', // reasoning
      'response.output_item.done',
      'response.output_item.added', // message
      'response.content_part.added',
      ...Array<string>(25).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
  } finally {
    await mock.close();
  }
});

void test('responses: non-stream; max_output_tokens → incomplete; cut knobs (failed, incomplete, error, close)', async () => {
  const mock = await startMockOpenAI({ outputTokens: 20, tokenIntervalMs: 0, inputTokens: 10 });
  try {
    const c = client(mock);
    const r = await c.responses.create({ model: 'gpt-5', input: 'x' });
    assert.equal(r.status, 'completed');
    assert.equal(r.usage?.output_tokens, 20);
    assert.equal(r.output_text.length > 20, true);
    const short = await c.responses.create({ model: 'gpt-5', input: 'x', max_output_tokens: 16 });
    assert.equal(short.status, 'incomplete');
    assert.equal(short.incomplete_details?.reason, 'max_output_tokens');
    assert.equal(short.usage?.output_tokens, 16);

    const streamed = await c.responses.stream({ model: 'gpt-5', input: 'x', max_output_tokens: 5 }).finalResponse();
    assert.equal(streamed.status, 'incomplete');
    assert.equal(streamed.usage?.output_tokens, 5);
    await mock.waitIdle();
    assert.equal(mock.bills[2]?.terminal, 'response.incomplete');

    // failed: the SDK surfaces the failed response; usage of what was written
    mock.options = { ...mock.options, cut: { afterTokens: 4, kind: 'failed', code: 'insufficient_quota', message: 'cap reached' } };
    const failed = await c.responses.stream({ model: 'gpt-5', input: 'x' }).finalResponse();
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'insufficient_quota');
    assert.equal(failed.error?.message, 'cap reached');
    assert.equal(failed.usage?.output_tokens, 4);
    await mock.waitIdle();
    let bill = mock.bills.at(-1);
    assert.equal(bill?.terminal, 'response.failed');
    assert.equal(bill?.errored, true);
    assert.equal(bill?.usage.output_tokens, 4);

    mock.options = { ...mock.options, cut: { afterTokens: 3, kind: 'incomplete', reason: 'spend_cap' } };
    const inc = await c.responses.stream({ model: 'gpt-5', input: 'x' }).finalResponse();
    assert.equal(inc.status, 'incomplete');
    assert.equal(inc.incomplete_details?.reason, 'spend_cap');
    assert.equal(inc.output[0]?.type === 'message' && inc.output[0].status, 'incomplete');
    assert.equal(inc.output_text.length > 0, true);

    // a bare error event: the SDK throws
    mock.options = { ...mock.options, cut: { afterTokens: 2, kind: 'error', code: 'server_error', message: 'boom' } };
    await assert.rejects(c.responses.stream({ model: 'gpt-5', input: 'x' }).finalResponse(), /boom/);

    // a clean close without a terminal event
    mock.options = { ...mock.options, cut: { afterTokens: 2, kind: 'close' } };
    const res = await post(mock, '/v1/responses', { model: 'gpt-5', input: 'x', stream: true });
    const types = parseSse(await res.text()).map((e) => e.event);
    assert.equal(types.at(-1), 'response.output_text.delta');
    await mock.waitIdle();
    bill = mock.bills.at(-1);
    assert.equal(bill?.terminal, null);
    assert.equal(bill?.complete, false);
    assert.equal(bill?.aborted, false);
    assert.equal(bill?.usage.output_tokens, 2);
  } finally {
    await mock.close();
  }
});

void test('abort mid-stream bills only written tokens (chat and responses)', async () => {
  const mock = await startMockOpenAI({ outputTokens: 400, tokenIntervalMs: 1, inputTokens: 50 });
  try {
    const c = client(mock);
    const chat = c.chat.completions.stream({ model: 'gpt-4o', messages: MESSAGES, stream_options: { include_usage: true } });
    let seen = 0;
    chat.on('content', () => {
      if (++seen === 10) chat.abort();
    });
    await assert.rejects(chat.finalChatCompletion());

    const resp = c.responses.stream({ model: 'gpt-5', input: 'x' });
    let seen2 = 0;
    resp.on('response.output_text.delta', () => {
      if (++seen2 === 7) resp.abort();
    });
    await assert.rejects(resp.finalResponse());
    await mock.waitIdle();

    for (const [bill, saw] of [
      [mock.bills[0], seen],
      [mock.bills[1], seen2],
    ] as const) {
      assert.ok(bill);
      assert.equal(bill.aborted, true);
      assert.equal(bill.complete, false);
      assert.equal(bill.finalized, true);
      assert.equal(bill.terminal, null);
      assert.ok(bill.usage.output_tokens >= saw, `${bill.usage.output_tokens} >= ${saw}`);
      assert.ok(bill.usage.output_tokens < 400, `stopped writing: ${bill.usage.output_tokens}`);
      assert.equal(bill.usage.input_tokens, 50);
    }
    assert.equal(mock.openStreams, 0);
    const frozen = mock.bills.map((b) => b.usage.output_tokens);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      mock.bills.map((b) => b.usage.output_tokens),
      frozen,
    );
  } finally {
    await mock.close();
  }
});

void test('abort before the first byte bills nothing, reasoning included', async () => {
  const mock = await startMockOpenAI({ firstByteDelayMs: 200, reasoningTokens: 500 });
  try {
    const ac = new AbortController();
    const p = client(mock).responses.create({ model: 'gpt-5', input: 'x', stream: true }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    await assert.rejects(p);
    await mock.waitIdle();
    const bill = only(mock.bills);
    assert.equal(bill.aborted, true);
    assert.deepEqual(bill.usage, { input_tokens: 0, cached_tokens: 0, output_tokens: 0, reasoning_tokens: 0 });
  } finally {
    await mock.close();
  }
});

void test('tool calls: chat tool_calls deltas and responses function_call items', async () => {
  const args = { command: ['bash', '-lc', 'ls -la /tmp'] };
  const mock = await startMockOpenAI({ tokenIntervalMs: 0, toolCall: { arguments: args } });
  try {
    const c = client(mock);
    const chat = await c.chat.completions
      .stream({
        model: 'gpt-4o',
        messages: MESSAGES,
        tools: [{ type: 'function', function: { name: 'run', parameters: { type: 'object', properties: {} } } }],
        stream_options: { include_usage: true },
      })
      .finalChatCompletion();
    const call = chat.choices[0]?.message.tool_calls?.[0];
    assert.ok(call?.type === 'function');
    assert.equal(call.function.name, 'run');
    assert.deepEqual(JSON.parse(call.function.arguments), args);
    assert.equal(chat.choices[0]?.finish_reason, 'tool_calls');
    const fragments = JSON.stringify(args).match(/ ?[A-Za-z0-9_]+| ?[^A-Za-z0-9_\s]+|\s+/g)?.length ?? 0;
    assert.equal(chat.usage?.completion_tokens, fragments);

    const stream = c.responses.stream({
      model: 'gpt-5',
      input: 'list',
      tools: [{ type: 'function', name: 'shell', parameters: { type: 'object', properties: {} }, strict: false }],
    });
    let argDeltas = 0;
    stream.on('response.function_call_arguments.delta', () => argDeltas++);
    const r = await stream.finalResponse();
    const item = only(r.output);
    assert.ok(item.type === 'function_call');
    assert.equal(item.name, 'shell');
    assert.match(item.call_id, /^call_/);
    assert.deepEqual(JSON.parse(item.arguments), args);
    assert.equal(argDeltas, fragments);
    assert.equal(r.usage?.output_tokens, fragments);
    await mock.waitIdle();
    assert.equal(mock.bills[1]?.usage.output_tokens, fragments);
  } finally {
    await mock.close();
  }
});

void test('errors: status with OpenAI body and headers; chat mid-stream error payload; api key check', async () => {
  const body = {
    error: { message: 'spendcap: key "work" reached its cap', type: 'insufficient_quota', param: null, code: 'insufficient_quota' },
  };
  const mock = await startMockOpenAI({ status: 429, errorBody: body, errorHeaders: { 'x-should-retry': 'false' } });
  try {
    const c = client(mock);
    await assert.rejects(
      c.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES }),
      (e: unknown) =>
        e instanceof OpenAI.RateLimitError &&
        e.status === 429 &&
        e.code === 'insufficient_quota' &&
        e.type === 'insufficient_quota' &&
        e.headers?.get('x-should-retry') === 'false' &&
        /reached its cap/.test(e.message),
    );
    assert.equal(mock.bills[0]?.status, 429);
    assert.equal(mock.bills[0]?.usage.input_tokens, 0);

    mock.options = { status: 500 };
    const res = await post(mock, '/v1/responses', { model: 'gpt-5', input: 'x', stream: true });
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), {
      error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null },
    });

    mock.options = { tokenIntervalMs: 0, cut: 5 };
    const stream = c.chat.completions.stream({ model: 'gpt-4o', messages: MESSAGES });
    await assert.rejects(stream.finalChatCompletion(), (e: unknown) => e instanceof OpenAI.APIError);
    await mock.waitIdle();
    const bill = mock.bills.at(-1);
    assert.equal(bill?.usage.output_tokens, 5);
    assert.equal(bill?.errored, true);
    assert.equal(bill?.terminal, 'error');

    mock.options = { apiKey: 'other' };
    await assert.rejects(
      c.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES }),
      (e: unknown) => e instanceof OpenAI.APIError && e.status === 401 && e.code === 'invalid_api_key',
    );
  } finally {
    await mock.close();
  }
});

void test('openrouter flavour: /api/v1, usage.cost from prices, comment line; billedNanos; models', async () => {
  // $1 in, $0.10 cached, $4 out per Mtok
  const prices = { input: 1_000_000_000, cachedInput: 100_000_000, output: 4_000_000_000 };
  const mock = await startMockOpenAI({
    openrouter: true,
    openrouterPrices: prices,
    tokenIntervalMs: 0,
    inputTokens: 1000,
    cachedTokens: 400,
    outputTokens: 50,
  });
  try {
    const c = client(mock, '/api/v1');
    const done = await c.chat.completions
      .stream({ model: 'openai/gpt-4o', messages: MESSAGES, stream_options: { include_usage: true } })
      .finalChatCompletion();
    // 600 × 1000 + 400 × 100 + 50 × 4000 n$ = 840_000 n$ = $0.00084
    const usage = done.usage as unknown as Record<string, unknown>;
    assert.ok(Math.abs((usage['cost'] as number) - 0.00084) < 1e-12, String(usage['cost']));
    assert.equal(usage['is_byok'], false);
    assert.match(done.id, /^gen-/);
    await mock.waitIdle();
    assert.equal(mock.billedNanos(prices), 840_000);
    assert.equal(mock.requests[0]?.url, '/api/v1/chat/completions');

    const res = await post(mock, '/api/v1/chat/completions', { model: 'openai/gpt-4o', stream: true, messages: MESSAGES });
    assert.ok((await res.text()).startsWith(': OPENROUTER PROCESSING\n\n'));

    const r = await c.responses.create({ model: 'openai/gpt-5', input: 'x' });
    assert.equal((r.usage as unknown as Record<string, unknown>)['cost'], 0.00084);

    // 1 in + 1 out at $2.50 / $10 per Mtok = 12_500 n$, exact to the nano-dollar
    mock.options = { inputTokens: 1, outputTokens: 1 };
    await c.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES });
    const before = mock.billedNanos({ input: 2_500_000_000, cachedInput: 0, output: 10_000_000_000 });
    assert.equal(before - 3 * (600 * 2500 + 50 * 10_000), 12_500);

    const models = await c.models.list();
    assert.ok(models.data.some((m) => m.id === 'gpt-5'));
  } finally {
    await mock.close();
  }
});
