// OpenAI Chat Completions through spendcap with the official openai SDK as the client and a mock
// that bills every token it writes: exact ledger costs, untouched bytes, blocks, cuts the SDK
// accepts, hard caps under concurrency and hidden reasoning, OpenRouter's own cost, and
// user-priced OpenAI-compatible endpoints.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMockOpenAI } from './helpers/mock-openai.js';
import type { MockOpenAI, MockOpenAIBill, MockOpenAIPricePerMtok } from './helpers/mock-openai.js';
import { addKey, budgetStatus, cli, ledgerRows, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';
import { CHAT_CUT_FINISH_REASON } from '../src/providers/openai/index.js';

const GPT_4O: MockOpenAIPricePerMtok = { input: 2_500_000_000, cachedInput: 1_250_000_000, output: 10_000_000_000 };
const GPT_5: MockOpenAIPricePerMtok = { input: 1_250_000_000, cachedInput: 125_000_000, output: 10_000_000_000 };
const messages = [{ role: 'user' as const, content: 'Write a long essay about budgets.' }];

interface LedgerJson {
  model: string;
  provider: string;
  outcome: string;
  costNanos: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  usageSource: string;
  requestId: string;
  keyName: string;
  detail: string | null;
  providerCostNanos: number | null;
  meteredCostNanos: number | null;
}

async function rowFor(sc: TestSpendcap, bill: MockOpenAIBill): Promise<LedgerJson> {
  // OpenRouter rows keep the generation id (gen-…, what GET /generation answers for); others the request-id header.
  const row = (await ledgerRows<LedgerJson>(sc)).find((r) => r.requestId === bill.id || r.requestId === bill.responseId);
  assert.ok(row, `a ledger row for ${bill.id}`);
  return row;
}

function billed(b: MockOpenAIBill, p: MockOpenAIPricePerMtok): number {
  const u = b.usage;
  return Math.ceil(((u.input_tokens - u.cached_tokens) * p.input + u.cached_tokens * p.cachedInput + u.output_tokens * p.output) / 1e6);
}

function client(sc: TestSpendcap, token: string, opts: { headers?: Record<string, string>; maxRetries?: number; fetch?: typeof fetch } = {}): OpenAI {
  return new OpenAI({ apiKey: token, baseURL: `${sc.url}/v1`, maxRetries: opts.maxRetries ?? 0, defaultHeaders: opts.headers ?? {}, ...(opts.fetch ? { fetch: opts.fetch } : {}) });
}

/** A raw streamed call, its body as text with the ids and timestamp the mock draws per request masked. */
async function rawStream(baseUrl: string, key: string, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  return (await res.text())
    .replace(/"id":"(chatcmpl|call)_?-?[A-Za-z0-9]+"/g, '"id":"$1"')
    .replace(/"created":\d+/g, '"created":0');
}

describe('OpenAI Chat Completions', () => {
  let mock: MockOpenAI;
  let sc: TestSpendcap;
  let token: string;
  before(async () => {
    // The same seed for every request, so a direct call and a proxied one produce the same tokens.
    mock = await startMockOpenAI({ outputTokens: 40, tokenIntervalMs: 0, perRequest: (_r, i) => ({ seed: 100 - i }) });
    sc = await startSpendcap(null, { pollMs: 100, baseUrls: { openai: `${mock.url}/v1`, openrouter: `${mock.url}/api/v1` } });
    token = await addKey(sc.dataDir, 'work', 10, [], 'openai');
  });
  after(async () => {
    await sc.close();
    await mock.close();
  });

  test('non-streamed: the ledger row costs exactly what the provider billed, cached input at its own price', async () => {
    mock.options = { ...mock.options, cachedTokens: 8 };
    const first = mock.bills.length;
    const r = await client(sc, token).chat.completions.create({ model: 'gpt-4o', messages, max_completion_tokens: 500 });
    mock.options = { ...mock.options, cachedTokens: 0 };
    assert.equal(r.choices[0]!.finish_reason, 'stop');
    const bill = mock.bills[first]!;
    const row = await rowFor(sc, bill);
    assert.equal(row.outcome, 'ok');
    assert.equal(row.usageSource, 'provider');
    assert.equal(row.provider, 'openai');
    assert.equal(row.inputTokens, bill.usage.input_tokens - 8);
    assert.equal(row.cacheReadTokens, 8);
    assert.equal(row.outputTokens, bill.usage.output_tokens);
    assert.equal(row.costNanos, billed(bill, GPT_4O));
    assert.equal(row.providerCostNanos, null);
  });

  test('streamed without include_usage: spendcap asks for usage upstream, charges it exactly, and the client sees no usage chunk', async () => {
    const first = mock.bills.length;
    const stream = await client(sc, token).chat.completions.create({ model: 'gpt-4o', messages, stream: true });
    let text = '';
    for await (const chunk of stream) {
      assert.equal(chunk.choices.length, 1, 'no usage-only chunk reaches the client');
      assert.equal('usage' in chunk, false, 'no "usage": null either');
      text += chunk.choices[0]!.delta.content ?? '';
    }
    assert.ok(text.length > 40);
    const sent = JSON.parse(mock.requests.at(-1)!.body) as { stream_options?: unknown };
    assert.deepEqual(sent.stream_options, { include_usage: true });
    const bill = mock.bills[first]!;
    const row = await rowFor(sc, bill);
    assert.equal(row.outcome, 'ok');
    assert.equal(row.outputTokens, 40);
    assert.equal(row.costNanos, billed(bill, GPT_4O));
  });

  test('a reasoning model: reasoning tokens are charged as output, exactly', async () => {
    mock.options = { ...mock.options, reasoningTokens: 300 };
    const first = mock.bills.length;
    const done = await client(sc, token).chat.completions.stream({ model: 'gpt-5', messages, stream_options: { include_usage: true } }).finalChatCompletion();
    mock.options = { ...mock.options, reasoningTokens: 0 };
    assert.equal(done.usage?.completion_tokens_details?.reasoning_tokens, 300);
    const bill = mock.bills[first]!;
    const row = await rowFor(sc, bill);
    assert.equal(row.outputTokens, 340);
    assert.equal(row.costNanos, billed(bill, GPT_5));
  });

  test('the client gets the provider\'s bytes: the same stream direct and through spendcap, with and without include_usage', async () => {
    for (const body of [
      { model: 'gpt-4o', messages, stream: true },
      { model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } },
      { model: 'gpt-4o', messages, stream: true, tools: [{ type: 'function', function: { name: 'shell', parameters: { type: 'object' } } }] },
    ]) {
      if ('tools' in body) mock.options = { ...mock.options, toolCall: { textTokens: 3 } };
      const direct = await rawStream(mock.url, 'sk-direct', body);
      const proxied = await rawStream(sc.url, token, body);
      mock.options = { ...mock.options, toolCall: false };
      assert.ok(direct.endsWith('data: [DONE]\n\n'));
      assert.equal(direct.includes('"usage"'), 'stream_options' in body);
      assert.equal(proxied, direct);
    }
  });

  test('a request that does not fit is blocked before the provider: 429 insufficient_quota, x-should-retry: false, one attempt', async () => {
    const tiny = await addKey(sc.dataDir, 'tiny', 0.0001, [], 'openai');
    const sent = mock.requests.length;
    let attempts = 0;
    const c = client(sc, tiny, {
      maxRetries: 2,
      fetch: async (url, init) => {
        attempts++;
        return fetch(url, init);
      },
    });
    await assert.rejects(c.chat.completions.create({ model: 'gpt-4o', messages, stream: true }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.equal(err.status, 429);
      assert.equal(err.headers?.get('x-should-retry'), 'false');
      assert.equal(err.type, 'insufficient_quota');
      assert.equal(err.code, 'insufficient_quota');
      assert.match(err.message, /spendcap: key "tiny" reached its cap/);
      return true;
    });
    assert.equal(attempts, 1, 'the SDK does not retry');
    assert.equal(mock.requests.length, sent, 'nothing was sent upstream');
    const log = await ledgerRows<LedgerJson>(sc);
    assert.deepEqual([log[0]!.outcome, log[0]!.keyName], ['blocked', 'tiny']);
  });

  test('a non-streamed request without a limit holds the largest possible output up front, and says so when it cannot', async () => {
    const small = await addKey(sc.dataDir, 'small', 0.5, [], 'openai');
    const sent = mock.requests.length;
    await assert.rejects(client(sc, small).chat.completions.create({ model: 'gpt-4o', messages }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.match(err.message, /output limit of 128000 tokens up front; set a lower limit or stream/);
      return true;
    });
    assert.equal(mock.requests.length, sent);
    const ok = await client(sc, small).chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 100 });
    assert.equal(ok.choices[0]!.finish_reason, 'stop');
  });

  test('a stream that reaches the cap is cut well-formed: finalChatCompletion() resolves, the user reads why, billed ≤ cap', async () => {
    const cut = await addKey(sc.dataDir, 'cut', 0.01, [], 'openai');
    mock.options = { ...mock.options, outputTokens: 20_000 };
    const first = mock.bills.length;
    const done = await client(sc, cut).chat.completions.stream({ model: 'gpt-4o', messages, stream_options: { include_usage: true } }).finalChatCompletion();
    const choice = done.choices[0]!;
    assert.equal(choice.finish_reason, CHAT_CUT_FINISH_REASON);
    assert.match(choice.message.content ?? '', /\n\nspendcap: key "cut" reached its cap/);
    assert.ok(done.usage && done.usage.completion_tokens > 300, 'the client that asked for usage gets what spendcap charged');
    await mock.waitIdle();
    const bill = mock.bills[first]!;
    assert.equal(bill.aborted, true, 'the provider stream was aborted');
    const b = billed(bill, GPT_4O);
    assert.ok(b <= 10_000_000, `billed ${b} n$ > cap`);
    assert.ok(b >= 7_000_000, `billed only ${b} n$ of a 10_000_000 n$ cap`);
    const s = await budgetStatus(sc, 'cut');
    assert.ok(s.spentUsd * 1e9 >= b, 'the charge covers what the provider billed');
    assert.ok(s.spentUsd <= s.capUsd);
    assert.equal(s.heldUsd, 0);
    const row = await rowFor(sc, bill);
    assert.equal(row.outcome, 'cut');
    // the next request is refused without reaching the provider
    const sent = mock.requests.length;
    await assert.rejects(client(sc, cut).chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 10 }), OpenAI.RateLimitError);
    assert.equal(mock.requests.length, sent);
    mock.options = { ...mock.options, outputTokens: 40 };
  });

  test('a cut inside a tool call: the SDK parses the closed arguments (strict tool), and they carry the truncation marker', async () => {
    const tool = await addKey(sc.dataDir, 'tool', 0.004, [], 'openai');
    mock.options = { ...mock.options, toolCall: { name: 'shell', arguments: { command: 'echo ' + 'word '.repeat(3000) } } };
    const first = mock.bills.length;
    const stream = client(sc, tool).chat.completions.stream({
      model: 'gpt-4o',
      messages,
      tools: [{ type: 'function', function: { name: 'shell', strict: true, parameters: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'], additionalProperties: false } } }],
    });
    let doneArgs: unknown = undefined;
    stream.on('tool_calls.function.arguments.done', (e) => (doneArgs = e.parsed_arguments));
    const done = await stream.finalChatCompletion();
    mock.options = { ...mock.options, toolCall: false };
    const choice = done.choices[0]!;
    assert.equal(choice.finish_reason, CHAT_CUT_FINISH_REASON);
    const call = choice.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function');
    assert.deepEqual(JSON.parse(call.function.arguments), { command: null, spendcap_truncated: true });
    assert.deepEqual(doneArgs, { command: null, spendcap_truncated: true });
    assert.match(choice.message.content ?? '', /reached its cap/);
    await mock.waitIdle();
    assert.ok(billed(mock.bills[first]!, GPT_4O) <= 4_000_000);
  });

  test('28 concurrent streams on one small cap: the provider bills ≤ cap; charged + held never passes it', async () => {
    const capUsd = 0.5;
    const swarm = await addKey(sc.dataDir, 'swarm', capUsd, [], 'openai');
    mock.options = { ...mock.options, outputTokens: 20_000, tokenIntervalMs: 1 };
    const first = mock.bills.length;
    await sc.server.bank.refresh();
    const key = sc.server.bank.keyByName('swarm')!;
    let worst = 0;
    const sampler = setInterval(() => {
      worst = Math.max(worst, key.account.spentNanos + key.account.heldNanos);
    }, 5);
    const results = await Promise.allSettled(
      Array.from({ length: 28 }, (_, i) =>
        client(sc, swarm, { headers: { 'x-spendcap-session': `s${i}` }, maxRetries: 2 })
          .chat.completions.stream({ model: 'gpt-4o', messages, max_completion_tokens: 30_000 })
          .finalChatCompletion(),
      ),
    );
    clearInterval(sampler);
    await mock.waitIdle();
    mock.options = { ...mock.options, outputTokens: 40, tokenIntervalMs: 0 };
    let total = 0;
    for (const b of mock.bills.slice(first)) total += billed(b, GPT_4O);
    const cap = capUsd * 1e9;
    const ratio = total / cap;
    const resolved = results.filter((r) => r.status === 'fulfilled').length;
    console.log(`# 28 chat streams: billed ${total} n$ of cap ${cap} n$ = ${(ratio * 100).toFixed(1)}%; ${resolved} finalChatCompletion() resolved; peak charged+held ${worst}`);
    assert.ok(total <= cap, `provider billed ${total} n$ > cap ${cap} n$`);
    assert.ok(ratio >= 0.7, `only ${(ratio * 100).toFixed(1)}% of the cap was usable`);
    assert.ok(worst <= cap, `charged + held reached ${worst} > ${cap}`);
    const s = await budgetStatus(sc, 'swarm');
    assert.ok(s.spentUsd <= capUsd && s.spentUsd * 1e9 >= total, `charged ${s.spentUsd} must cover billed ${total / 1e9} and stay ≤ cap`);
    for (const r of results) {
      if (r.status === 'rejected') assert.ok(r.reason instanceof OpenAI.RateLimitError, `only cap refusals may fail: ${String(r.reason)}`);
      else assert.equal(r.value.choices[0]!.finish_reason, CHAT_CUT_FINISH_REASON);
    }
  });

  test('hidden reasoning before the first delta is bounded by the clock: the provider bills no more than the cap', async () => {
    const thinker = await addKey(sc.dataDir, 'thinker', 0.01, [], 'openai');
    // gpt-5 thinks at 300 tokens/s with its stream open and nothing streamed: 20,000 tokens would be $0.20.
    mock.options = { ...mock.options, reasoningTokens: 20_000, reasoningTokensPerSecond: 300, outputTokens: 20 };
    const first = mock.bills.length;
    const started = Date.now();
    const done = await client(sc, thinker).chat.completions.stream({ model: 'gpt-5', messages, reasoning_effort: 'high' }).finalChatCompletion();
    mock.options = { ...mock.options, reasoningTokens: 0, reasoningTokensPerSecond: 0, outputTokens: 40 };
    assert.equal(done.choices[0]!.finish_reason, CHAT_CUT_FINISH_REASON);
    assert.match(done.choices[0]!.message.content ?? '', /^spendcap: key "thinker" reached its cap/);
    await mock.waitIdle();
    const bill = mock.bills[first]!;
    const b = billed(bill, GPT_5);
    assert.equal(bill.aborted, true);
    assert.ok(bill.usage.reasoning_tokens > 300, `reasoning ran for a while before the cut (${bill.usage.reasoning_tokens} tokens in ${Date.now() - started} ms)`);
    assert.ok(b <= 10_000_000, `provider billed ${b} n$ > cap 10_000_000 n$`);
    const s = await budgetStatus(sc, 'thinker');
    assert.ok(s.spentUsd * 1e9 >= b && s.spentUsd <= s.capUsd);
  });

  test('OpenRouter: usage.cost settles the row; spendcap\'s own price is kept beside it (JSON and stream)', async () => {
    const router = await addKey(sc.dataDir, 'router', 5, [], 'openrouter');
    // OpenRouter's prices differ from the catalogue's, so the two figures differ.
    const theirs: MockOpenAIPricePerMtok = { input: 3_000_000_000, cachedInput: 1_000_000_000, output: 12_000_000_000 };
    const ours: MockOpenAIPricePerMtok = { input: 2_500_000_000, cachedInput: 250_000_000, output: 10_000_000_000 };
    mock.options = { ...mock.options, openrouter: true, openrouterPrices: theirs, cachedTokens: 10 };
    const c = client(sc, router);
    const first = mock.bills.length;
    const json = await c.chat.completions.create({ model: 'openai/gpt-4o', messages, max_tokens: 200 });
    assert.ok((json.usage as unknown as { cost: number }).cost > 0);
    const streamed = await c.chat.completions.stream({ model: 'openai/gpt-4o', messages }).finalChatCompletion();
    assert.equal(streamed.choices[0]!.finish_reason, 'stop');
    assert.equal(streamed.usage, undefined, 'the client did not ask for usage');
    mock.options = { ...mock.options, openrouter: false, cachedTokens: 0 };
    for (const bill of mock.bills.slice(first, first + 2)) {
      const row = await rowFor(sc, bill);
      assert.equal(row.provider, 'openrouter');
      assert.equal(row.outcome, 'ok');
      assert.equal(row.costNanos, billed(bill, theirs), 'charged what OpenRouter says it cost');
      assert.equal(row.providerCostNanos, billed(bill, theirs));
      assert.equal(row.meteredCostNanos, billed(bill, ours));
      assert.notEqual(row.meteredCostNanos, row.costNanos);
    }
  });

  test('a stream whose usage spendcap asked for keeps the provider\'s keep-alive comments and shows no usage', async () => {
    const router = await addKey(sc.dataDir, 'router-raw', 5, [], 'openrouter');
    mock.options = { ...mock.options, openrouter: true };
    try {
      const r = await fetch(`${sc.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${router}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/gpt-4o', messages, stream: true }),
      });
      const text = await r.text();
      const upstream = JSON.parse(mock.requests[mock.requests.length - 1]!.body) as { stream_options?: { include_usage?: boolean } };
      assert.equal(upstream.stream_options?.include_usage, true, 'spendcap asked the provider for usage');
      assert.match(text, /^: OPENROUTER PROCESSING$/m, 'the keep-alive comment reached the client');
      assert.doesNotMatch(text, /"usage"/, 'the client sees no usage it did not ask for');
      assert.match(text, /data: \[DONE\]\n\n$/);
    } finally {
      mock.options = { ...mock.options, openrouter: false };
    }
  });

  test('an openai-compatible key: an unpriced model is refused with the price-set hint; `spendcap price set` makes it work', async () => {
    const compat = await addKey(sc.dataDir, 'compat', 1, ['--base-url', `${mock.url}/v1`], 'openai-compatible');
    const c = client(sc, compat);
    const sent = mock.requests.length;
    await assert.rejects(c.chat.completions.create({ model: 'my-llama-70b', messages, stream: true }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.equal(err.code, 'model_not_priced');
      assert.match(err.message, /spendcap price set my-llama-70b --input <USD per Mtok> --output <USD per Mtok>/);
      return true;
    });
    assert.equal(mock.requests.length, sent, 'nothing was sent upstream');
    assert.equal((await cli(sc.dataDir, ['price', 'set', 'my-llama-70b', '--input', '0.5', '--output', '2'])).code, 0);
    const first = mock.bills.length;
    const done = await c.chat.completions.stream({ model: 'my-llama-70b', messages }).finalChatCompletion();
    assert.equal(done.choices[0]!.finish_reason, 'stop');
    const bill = mock.bills[first]!;
    const row = await rowFor(sc, bill);
    assert.equal(row.provider, 'openai-compatible');
    assert.equal(row.costNanos, billed(bill, { input: 500_000_000, cachedInput: 50_000_000, output: 2_000_000_000 }));
  });
});
