// The proxy with the official Anthropic SDK as the client and a mock provider that bills every
// token it writes: pass-through, auth, blocking before upstream, cutting mid-stream, pricing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic, MockPricePerMtok } from './helpers/mock-anthropic.js';
import { addKey, cli, ledgerRows, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

const MODEL = 'claude-sonnet-4-5';
const SONNET: MockPricePerMtok = { input: 3_000_000_000, output: 15_000_000_000, cacheRead: 300_000_000, cacheWrite5m: 3_750_000_000, cacheWrite1h: 6_000_000_000 };
const messages = [{ role: 'user' as const, content: 'Tell me about spend caps.' }];

interface LedgerJson {
  model: string;
  outcome: string;
  costNanos: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  usageSource: string;
  requestId: string;
  session: string | null;
  detail: string | null;
  priceEstimated: boolean;
}

function client(sc: TestSpendcap, token: string, headers: Record<string, string> = {}): Anthropic {
  return new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0, defaultHeaders: headers });
}

/** Response headers that differ per response or per connection, whoever sends them. */
const VOLATILE = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'request-id']);
function stableHeaders(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => {
    // rate-limit reset times are clock readings that may cross a second between the two calls
    if (!VOLATILE.has(k) && !k.endsWith('-reset')) out[k] = v;
  });
  return out;
}

describe('pass-through', () => {
  let mock: MockAnthropic;
  let sc: TestSpendcap;
  let token: string;
  before(async () => {
    // The same seed for every request, so a direct call and a proxied one produce the same bytes.
    mock = await startMockAnthropic({ outputTokens: 40, tokenIntervalMs: 0, perRequest: (_r, i) => ({ seed: 100 - i }) });
    sc = await startSpendcap(mock.url);
    token = await addKey(sc.dataDir, 'work', 10);
  });
  after(async () => {
    await sc.close();
    await mock.close();
  });

  for (const stream of [true, false]) {
    test(`${stream ? 'stream' : 'non-stream'}: status, headers and bytes as the provider sent them`, async () => {
      const direct = new Anthropic({ apiKey: 'sk-test-anthropic-work', baseURL: mock.url, maxRetries: 0 });
      const viaDirect = await direct.messages.create({ model: MODEL, max_tokens: 200, messages, stream }).asResponse();
      const directBody = await viaDirect.text();
      const viaProxy = await client(sc, token).messages.create({ model: MODEL, max_tokens: 200, messages, stream }).asResponse();
      const proxyBody = await viaProxy.text();
      assert.equal(viaProxy.status, viaDirect.status);
      assert.deepEqual(stableHeaders(viaProxy.headers), stableHeaders(viaDirect.headers));
      assert.equal(viaProxy.headers.get('request-id')?.startsWith('req_mock'), true);
      // Message ids are random per response; everything else must match byte for byte.
      const sameIds = (t: string) => t.replace(/msg_[A-Za-z0-9]+/g, 'msg_X');
      assert.equal(sameIds(proxyBody), sameIds(directBody));
      if (stream) assert.match(proxyBody, /event: ping/);
    });
  }

  test('the provider gets the provider key, never the spendcap key', async () => {
    await client(sc, token).messages.create({ model: MODEL, max_tokens: 50, messages });
    const last = mock.requests.at(-1)!;
    assert.equal(last.headers['x-api-key'], 'sk-test-anthropic-work');
    assert.equal(last.headers.authorization, undefined);
    assert.ok(!JSON.stringify(last.headers).includes(token));
    for (const line of sc.log) assert.ok(!line.includes(token) && !line.includes('sk-ant-test'), `a log line leaks a key: ${line}`);
  });

  test('finalMessage() and the ledger agree with what the provider billed', async () => {
    const before = mock.bills.length;
    const msg = await client(sc, token).messages.stream({ model: MODEL, max_tokens: 200, messages }).finalMessage();
    await mock.waitIdle();
    const bill = mock.bills[before]!;
    assert.equal(msg.usage.output_tokens, bill.usage.output_tokens);
    const row = (await ledgerRows<LedgerJson>(sc))[0]!;
    assert.equal(row.outcome, 'ok');
    assert.equal(row.usageSource, 'provider');
    assert.equal(row.outputTokens, bill.usage.output_tokens);
    assert.equal(row.inputTokens, bill.usage.input_tokens);
    assert.equal(row.costNanos, Math.ceil((bill.usage.input_tokens * SONNET.input + bill.usage.output_tokens * SONNET.output) / 1e6));
    assert.equal(row.requestId, bill.id);
  });

  test('/messages without /v1, ?beta=true, x-api-key auth and the session header', async () => {
    const res = await fetch(`${sc.url}/messages?beta=true`, {
      method: 'POST',
      headers: { 'x-api-key': token, 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-claude-code-session-id': 'sess-1' },
      body: JSON.stringify({ model: MODEL, max_tokens: 20, messages }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal(mock.requests.at(-1)!.url, '/v1/messages?beta=true');
    assert.equal((await ledgerRows<LedgerJson>(sc))[0]!.session, 'sess-1');
  });

  test('a client that goes away aborts the provider at once and is charged for what may have been produced', async () => {
    mock.options = { ...mock.options, outputTokens: 100_000, tokenIntervalMs: 1 };
    const before = mock.bills.length;
    const stream = client(sc, token).messages.stream({ model: MODEL, max_tokens: 200_000, messages });
    const ended = stream.finalMessage().catch((err: unknown) => err);
    let seen = 0;
    await new Promise<void>((resolve) => {
      stream.on('text', () => {
        if (++seen === 20) resolve();
      });
    });
    stream.abort();
    assert.ok((await ended) instanceof Anthropic.APIUserAbortError);
    await mock.waitIdle();
    mock.options = { ...mock.options, outputTokens: 40, tokenIntervalMs: 0 };
    const bill = mock.bills[before]!;
    assert.equal(bill.aborted, true);
    assert.ok(bill.usage.output_tokens < 1000, `the provider kept going: ${bill.usage.output_tokens} tokens`);
    await new Promise((r) => setTimeout(r, 50));
    const row = (await ledgerRows<LedgerJson>(sc))[0]!;
    assert.equal(row.outcome, 'error');
    assert.equal(row.detail, 'client closed the connection');
    assert.equal(row.usageSource, 'estimate');
    assert.ok(row.costNanos >= Math.ceil((bill.usage.input_tokens * SONNET.input + bill.usage.output_tokens * SONNET.output) / 1e6), 'the charge covers the bill');
  });

  test('count_tokens and models are forwarded; HEAD /api/hello and /healthz answer', async () => {
    const count = await client(sc, token).messages.countTokens({ model: MODEL, messages });
    assert.ok(count.input_tokens > 0);
    const models = await client(sc, token).models.list();
    assert.ok(models.data.length > 0);
    assert.equal((await fetch(`${sc.url}/api/hello`, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(`${sc.url}/healthz`)).status, 200);
  });

  test('unknown or missing key: 401 in Anthropic shape, saying what to do', async () => {
    const sent = mock.requests.length;
    await assert.rejects(client(sc, 'sc-not-a-real-key').messages.create({ model: MODEL, max_tokens: 10, messages }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.AuthenticationError);
      assert.equal((err.error as { type: string; error: { type: string } }).error.type, 'authentication_error');
      assert.match(err.message, /spendcap key/);
      return true;
    });
    const res = await fetch(`${sc.url}/v1/messages`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 401);
    assert.match(await res.text(), /key add/);
    assert.equal(mock.requests.length, sent, 'nothing reaches the provider');
  });

  test('bad input gets a provider-shaped 400/404/413, never a crash', async () => {
    const post = (path: string, body: string) => fetch(`${sc.url}${path}`, { method: 'POST', headers: { 'x-api-key': token, 'content-type': 'application/json' }, body });
    const bad = await post('/v1/messages', '{not json');
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
    const noModel = await post('/v1/messages', JSON.stringify({ max_tokens: 10, messages }));
    assert.equal(noModel.status, 400);
    assert.match(await noModel.text(), /model/);
    const unknownPath = await post('/v1/nothing', '{}');
    assert.equal(unknownPath.status, 404);
    assert.equal(((await unknownPath.json()) as { type: string }).type, 'error');
    const huge = await post('/v1/messages', 'x'.repeat(33 * 1024 * 1024));
    assert.equal(huge.status, 413);
    assert.equal((await fetch(`${sc.url}/healthz`)).status, 200, 'still serving');
  });
});

describe('money', () => {
  let mock: MockAnthropic;
  let sc: TestSpendcap;
  before(async () => {
    mock = await startMockAnthropic({ outputTokens: 20, tokenIntervalMs: 0 });
    sc = await startSpendcap(mock.url);
  });
  after(async () => {
    await sc.close();
    await mock.close();
  });

  test('cache reads and 5m/1h cache writes are priced at their own rates', async () => {
    const token = await addKey(sc.dataDir, 'cache', 10);
    mock.options = { ...mock.options, inputTokens: 1000, cache: { read: 20_000, write5m: 3000, write1h: 2000 }, datedModel: true };
    await client(sc, token).messages.stream({ model: MODEL, max_tokens: 100, messages }).finalMessage();
    const row = (await ledgerRows<LedgerJson>(sc))[0]!;
    assert.deepEqual([row.inputTokens, row.cacheReadTokens, row.cacheWrite5mTokens, row.cacheWrite1hTokens, row.outputTokens], [1000, 20_000, 3000, 2000, 20]);
    assert.equal(row.model, 'claude-sonnet-4-5-20250929', 'the dated id the provider answered with is kept and priced');
    // $3 × 1000 + $0.30 × 20000 + $3.75 × 3000 + $6 × 2000 + $15 × 20, per million
    assert.equal(row.costNanos, (3000 + 6000 + 11_250 + 12_000 + 300) * 1000);
  });

  test('long context: past 200k input tokens every token costs the premium rate', async () => {
    const token = await addKey(sc.dataDir, 'long', 10);
    mock.options = { ...mock.options, inputTokens: 150_000, cache: { read: 60_000 }, datedModel: false };
    await client(sc, token).messages.stream({ model: MODEL, max_tokens: 100, messages }).finalMessage();
    const row = (await ledgerRows<LedgerJson>(sc))[0]!;
    // 210k input in all: $6 × 150k + $0.60 × 60k + $22.50 × 20 output
    assert.equal(row.costNanos, (900_000 + 36_000 + 450) * 1000);
  });

  test('an unknown model is refused before the provider with a way out; a newer model of a known family is priced as its dearest sibling', async () => {
    const token = await addKey(sc.dataDir, 'models', 10);
    const sent = mock.requests.length;
    await assert.rejects(client(sc, token).messages.create({ model: 'llama-9-local', max_tokens: 10, messages }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError);
      assert.match(err.message, /spendcap price set llama-9-local/);
      return true;
    });
    assert.equal(mock.requests.length, sent);
    mock.options = { ...mock.options, inputTokens: 100, cache: {} };
    await client(sc, token).messages.create({ model: 'claude-opus-4-99', max_tokens: 50, messages });
    const row = (await ledgerRows<LedgerJson>(sc))[0]!;
    assert.equal(row.priceEstimated, true);
    assert.ok(row.costNanos > 0);
    // and a user price makes the unknown model usable
    assert.equal((await cli(sc.dataDir, ['price', 'set', 'llama-9-local', '--input', '0', '--output', '0'])).code, 0);
    await client(sc, token).messages.create({ model: 'llama-9-local', max_tokens: 10, messages });
    const free = (await ledgerRows<LedgerJson>(sc))[0]!;
    assert.equal(free.outcome, 'ok');
    assert.equal(free.costNanos, 0);
  });
});
