// The OpenAI Responses protocol through spendcap, with the official openai SDK as the client and a
// mock provider that bills every token it writes: exact metering, untouched bytes, refusals before
// the provider, well-formed cuts (text, function call, hidden reasoning), concurrency, sessions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { startMockOpenAI } from './helpers/mock-openai.js';
import type { MockOpenAI, MockOpenAIBill, MockOpenAIPricePerMtok } from './helpers/mock-openai.js';
import { addKey, budgetStatus, ledgerRows, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

const MODEL = 'gpt-5';
const GPT5: MockOpenAIPricePerMtok = { input: 1_250_000_000, cachedInput: 125_000_000, output: 10_000_000_000 };
const INPUT = 'Write a long essay about budgets.';
const TOOLS: OpenAI.Responses.Tool[] = [
  { type: 'function', name: 'exec_command', description: 'run a shell command', strict: false, parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] } },
];

interface LedgerJson {
  model: string;
  outcome: string;
  costNanos: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  usageSource: string;
  requestId: string;
  session: string | null;
  detail: string | null;
}

function client(sc: TestSpendcap, token: string, headers: Record<string, string> = {}, maxRetries = 0): OpenAI {
  return new OpenAI({ apiKey: token, baseURL: `${sc.url}/v1`, maxRetries, defaultHeaders: headers });
}

/** n$ the mock billed for one request, rounded up like the ledger. */
function billed(b: MockOpenAIBill, p: MockOpenAIPricePerMtok = GPT5): number {
  const u = b.usage;
  return Math.ceil(((u.input_tokens - u.cached_tokens) * p.input + u.cached_tokens * p.cachedInput + u.output_tokens * p.output) / 1e6);
}

/** Event types of a stream, in order, and the final response, through the SDK's stream helper. */
async function streamed(c: OpenAI, body: OpenAI.Responses.ResponseCreateParamsStreaming): Promise<{ types: string[]; events: OpenAI.Responses.ResponseStreamEvent[]; final: OpenAI.Responses.Response }> {
  const s = c.responses.stream(body);
  const events: OpenAI.Responses.ResponseStreamEvent[] = [];
  s.on('event', (e) => events.push(e));
  const final = await s.finalResponse();
  return { types: events.map((e) => e.type), events, final };
}

describe('OpenAI Responses through spendcap', () => {
  let mock: MockOpenAI;
  let sc: TestSpendcap;
  let token: string;
  before(async () => {
    // seed + request index is constant, so a direct call and a proxied one write the same tokens.
    mock = await startMockOpenAI({ outputTokens: 40, tokenIntervalMs: 0, perRequest: (_r, i) => ({ seed: 1000 - i }) });
    sc = await startSpendcap(null, { baseUrls: { openai: `${mock.url}/v1` }, pollMs: 100 });
    token = await addKey(sc.dataDir, 'work', 10, [], 'openai');
  });
  after(async () => {
    await sc.close();
    await mock.close();
  });

  test('non-stream: the ledger charges exactly what the provider billed (cached input and reasoning included)', async () => {
    mock.options = { ...mock.options, inputTokens: 900, cachedTokens: 512, reasoningTokens: 64 };
    try {
      const first = mock.bills.length;
      const r = await client(sc, token).responses.create({ model: MODEL, input: INPUT, max_output_tokens: 500 });
      await mock.waitIdle();
      const bill = mock.bills[first]!;
      assert.equal(r.status, 'completed');
      assert.equal(r.usage?.input_tokens, 900);
      assert.equal(r.usage?.output_tokens, 40 + 64);
      const row = (await ledgerRows<LedgerJson>(sc))[0]!;
      assert.deepEqual([row.outcome, row.usageSource, row.requestId], ['ok', 'provider', bill.id]);
      assert.equal(row.inputTokens, 900 - 512, 'uncached input only');
      assert.equal(row.cacheReadTokens, 512);
      assert.equal(row.outputTokens, 104, 'reasoning is output');
      assert.equal(row.costNanos, billed(bill));
      assert.equal(row.costNanos, Math.ceil((388 * 1_250_000_000 + 512 * 125_000_000 + 104 * 10_000_000_000) / 1e6));
    } finally {
      mock.options = { ...mock.options, inputTokens: undefined, cachedTokens: 0, reasoningTokens: 0 };
    }
  });

  test('stream: finalResponse() and the ledger agree with the bill to the nano-dollar', async () => {
    mock.options = { ...mock.options, cachedTokens: 16 };
    try {
      const first = mock.bills.length;
      const { final, types } = await streamed(client(sc, token), { model: MODEL, input: INPUT, stream: true });
      await mock.waitIdle();
      const bill = mock.bills[first]!;
      assert.equal(types.at(-1), 'response.completed');
      assert.equal(final.status, 'completed');
      assert.equal(final.usage?.output_tokens, bill.usage.output_tokens);
      const row = (await ledgerRows<LedgerJson>(sc))[0]!;
      assert.deepEqual([row.outcome, row.usageSource], ['ok', 'provider']);
      assert.equal(row.inputTokens + row.cacheReadTokens, bill.usage.input_tokens);
      assert.equal(row.cacheReadTokens, 16);
      assert.equal(row.costNanos, billed(bill));
      const s = await budgetStatus(sc, 'work');
      assert.equal(s.heldUsd, 0);
    } finally {
      mock.options = { ...mock.options, cachedTokens: 0 };
    }
  });

  for (const stream of [true, false]) {
    test(`${stream ? 'stream' : 'non-stream'}: the client gets the provider's bytes untouched when nothing is cut`, async () => {
      const direct = new OpenAI({ apiKey: 'sk-test-openai-work', baseURL: `${mock.url}/v1`, maxRetries: 0 });
      const body = { model: MODEL, input: INPUT, stream, tools: TOOLS };
      const a = await direct.responses.create(body).asResponse();
      const directText = await a.text();
      const b = await client(sc, token).responses.create(body).asResponse();
      const proxyText = await b.text();
      assert.equal(b.status, a.status);
      assert.equal(b.headers.get('content-type'), a.headers.get('content-type'));
      // Ids and timestamps are drawn per response; everything else must match byte for byte.
      const same = (t: string): string => t.replace(/(resp|msg|rs|fc|call)_[A-Za-z0-9]+/g, '$1_X').replace(/"created_at":\d+/g, '"created_at":0');
      assert.equal(same(proxyText), same(directText));
      assert.ok(proxyText.length > 500);
      // the provider got the provider key, not the spendcap key
      assert.equal(mock.requests.at(-1)!.headers.authorization, 'Bearer sk-test-openai-work');
    });
  }

  test('a request that does not fit is blocked before the provider: 429 insufficient_quota, x-should-retry: false, one attempt', async () => {
    const tiny = await addKey(sc.dataDir, 'tiny', 0.0001, [], 'openai');
    const sent = mock.requests.length;
    let attempts = 0;
    const c = new OpenAI({
      apiKey: tiny,
      baseURL: `${sc.url}/v1`,
      maxRetries: 2,
      fetch: async (url, init) => {
        attempts++;
        return fetch(url, init);
      },
    });
    await assert.rejects(c.responses.create({ model: MODEL, input: INPUT, stream: true }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.RateLimitError, String(err));
      assert.equal(err.status, 429);
      assert.equal(err.headers?.get('x-should-retry'), 'false');
      assert.equal(err.headers?.get('retry-after'), null);
      assert.equal(err.type, 'insufficient_quota');
      assert.equal(err.code, 'insufficient_quota');
      assert.match(err.message, /spendcap: key "tiny" reached its cap: spent \$0\.00 of \$0\.0001 .*Raise it: spendcap lift tiny --add 5/);
      return true;
    });
    assert.equal(attempts, 1, 'the SDK does not retry');
    assert.equal(mock.requests.length, sent, 'nothing was sent upstream');
    // Codex (originator header) gets a 400 with the same body, which it prints.
    await assert.rejects(client(sc, tiny, { originator: 'codex_exec' }).responses.create({ model: MODEL, input: INPUT, stream: true }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.equal(err.type, 'insufficient_quota');
      assert.match(err.message, /reached its cap/);
      return true;
    });
    assert.equal(mock.requests.length, sent);
    const log = await ledgerRows<LedgerJson>(sc);
    assert.deepEqual([log[0]!.outcome, log[1]!.outcome], ['blocked', 'blocked']);
  });

  test('non-stream without max_output_tokens holds a conservative default up front: a small cap refuses it and says why', async () => {
    const small = await addKey(sc.dataDir, 'small', 0.5, [], 'openai');
    const sent = mock.requests.length;
    // 128,000 output tokens × $10/Mtok = $1.28 > $0.50
    await assert.rejects(client(sc, small).responses.create({ model: MODEL, input: INPUT }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.match(err.message, /output limit of 128000 tokens/);
      return true;
    });
    assert.equal(mock.requests.length, sent);
    const ok = await client(sc, small).responses.create({ model: MODEL, input: INPUT, max_output_tokens: 1000 });
    assert.equal(ok.status, 'completed');
    await mock.waitIdle();
  });

  test('a cut mid-text: finalResponse() resolves "incomplete" with the notice as the reason; the provider billed no more than the cap', async () => {
    const cut = await addKey(sc.dataDir, 'cut', 0.02, [], 'openai');
    mock.options = { ...mock.options, outputTokens: 20_000 };
    try {
      const first = mock.bills.length;
      const { final, types, events } = await streamed(client(sc, cut), { model: MODEL, input: INPUT, stream: true });
      assert.equal(types.at(-1), 'response.incomplete');
      assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.incomplete']);
      const seqs = events.map((e) => e.sequence_number);
      assert.deepEqual(seqs, seqs.map((_, i) => i), 'sequence numbers run on without a gap');
      assert.equal(final.status, 'incomplete');
      assert.match(final.incomplete_details?.reason ?? '', /^spendcap: key "cut" reached its cap of \$0\.02 .*this response was cut here/);
      const msg = final.output[0];
      assert.ok(msg?.type === 'message' && msg.status === 'incomplete');
      assert.ok(final.output_text.length > 200, 'the partial text is kept');
      assert.ok((final.usage?.output_tokens ?? 0) > 100);
      await mock.waitIdle();
      const bill = mock.bills[first]!;
      assert.equal(bill.aborted, true, 'the provider stream was aborted');
      assert.ok(billed(bill) <= 20_000_000, `billed ${billed(bill)} n$ > cap`);
      assert.ok(billed(bill) >= 15_000_000, `billed only ${billed(bill)} n$ of a 20_000_000 n$ cap`);
      const s = await budgetStatus(sc, 'cut');
      assert.ok(s.spentUsd * 1e9 >= billed(bill), 'the charge covers what the provider billed');
      assert.ok(s.spentUsd <= s.capUsd);
      assert.equal(s.heldUsd, 0);
      const sent = mock.requests.length;
      await assert.rejects(client(sc, cut).responses.create({ model: MODEL, input: INPUT, max_output_tokens: 10 }), OpenAI.RateLimitError);
      assert.equal(mock.requests.length, sent);
    } finally {
      mock.options = { ...mock.options, outputTokens: 40 };
    }
  });

  test('a cut mid-function-call: the call is left open (never done, never in the final output), finalResponse() resolves', async () => {
    const tool = await addKey(sc.dataDir, 'tool', 0.01, [], 'openai');
    mock.options = { ...mock.options, toolCall: { name: 'exec_command', arguments: { cmd: 'echo ' + 'word '.repeat(3000) }, textTokens: 20 } };
    try {
      const first = mock.bills.length;
      const { final, types, events } = await streamed(client(sc, tool), { model: MODEL, input: INPUT, stream: true, tools: TOOLS });
      assert.ok(types.includes('response.function_call_arguments.delta'), 'the cut came inside the arguments');
      assert.ok(!types.includes('response.function_call_arguments.done'));
      const callDone = events.some((e) => e.type === 'response.output_item.done' && e.item.type === 'function_call');
      assert.equal(callDone, false, 'no output_item.done for the call: an agent would run it');
      assert.equal(types.at(-1), 'response.incomplete');
      assert.equal(final.status, 'incomplete');
      assert.match(final.incomplete_details?.reason ?? '', /reached its cap/);
      assert.ok(!final.output.some((o) => o.type === 'function_call'), 'the truncated call is not in the final output');
      assert.ok(final.output.some((o) => o.type === 'message' && o.status === 'completed'), 'the text before the call is kept');
      await mock.waitIdle();
      assert.ok(billed(mock.bills[first]!) <= 10_000_000);
    } finally {
      mock.options = { ...mock.options, toolCall: false };
    }
  });

  test('a Codex session-id header is a session: --session-cap caps one run, other runs go on', async () => {
    const key = await addKey(sc.dataDir, 'codex', 5, ['--session-cap', '0.01'], 'openai');
    mock.options = { ...mock.options, outputTokens: 5000 };
    try {
      const a = await streamed(client(sc, key, { 'session-id': 'run-A', originator: 'codex_exec' }), { model: MODEL, input: INPUT, stream: true });
      assert.equal(a.final.status, 'incomplete');
      assert.match(a.final.incomplete_details?.reason ?? '', /session run-A of key "codex"/);
      await assert.rejects(client(sc, key, { 'session-id': 'run-A', originator: 'codex_exec' }).responses.create({ model: MODEL, input: INPUT, stream: true }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError);
        assert.match(err.message, /session run-A/);
        return true;
      });
      mock.options = { ...mock.options, outputTokens: 20 };
      const b = await streamed(client(sc, key, { 'session-id': 'run-B' }), { model: MODEL, input: INPUT, stream: true });
      assert.equal(b.final.status, 'completed');
      const rows = await ledgerRows<LedgerJson>(sc);
      assert.equal(rows[0]!.session, 'run-B');
      await mock.waitIdle();
    } finally {
      mock.options = { ...mock.options, outputTokens: 40 };
    }
  });

  test('28 concurrent streams on one small cap: the provider bills ≤ cap; charged + held never passes the cap', async () => {
    const capUsd = 0.5;
    const swarm = await addKey(sc.dataDir, 'swarm', capUsd, [], 'openai');
    mock.options = { ...mock.options, outputTokens: 20_000, tokenIntervalMs: 1 };
    try {
      const first = mock.bills.length;
      await sc.server.bank.refresh();
      const key = sc.server.bank.keyByName('swarm')!;
      let worst = 0;
      const sampler = setInterval(() => {
        worst = Math.max(worst, key.account.spentNanos + key.account.heldNanos);
      }, 5);
      const results = await Promise.allSettled(
        Array.from({ length: 28 }, (_, i) => streamed(client(sc, swarm, { 'session-id': `s${i}` }), { model: MODEL, input: INPUT, stream: true })),
      );
      clearInterval(sampler);
      await mock.waitIdle();
      const bills = mock.bills.slice(first);
      let total = 0;
      for (const b of bills) total += billed(b);
      const cap = capUsd * 1e9;
      const ratio = total / cap;
      const resolved = results.filter((r) => r.status === 'fulfilled').length;
      console.log(`# 28 Responses streams: billed ${total} n$ of cap ${cap} n$ = ${(ratio * 100).toFixed(1)}%; ${resolved} finalResponse() resolved; peak charged+held ${worst} n$`);
      assert.ok(total <= cap, `provider billed ${total} n$ > cap ${cap} n$`);
      assert.ok(ratio >= 0.75, `only ${(ratio * 100).toFixed(1)}% of the cap was usable`);
      assert.ok(worst <= cap, `charged + held reached ${worst} > ${cap}`);
      const s = await budgetStatus(sc, 'swarm');
      assert.ok(s.spentUsd <= capUsd && s.spentUsd * 1e9 >= total, `charged ${s.spentUsd} must cover billed ${total / 1e9} and stay ≤ cap`);
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(r.reason instanceof OpenAI.RateLimitError, `only cap refusals may fail: ${String(r.reason)}`);
        else assert.equal(r.value.final.status, 'incomplete');
      }
    } finally {
      mock.options = { ...mock.options, outputTokens: 40, tokenIntervalMs: 0 };
    }
  });
});

/**
 * A provider that reasons invisibly: it bills `tokensPerSecond` reasoning tokens for as long as the
 * stream is open and streams only a short summary delta every 100 ms, then (after `reasonMs`) a
 * short answer. Its bill is the reasoning time × the rate, up to when the client went away.
 */
async function startReasoningMock(tokensPerSecond: number, reasonMs: number): Promise<{ url: string; bills: Array<{ outputTokens: number; aborted: boolean; done: boolean }>; close: () => Promise<void> }> {
  const bills: Array<{ outputTokens: number; aborted: boolean; done: boolean }> = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const bill = { outputTokens: 0, aborted: false, done: false };
      bills.push(bill);
      const started = Date.now();
      let seq = 0;
      const ev = (type: string, f: Record<string, unknown>): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...f, sequence_number: seq++ })}\n\n`;
      const resp = (status: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ id: 'resp_r1', object: 'response', created_at: 1, status, model: 'o4-mini', output: [], usage: null, error: null, incomplete_details: null, ...extra });
      const reasoning = { id: 'rs_1', type: 'reasoning', summary: [] };
      const tick = (): void => {
        bill.outputTokens = Math.floor(((Date.now() - started) * tokensPerSecond) / 1000);
      };
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(ev('response.created', { response: resp('in_progress') }) + ev('response.output_item.added', { output_index: 0, item: reasoning }) + ev('response.reasoning_summary_part.added', { item_id: 'rs_1', output_index: 0, summary_index: 0, part: { type: 'summary_text', text: '' } }));
      const timer = setInterval(() => {
        tick();
        if (Date.now() - started < reasonMs) {
          res.write(ev('response.reasoning_summary_text.delta', { item_id: 'rs_1', output_index: 0, summary_index: 0, delta: ' Thinking' }));
          return;
        }
        clearInterval(timer);
        bill.done = true;
        bill.outputTokens += 1;
        const usage = { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: bill.outputTokens, output_tokens_details: { reasoning_tokens: bill.outputTokens - 1 }, total_tokens: 10 + bill.outputTokens };
        res.end(ev('response.output_item.done', { output_index: 0, item: { ...reasoning, summary: [{ type: 'summary_text', text: 'Thinking' }] } }) + ev('response.completed', { response: resp('completed', { usage }) }));
      }, 100);
      res.on('close', () => {
        clearInterval(timer);
        if (!bill.done) {
          tick();
          bill.aborted = true;
        }
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bills,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

describe('hidden reasoning', () => {
  test('reasoning billed but never streamed is bounded by the clock: the stream is cut, the provider bills no more than the cap', async () => {
    // 400 tokens/s of hidden reasoning (faster than OpenAI's API models) for up to 20 s; o4-mini output $4.40/Mtok.
    const mock = await startReasoningMock(400, 20_000);
    const sc = await startSpendcap(null, { baseUrls: { openai: `${mock.url}/v1` } });
    try {
      const token = await addKey(sc.dataDir, 'thinker', 0.005, [], 'openai');
      const started = Date.now();
      const { final, types } = await streamed(client(sc, token), { model: 'o4-mini', input: INPUT, stream: true, reasoning: { effort: 'high', summary: 'auto' } });
      const took = Date.now() - started;
      assert.equal(final.status, 'incomplete');
      assert.match(final.incomplete_details?.reason ?? '', /reached its cap/);
      assert.ok(!types.includes('response.output_item.done'), 'the open reasoning item is left open');
      await new Promise((r) => setTimeout(r, 150));
      const bill = mock.bills[0]!;
      assert.equal(bill.aborted, true, 'cut by the clock, not finished by the provider');
      const cost = Math.ceil((10 * 1_100_000_000 + bill.outputTokens * 4_400_000_000) / 1e6);
      assert.ok(bill.outputTokens > 200, `the model reasoned for a while before the cut (${bill.outputTokens} tokens in ${took} ms)`);
      assert.ok(cost <= 5_000_000, `provider billed ${cost} n$ > cap 5_000_000 n$`);
      const s = await budgetStatus(sc, 'thinker');
      assert.ok(s.spentUsd * 1e9 >= cost, `charged ${s.spentUsd} covers billed ${cost / 1e9}`);
      assert.ok(s.spentUsd <= 0.005);
    } finally {
      await sc.close();
      await mock.close();
    }
  });
});
