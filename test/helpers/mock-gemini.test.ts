import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, GoogleGenAI } from '@google/genai';
import type { GenerateContentResponse } from '@google/genai';
import { startMockGemini } from './mock-gemini.js';
import type { MockGemini } from './mock-gemini.js';

const KEY = 'AIza-test-0123456789';
const TOKEN_SHAPE = /^(?: [A-Za-z]+|[A-Z][a-z]*|,|\.|\n\n)$/;

function client(mock: MockGemini, apiVersion?: string): GoogleGenAI {
  return new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: mock.url, ...(apiVersion ? { apiVersion } : {}) } });
}

function only<T>(list: readonly T[]): T {
  assert.equal(list.length, 1);
  const v = list[0];
  assert.ok(v !== undefined);
  return v;
}

async function collect(it: AsyncGenerator<GenerateContentResponse>): Promise<GenerateContentResponse[]> {
  const out: GenerateContentResponse[] = [];
  for await (const c of it) out.push(c);
  return out;
}

void test('stream: SDK chunks carry running usage; last chunk authoritative and equal to the bill; /v1 by default', async () => {
  const mock = await startMockGemini({ outputTokens: 20, tokenIntervalMs: 0, inputTokens: 30, cachedTokens: 10 });
  try {
    const chunks = await collect(
      await client(mock).models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'hello' }),
    );
    await mock.waitIdle();
    assert.equal(chunks.length, 20);
    const texts = chunks.map((c) => c.text ?? '');
    for (const t of texts) assert.match(t, TOKEN_SHAPE);
    chunks.forEach((c, i) => {
      assert.equal(c.usageMetadata?.promptTokenCount, 30);
      assert.equal(c.usageMetadata?.candidatesTokenCount, i + 1);
      assert.equal(c.usageMetadata?.totalTokenCount, 30 + i + 1);
      assert.equal(c.usageMetadata?.cachedContentTokenCount, 10);
    });
    const last = chunks.at(-1);
    assert.equal(last?.candidates?.[0]?.finishReason, 'STOP');
    assert.equal(chunks[0]?.candidates?.[0]?.finishReason, undefined);
    assert.equal(last?.modelVersion, 'gemini-2.5-flash');
    const bill = only(mock.bills);
    assert.deepEqual(bill.usage, { promptTokenCount: 30, cachedContentTokenCount: 10, candidatesTokenCount: 20, thoughtsTokenCount: 0 });
    assert.equal(bill.complete, true);
    assert.equal(bill.aborted, false);
    assert.equal(bill.finalized, true);
    assert.equal(bill.apiVersion, 'v1');
    assert.equal(bill.sse, true);
    assert.equal(bill.apiKey, KEY);
    assert.equal(mock.openStreams, 0);
    const req = only(mock.requests);
    assert.equal(req.url, '/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    assert.equal(req.headers['x-goog-api-key'], KEY);
  } finally {
    await mock.close();
  }
});

void test('stream wire format: data-only, \\r\\n\\r\\n, no [DONE], /v1beta and ?key=; final-only usage mode', async () => {
  const mock = await startMockGemini({ outputTokens: 6, tokenIntervalMs: 0, inputTokens: 7, tokensPerChunk: 4 });
  try {
    const res = await fetch(`${mock.url}/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse&key=${KEY}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'x' }] }] }),
    });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const text = await res.text();
    assert.ok(text.endsWith('\r\n\r\n'));
    assert.ok(!text.includes('[DONE]') && !text.includes('event:'));
    const events = text.split('\r\n\r\n').filter((e) => e !== '');
    assert.equal(events.length, 2); // 4 + 2 tokens
    const data = events.map((e) => {
      assert.ok(e.startsWith('data: '));
      return JSON.parse(e.slice(6)) as { usageMetadata: Record<string, unknown>; candidates: Array<Record<string, unknown>> };
    });
    assert.deepEqual(data[0]?.usageMetadata, {
      promptTokenCount: 7,
      candidatesTokenCount: 4,
      totalTokenCount: 11,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: 7 }],
    });
    assert.deepEqual(data[1]?.usageMetadata, {
      promptTokenCount: 7,
      candidatesTokenCount: 6,
      totalTokenCount: 13,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: 7 }],
      candidatesTokensDetails: [{ modality: 'TEXT', tokenCount: 6 }],
    });
    assert.equal(data[1]?.candidates[0]?.['finishReason'], 'STOP');
    assert.equal(mock.bills[0]?.apiKey, KEY);
    assert.equal(mock.bills[0]?.apiVersion, 'v1beta');

    // like the recorded basic stream: intermediate chunks report only the prompt
    mock.options = { ...mock.options, usageUpdates: 'final' };
    const chunks = await collect(
      await client(mock, 'v1beta').models.generateContentStream({ model: 'gemini-2.0-flash', contents: 'x' }),
    );
    assert.equal(chunks[0]?.usageMetadata?.candidatesTokenCount, undefined);
    assert.equal(chunks[0]?.usageMetadata?.totalTokenCount, 7);
    assert.equal(chunks.at(-1)?.usageMetadata?.candidatesTokenCount, 6);
    await mock.waitIdle();
    assert.equal(mock.bills[1]?.usage.candidatesTokenCount, 6);

    // without alt=sse: a JSON array
    const arr = await fetch(`${mock.url}/v1beta/models/gemini-2.0-flash:streamGenerateContent?key=${KEY}`, {
      method: 'POST',
      body: '{}',
    });
    const parsed = (await arr.json()) as unknown[];
    assert.equal(parsed.length, 2);
  } finally {
    await mock.close();
  }
});

void test('thinking: thoughtsTokenCount billed as output; thought summaries when includeThoughts', async () => {
  const mock = await startMockGemini({ outputTokens: 10, tokenIntervalMs: 0, inputTokens: 10, thinkingTokens: 540 });
  try {
    const ai = client(mock);
    const hidden = await collect(await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'why' }));
    assert.equal(hidden.length, 10);
    assert.equal(hidden[0]?.usageMetadata?.thoughtsTokenCount, 540);
    assert.equal(hidden.at(-1)?.usageMetadata?.totalTokenCount, 10 + 10 + 540);

    const shown = await collect(
      await ai.models.generateContentStream({
        model: 'gemini-2.5-flash',
        contents: 'why',
        config: { thinkingConfig: { includeThoughts: true } },
      }),
    );
    assert.equal(shown.length, 3 + 10);
    assert.deepEqual(
      shown.slice(0, 4).map((c) => c.usageMetadata?.thoughtsTokenCount),
      [180, 360, 540, 540],
    );
    assert.equal(shown[0]?.candidates?.[0]?.content?.parts?.[0]?.thought, true);
    assert.equal(shown[0]?.usageMetadata?.candidatesTokenCount, undefined);
    assert.equal(shown.at(-1)?.usageMetadata?.totalTokenCount, 560);
    await mock.waitIdle();
    for (const b of mock.bills) assert.deepEqual(b.usage, { promptTokenCount: 10, cachedContentTokenCount: 0, candidatesTokenCount: 10, thoughtsTokenCount: 540 });
    // $0.30 in / $2.50 out per Mtok: (10 × 0.3 + 550 × 2.5) n$ = 1378 n$ per request
    assert.equal(mock.billedNanos({ input: 300_000, cachedInput: 75_000, output: 2_500_000 }), 2 * 1378);
  } finally {
    await mock.close();
  }
});

void test('non-stream generateContent: usage, maxOutputTokens → MAX_TOKENS, deterministic text, function call', async () => {
  const mock = await startMockGemini({ outputTokens: 40, inputTokens: 12 });
  try {
    const ai = client(mock);
    const r = await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'hi' });
    assert.equal(r.candidates?.[0]?.finishReason, 'STOP');
    assert.equal(r.usageMetadata?.candidatesTokenCount, 40);
    assert.equal(r.usageMetadata?.totalTokenCount, 52);
    assert.ok((r.text ?? '').length > 40);
    const short = await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'hi', config: { maxOutputTokens: 5 } });
    assert.equal(short.candidates?.[0]?.finishReason, 'MAX_TOKENS');
    assert.equal(short.usageMetadata?.candidatesTokenCount, 5);
    await mock.waitIdle();
    assert.equal(mock.bills[0]?.usage.candidatesTokenCount, 40);
    assert.equal(mock.bills[1]?.usage.candidatesTokenCount, 5);
    assert.equal(mock.bills[0]?.stream, false);

    const again = await startMockGemini({ outputTokens: 40, inputTokens: 12 });
    try {
      const r2 = await client(again).models.generateContent({ model: 'gemini-2.5-pro', contents: 'hi' });
      assert.equal(r2.text, r.text);
    } finally {
      await again.close();
    }

    mock.options = { functionCall: { name: 'ls', args: { path: '/tmp' } }, tokenIntervalMs: 0 };
    const fc = await collect(await ai.models.generateContentStream({ model: 'gemini-2.5-pro', contents: 'ls' }));
    const call = only(fc).functionCalls?.[0];
    assert.equal(call?.name, 'ls');
    assert.deepEqual(call?.args, { path: '/tmp' });
  } finally {
    await mock.close();
  }
});

void test('abort mid-stream bills only written tokens; abort before first byte bills nothing', async () => {
  const mock = await startMockGemini({ outputTokens: 400, tokenIntervalMs: 1, inputTokens: 20 });
  try {
    const ai = client(mock);
    const ac = new AbortController();
    let seen = 0;
    await assert.rejects(async () => {
      const it = await ai.models.generateContentStream({
        model: 'gemini-2.5-flash',
        contents: 'write a lot',
        config: { abortSignal: ac.signal },
      });
      for await (const _c of it) {
        if (++seen === 10) ac.abort();
      }
    });
    await mock.waitIdle();
    const bill = only(mock.bills);
    assert.equal(bill.aborted, true);
    assert.equal(bill.complete, false);
    assert.equal(bill.finalized, true);
    assert.ok(bill.usage.candidatesTokenCount >= seen, `${bill.usage.candidatesTokenCount} >= ${seen}`);
    assert.ok(bill.usage.candidatesTokenCount < 400);
    assert.equal(bill.usage.promptTokenCount, 20);
    assert.equal(mock.openStreams, 0);
    const frozen = bill.usage.candidatesTokenCount;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(bill.usage.candidatesTokenCount, frozen);

    mock.options = { firstByteDelayMs: 200, thinkingTokens: 100 };
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 30);
    await assert.rejects(
      ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'x', config: { abortSignal: ac2.signal } }),
    );
    await mock.waitIdle();
    assert.deepEqual(mock.bills[1]?.usage, { promptTokenCount: 0, cachedContentTokenCount: 0, candidatesTokenCount: 0, thoughtsTokenCount: 0 });
  } finally {
    await mock.close();
  }
});

void test('errors: HTTP status in RPC shape; bad key; mid-stream error; clean close', async () => {
  const mock = await startMockGemini({ status: 429, errorHeaders: { 'retry-after': '30' } });
  try {
    const ai = client(mock);
    await assert.rejects(
      ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }),
      (e: unknown) => e instanceof ApiError && e.status === 429 && /RESOURCE_EXHAUSTED/.test(e.message),
    );
    const res = await fetch(`${mock.url}/v1beta/models/gemini-2.5-flash:generateContent`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '30');
    const body = (await res.json()) as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(body.error), ['code', 'message', 'status']);
    assert.equal(body.error['code'], 429);

    mock.options = { apiKey: 'other' };
    await assert.rejects(
      ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }),
      (e: unknown) => e instanceof ApiError && e.status === 400 && /API key not valid/.test(e.message),
    );

    mock.options = { tokenIntervalMs: 0, cut: { afterTokens: 5, code: 429, message: 'spend cap reached' } };
    let seen = 0;
    await assert.rejects(
      async () => {
        for await (const _c of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'x' })) seen++;
      },
      (e: unknown) => e instanceof ApiError && e.status === 429 && /spend cap reached/.test(e.message),
    );
    assert.equal(seen, 5);
    await mock.waitIdle();
    let bill = mock.bills.at(-1);
    assert.equal(bill?.errored, true);
    assert.equal(bill?.usage.candidatesTokenCount, 5);

    // a clean close without finishReason: the SDK ends quietly
    mock.options = { tokenIntervalMs: 0, cut: { afterTokens: 3, kind: 'close' } };
    const chunks = await collect(await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'x' }));
    assert.equal(chunks.length, 3);
    assert.equal(chunks.at(-1)?.candidates?.[0]?.finishReason, undefined);
    await mock.waitIdle();
    bill = mock.bills.at(-1);
    assert.equal(bill?.complete, false);
    assert.equal(bill?.aborted, false);
    assert.equal(bill?.usage.candidatesTokenCount, 3);

    const models = await fetch(`${mock.url}/v1beta/models`);
    assert.ok(((await models.json()) as { models: unknown[] }).models.length > 0);
  } finally {
    await mock.close();
  }
});

void test('hiddenThinkingTokensPerSecond: headers at once, thinking billed as time passes, a client that leaves pays the thinking so far', async () => {
  const mock = await startMockGemini({ outputTokens: 5, tokenIntervalMs: 0, thinkingTokens: 100_000, hiddenThinkingTokensPerSecond: 1000 });
  try {
    const abort = new AbortController();
    const res = await fetch(`${mock.url}/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: { 'x-goog-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
      signal: abort.signal,
    });
    assert.equal(res.status, 200, 'the stream opened before any chunk');
    await new Promise((r) => setTimeout(r, 300));
    const during = only(mock.bills).usage.thoughtsTokenCount;
    assert.ok(during > 100 && during < 100_000, `thinking accrues with time: ${during}`);
    abort.abort();
    await mock.waitIdle();
    const bill = only(mock.bills);
    assert.equal(bill.aborted, true);
    assert.ok(bill.usage.thoughtsTokenCount < 100_000 && bill.usage.candidatesTokenCount === 0);
  } finally {
    await mock.close();
  }
});
