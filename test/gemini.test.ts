// The Gemini protocol through spendcap with the official @google/genai SDK as the client and a mock
// that bills every token it writes: exact ledger costs, untouched bytes, keys, blocking, cuts, the
// hidden-thinking clock and the hard cap under concurrency.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, GoogleGenAI } from '@google/genai';
import type { GenerateContentResponse } from '@google/genai';
import { startMockGemini } from './helpers/mock-gemini.js';
import type { MockGemini, MockGeminiBill, MockGeminiPricePerMtok } from './helpers/mock-gemini.js';
import { addKey, budgetStatus, ledgerRows, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';
import { CUT_FINISH_REASON } from '../src/providers/gemini/index.js';

const FLASH = 'gemini-2.5-flash';
const PRO = 'gemini-2.5-pro';
// Catalogue prices (n$/Mtok) of the models the tests use; the mock bills with the same numbers.
const FLASH_PRICE: MockGeminiPricePerMtok = { input: 300_000_000, cachedInput: 30_000_000, output: 2_500_000_000 };
const PRO_PRICE: MockGeminiPricePerMtok = { input: 1_250_000_000, cachedInput: 125_000_000, output: 10_000_000_000 };
const contents = 'Write a long essay about budgets.';

interface LedgerJson {
  model: string;
  outcome: string;
  costNanos: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  usageSource: string;
  keyName: string;
}

function client(sc: TestSpendcap, token: string, extra: { apiVersion?: string; fetch?: typeof fetch; headers?: Record<string, string> } = {}): GoogleGenAI {
  return new GoogleGenAI({ apiKey: token, httpOptions: { baseUrl: sc.url, ...extra } });
}

function billOf(bill: MockGeminiBill, p: MockGeminiPricePerMtok): number {
  const u = bill.usage;
  return Math.ceil(((u.promptTokenCount - u.cachedContentTokenCount) * p.input + u.cachedContentTokenCount * p.cachedInput + (u.candidatesTokenCount + u.thoughtsTokenCount) * p.output) / 1e6);
}

/** Drains an SDK stream; every chunk is kept. Throws what the iterator throws. */
async function drain(stream: AsyncGenerator<GenerateContentResponse>): Promise<GenerateContentResponse[]> {
  const out: GenerateContentResponse[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

function textOf(chunks: GenerateContentResponse[]): string {
  return chunks.map((c) => (c.candidates?.[0]?.content?.parts ?? []).map((p) => (p.thought ? '' : (p.text ?? ''))).join('')).join('');
}

describe('gemini through spendcap', () => {
  let mock: MockGemini;
  let sc: TestSpendcap;
  before(async () => {
    mock = await startMockGemini({ tokenIntervalMs: 1, outputTokens: 40 });
    sc = await startSpendcap(null, { baseUrls: { gemini: mock.url }, pollMs: 100 });
  });
  after(async () => {
    await sc.close();
    await mock.close();
  });

  test('generateContent: the ledger row has the mock bill to the nano-dollar; cached and thinking tokens converted', async () => {
    const token = await addKey(sc.dataDir, 'unary', 5, [], 'gemini');
    mock.options = { ...mock.options, cachedTokens: 10, thinkingTokens: 30, inputTokens: 50 };
    const first = mock.bills.length;
    const res = await client(sc, token).models.generateContent({ model: FLASH, contents, config: { maxOutputTokens: 500 } });
    mock.options = { ...mock.options, cachedTokens: 0, thinkingTokens: 0, inputTokens: undefined };
    assert.ok((res.text ?? '').length > 0);
    assert.equal(res.usageMetadata?.thoughtsTokenCount, 30);
    const bill = mock.bills[first]!;
    assert.equal(bill.apiVersion, 'v1', '@google/genai 3.x calls /v1/models/… by default');
    const row = (await ledgerRows<LedgerJson>(sc)).find((r) => r.keyName === 'unary')!;
    assert.deepEqual([row.outcome, row.usageSource, row.model], ['ok', 'provider', FLASH]);
    assert.deepEqual([row.inputTokens, row.cacheReadTokens, row.outputTokens], [40, 10, 40 + 30]);
    assert.equal(row.costNanos, billOf(bill, FLASH_PRICE));
    assert.equal(row.costNanos, mock.billedNanos(FLASH_PRICE) - mock.bills.slice(0, first).reduce((s, b) => s + billOf(b, FLASH_PRICE), 0));
  });

  test('generateContentStream (v1beta too): exact ledger cost, text and usage as the mock sent them', async () => {
    const token = await addKey(sc.dataDir, 'stream', 5, [], 'gemini');
    mock.options = { ...mock.options, thinkingTokens: 25, thoughtChunks: 2, cachedTokens: 5 };
    for (const apiVersion of ['v1', 'v1beta']) {
      const first = mock.bills.length;
      const chunks = await drain(await client(sc, token, { apiVersion }).models.generateContentStream({ model: FLASH, contents, config: { thinkingConfig: { includeThoughts: true } } }));
      const bill = mock.bills[first]!;
      assert.equal(bill.apiVersion, apiVersion);
      assert.equal(bill.sse, true);
      assert.equal(chunks.at(-1)?.candidates?.[0]?.finishReason, 'STOP');
      assert.equal(chunks.at(-1)?.usageMetadata?.candidatesTokenCount, 40);
      assert.ok(textOf(chunks).length > 0);
      const row = (await ledgerRows<LedgerJson>(sc)).find((r) => r.keyName === 'stream')!;
      assert.deepEqual([row.outcome, row.usageSource], ['ok', 'provider']);
      assert.equal(row.outputTokens, 40 + 25);
      assert.equal(row.cacheReadTokens, 5);
      assert.equal(row.costNanos, billOf(bill, FLASH_PRICE));
    }
    mock.options = { ...mock.options, thinkingTokens: 0, cachedTokens: 0 };
    assert.equal((await budgetStatus(sc, 'stream')).heldUsd, 0);
  });

  test('stream bytes are identical with and without spendcap when nothing is cut', async () => {
    const token = await addKey(sc.dataDir, 'bytes', 5, [], 'gemini');
    // The same token seed for both calls (seed + request index is constant).
    const base = mock.bills.length;
    mock.options = { ...mock.options, perRequest: (_r, i) => ({ seed: 1000 - (i - base) }) };
    const raw: string[] = [];
    const tee: typeof fetch = async (url, init) => {
      const res = await fetch(url, init);
      raw.push(await res.clone().text());
      return res;
    };
    const direct = new GoogleGenAI({ apiKey: 'sk-test-gemini-bytes', httpOptions: { baseUrl: mock.url, fetch: tee } });
    const a = await drain(await direct.models.generateContentStream({ model: FLASH, contents }));
    const b = await drain(await client(sc, token, { fetch: tee }).models.generateContentStream({ model: FLASH, contents }));
    mock.options = { ...mock.options, perRequest: undefined };
    assert.equal(raw.length, 2);
    assert.match(raw[0]!, /\r\n\r\n$/);
    const sameIds = (t: string) => t.replace(/"responseId":"[^"]*"/g, '"responseId":"X"');
    assert.equal(sameIds(raw[1]!), sameIds(raw[0]!));
    assert.equal(textOf(a), textOf(b));
  });

  test('a spendcap key in ?key= or x-goog-api-key never reaches the provider: it gets the provider key in x-goog-api-key', async () => {
    const token = await addKey(sc.dataDir, 'query', 5, [], 'gemini');
    const first = mock.requests.length;
    const res = await fetch(`${sc.url}/v1beta/models/${FLASH}:streamGenerateContent?alt=sse&key=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: contents }] }] }),
    });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /"finishReason":"STOP"/);
    await client(sc, token).models.generateContent({ model: FLASH, contents });
    const seen = mock.requests.slice(first);
    assert.equal(seen.length, 2);
    for (const r of seen) {
      assert.equal(r.headers['x-goog-api-key'], 'sk-test-gemini-query');
      assert.equal(new URL(r.url, 'http://x').searchParams.has('key'), false);
      assert.ok(!JSON.stringify(r.headers).includes(token) && !r.url.includes(token) && !r.body.includes(token), 'no spendcap key anywhere');
    }
    assert.equal(new URL(seen[0]!.url, 'http://x').searchParams.get('alt'), 'sse');
  });

  test('a stream without alt=sse (JSON array) is refused before the provider with a 400 that says why', async () => {
    const token = await addKey(sc.dataDir, 'array', 5, [], 'gemini');
    const first = mock.requests.length;
    const res = await fetch(`${sc.url}/v1beta/models/${FLASH}:streamGenerateContent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-goog-api-key': token },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: contents }] }] }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: number; status: string; message: string } };
    assert.deepEqual([body.error.code, body.error.status], [400, 'INVALID_ARGUMENT']);
    assert.match(body.error.message, /alt=sse/);
    assert.equal(mock.requests.length, first);
  });

  test('blocked before the provider: 429 RESOURCE_EXHAUSTED in Google’s shape, x-should-retry: false, one attempt', async () => {
    // Less than the prompt plus a few output tokens.
    const token = await addKey(sc.dataDir, 'tiny', 0.00001, [], 'gemini');
    const sent = mock.requests.length;
    const seen: Response[] = [];
    const counting: typeof fetch = async (url, init) => {
      const res = await fetch(url, init);
      seen.push(res.clone());
      return res;
    };
    await assert.rejects(client(sc, token, { fetch: counting }).models.generateContentStream({ model: FLASH, contents }), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.status, 429);
      assert.match(err.message, /RESOURCE_EXHAUSTED/);
      assert.match(err.message, /spendcap: key \\"tiny\\" reached its cap/);
      return true;
    });
    assert.equal(seen.length, 1, 'the SDK does not retry by default');
    assert.equal(seen[0]!.headers.get('x-should-retry'), 'false');
    assert.equal(seen[0]!.headers.get('retry-after'), null);
    const body = (await seen[0]!.json()) as { error: { code: number; status: string; message: string } };
    assert.deepEqual([body.error.code, body.error.status], [429, 'RESOURCE_EXHAUSTED']);
    // With retryOptions the SDK retries 429 whatever the headers say: a bounded number of times, none reaching the provider.
    seen.length = 0;
    await assert.rejects(client(sc, token, { fetch: counting }).models.generateContent({ model: FLASH, contents, config: { httpOptions: { retryOptions: { attempts: 3, initialDelay: 0.01, maxDelay: 0.02 } } } }), ApiError);
    assert.equal(seen.length, 3);
    assert.equal(mock.requests.length, sent, 'nothing was sent upstream');
    const row = (await ledgerRows<LedgerJson>(sc)).find((r) => r.keyName === 'tiny')!;
    assert.equal(row.outcome, 'blocked');
  });

  test('a stream that reaches the cap is cut well-formed: the iterator ends without throwing, finishReason OTHER, the notice, billed ≤ cap', async () => {
    const token = await addKey(sc.dataDir, 'cut', 0.02, [], 'gemini');
    mock.options = { ...mock.options, outputTokens: 40_000, tokenIntervalMs: 0, tokensPerChunk: 4 };
    const first = mock.bills.length;
    const chunks = await drain(await client(sc, token).models.generateContentStream({ model: FLASH, contents }));
    mock.options = { ...mock.options, outputTokens: 40, tokenIntervalMs: 1, tokensPerChunk: 1 };
    const last = chunks.at(-1)!;
    assert.equal(last.candidates?.[0]?.finishReason, CUT_FINISH_REASON);
    assert.match(last.text ?? '', /spendcap: key "cut" reached its cap/);
    assert.match(textOf(chunks), /reached its cap/);
    assert.ok((last.usageMetadata?.candidatesTokenCount ?? 0) > 1000, 'the cap was used, not refused up front');
    await mock.waitIdle();
    const bill = mock.bills[first]!;
    assert.equal(bill.aborted, true, 'the provider stream was aborted');
    const billed = billOf(bill, FLASH_PRICE);
    assert.ok(billed <= 20_000_000, `billed ${billed} n$ > cap`);
    assert.ok(billed >= 16_000_000, `billed only ${billed} n$ of a 20_000_000 n$ cap`);
    const s = await budgetStatus(sc, 'cut');
    assert.ok(s.spentUsd * 1e9 >= billed && s.spentUsd <= s.capUsd, `charged ${s.spentUsd} covers billed ${billed} n$`);
    assert.equal(s.heldUsd, 0);
    const sent = mock.requests.length;
    await assert.rejects(client(sc, token).models.generateContent({ model: FLASH, contents }), (err: unknown) => err instanceof ApiError && err.status === 429);
    assert.equal(mock.requests.length, sent);
  });

  test('hidden thinking (billed, never streamed) is bounded by the clock: cut before the first chunk, billed ≤ cap', async () => {
    const token = await addKey(sc.dataDir, 'thinker', 0.02, [], 'gemini');
    // 20,000 thoughts at 800 tokens/s before the first visible token, as 2.5 Pro thinks by default.
    mock.options = { ...mock.options, thinkingTokens: 20_000, hiddenThinkingTokensPerSecond: 800 };
    const first = mock.bills.length;
    const started = Date.now();
    const chunks = await drain(await client(sc, token).models.generateContentStream({ model: PRO, contents }));
    mock.options = { ...mock.options, thinkingTokens: 0, hiddenThinkingTokensPerSecond: 0 };
    assert.equal(chunks.length, 1, 'only the tail: no chunk came before the cut');
    assert.equal(chunks[0]!.candidates?.[0]?.finishReason, CUT_FINISH_REASON);
    assert.match(chunks[0]!.text ?? '', /reached its cap/);
    await mock.waitIdle();
    const bill = mock.bills[first]!;
    assert.equal(bill.aborted, true);
    const billed = billOf(bill, PRO_PRICE);
    assert.ok(bill.usage.thoughtsTokenCount > 500, `thinking ran for a while (${bill.usage.thoughtsTokenCount} tokens, ${Date.now() - started} ms)`);
    assert.ok(billed <= 20_000_000, `provider billed ${billed} n$ > cap 20_000_000 n$`);
    const s = await budgetStatus(sc, 'thinker');
    assert.ok(s.spentUsd * 1e9 >= billed && s.spentUsd <= s.capUsd);
  });

  test('24 concurrent streams on one small cap: the provider bills ≤ cap; charged + held never passes the cap', async () => {
    const capUsd = 0.3;
    const token = await addKey(sc.dataDir, 'swarm', capUsd, [], 'gemini');
    mock.options = { ...mock.options, outputTokens: 20_000, tokenIntervalMs: 1, tokensPerChunk: 4 };
    const first = mock.bills.length;
    await sc.server.bank.refresh();
    const key = sc.server.bank.keyByName('swarm')!;
    let worst = 0;
    const sampler = setInterval(() => {
      worst = Math.max(worst, key.account.spentNanos + key.account.heldNanos);
    }, 5);
    const results = await Promise.allSettled(
      Array.from({ length: 24 }, async (_, i) => drain(await client(sc, token, { headers: { 'x-spendcap-session': `s${i}` } }).models.generateContentStream({ model: FLASH, contents }))),
    );
    clearInterval(sampler);
    mock.options = { ...mock.options, outputTokens: 40, tokenIntervalMs: 1, tokensPerChunk: 1 };
    await mock.waitIdle();
    const bills = mock.bills.slice(first);
    const billed = bills.reduce((s, b) => s + billOf(b, FLASH_PRICE), 0);
    const cap = capUsd * 1e9;
    const ratio = billed / cap;
    const cut = results.filter((r) => r.status === 'fulfilled').length;
    console.log(`# gemini 24 streams: billed ${billed} n$ of cap ${cap} n$ = ${(ratio * 100).toFixed(1)}%; ${cut} streams cut and ended cleanly, ${24 - cut} refused; peak charged+held ${worst} n$`);
    assert.ok(billed <= cap, `provider billed ${billed} n$ > cap ${cap} n$`);
    assert.ok(worst <= cap, `charged + held reached ${worst} > ${cap}`);
    assert.ok(ratio >= 0.7, `only ${(ratio * 100).toFixed(1)}% of the cap was usable`);
    const s = await budgetStatus(sc, 'swarm');
    assert.ok(s.spentUsd <= capUsd && s.spentUsd * 1e9 >= billed, `charged ${s.spentUsd} must cover billed ${billed / 1e9} and stay ≤ cap`);
    for (const r of results) {
      if (r.status === 'rejected') assert.ok(r.reason instanceof ApiError && r.reason.status === 429, `only cap refusals may fail: ${String(r.reason)}`);
      else assert.equal(r.value.at(-1)?.candidates?.[0]?.finishReason, CUT_FINISH_REASON);
    }
  });
});
