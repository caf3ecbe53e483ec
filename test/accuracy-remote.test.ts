// Issue 10's swarm cases as a user runs them: `spendcap start` in its own process, each provider mock
// in its own process (it keeps writing, and billing, at its own pace whatever spendcap does), the
// official SDKs in this one. Nothing stops the provider while spendcap is busy, as in
// test/accuracy.test.ts where the mocks share the test's event loop: here what spendcap has not read
// yet is billed all the same, and the bill must still stay under the cap.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { GoogleGenAI } from '@google/genai';
import { startMockAnthropicProcess, startMockGeminiProcess, startMockOpenAIProcess } from './helpers/mock-process.js';
import type { MockProcess } from './helpers/mock-process.js';
import type { MockBill } from './helpers/mock-anthropic.js';
import type { MockOpenAIBill } from './helpers/mock-openai.js';
import type { MockGeminiBill } from './helpers/mock-gemini.js';
import { addKey, startSpendcapProcess, tempDataDir } from './helpers/spendcap.js';
import type { SpendcapProcess } from './helpers/spendcap.js';
import { usdToNanos } from '../src/pricing/index.js';

/**
 * The share of the cap the provider must bill. Idle on this 2-core VM (2026-12-03, evening): Anthropic 1 stream
 * 0.92, 32 streams 0.91-0.92, Chat 0.92-0.94, Responses 0.91-0.92, Gemini 0.98; a fresh instance's first burst
 * 0.74-0.92 over 8 runs (its abort-latency floor is a burst's time to headers, kept long by its own cold
 * admissions); a loaded machine holds more ahead for the loop's lag. The hard assertion is bill ≤ cap.
 */
const MIN_USE = 0.7;
const PROMPT = 'Write a long essay about budgets.';

/** Prices per Mtok in n$: [input, cached input, output]. */
type Prices = readonly [number, number, number];
const SONNET: Prices = [usdToNanos(3), usdToNanos(0.3), usdToNanos(15)];
const GPT_4O: Prices = [usdToNanos(2.5), usdToNanos(1.25), usdToNanos(10)];
const GPT_5: Prices = [usdToNanos(1.25), usdToNanos(0.125), usdToNanos(10)];
const FLASH: Prices = [usdToNanos(0.3), usdToNanos(0.03), usdToNanos(2.5)];

/** One request's bill in n$, rounded up as the mocks do: (uncached, cached, output) tokens. */
const cost = (p: Prices, uncached: number, cached: number, output: number): number => Math.ceil((uncached * p[0] + cached * p[1] + output * p[2]) / 1e6);
const anthropicBill = (b: MockBill): number => cost(SONNET, b.usage.input_tokens, b.usage.cache_read_input_tokens, b.usage.output_tokens);
const openaiBill = (p: Prices) => (b: MockOpenAIBill) => cost(p, b.usage.input_tokens - b.usage.cached_tokens, b.usage.cached_tokens, b.usage.output_tokens);
const geminiBill = (b: MockGeminiBill): number => cost(FLASH, b.usage.promptTokenCount - b.usage.cachedContentTokenCount, b.usage.cachedContentTokenCount, b.usage.candidatesTokenCount + b.usage.thoughtsTokenCount);

/** Runs `count` streams at once on a fresh key with `capUsd`; the provider's bill for them against the cap. */
async function swarm<Bill>(opts: { name: string; mock: MockProcess<Bill>; bill: (b: Bill) => number; capUsd: number; count: number; run: (i: number) => Promise<unknown> }): Promise<void> {
  await opts.mock.waitIdle();
  const first = (await opts.mock.bills()).length;
  const results = await Promise.allSettled(Array.from({ length: opts.count }, (_, i) => opts.run(i)));
  await opts.mock.waitIdle();
  const bills = (await opts.mock.bills()).slice(first);
  const billed = bills.reduce((s, b) => s + opts.bill(b), 0);
  const cap = usdToNanos(opts.capUsd);
  const refused = results.filter((r) => r.status === 'rejected').length;
  console.log(`# FIGURE out-of-process ${opts.count} streams ${opts.name} $${opts.capUsd}: billed/cap = ${(billed / cap).toFixed(3)}; ${refused} refused`);
  assert.ok(billed <= cap, `the provider billed ${billed} n$ > cap ${cap} n$ (${(billed / cap).toFixed(3)})`);
  assert.ok(billed / cap >= MIN_USE, `billed only ${(billed / cap).toFixed(3)} of the cap`);
  // Refusals are reported, not asserted here: on a loaded machine the lag margin held ahead of the
  // first streams can fill a $0.02 cap before the last of 16 is admitted (test/accuracy.test.ts
  // asserts none on an idle loop). Every stream admitted or not, the bill stays under the cap.
}

describe("a fresh spendcap's first burst: no request before it, keys added while it runs", () => {
  let anthropic: MockProcess<MockBill>;
  let openai: MockProcess<MockOpenAIBill>;
  const dirs: string[] = [];
  const servers: SpendcapProcess[] = [];
  /** A new `spendcap start` (its own data dir) with a key of `capUsd` added after it started. */
  const fresh = async (provider: string, capUsd: number): Promise<{ server: SpendcapProcess; token: string }> => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const server = await startSpendcapProcess(dataDir, { SPENDCAP_ANTHROPIC_BASE_URL: anthropic.url, SPENDCAP_OPENAI_BASE_URL: `${openai.url}/v1` }, ['--quiet']);
    servers.push(server);
    return { server, token: await addKey(dataDir, 'first', capUsd, [], provider) };
  };

  before(async () => {
    anthropic = await startMockAnthropicProcess({ tokenIntervalMs: 1, outputTokens: 1000, tokenizerInflation: 0.25 });
    openai = await startMockOpenAIProcess({ tokenIntervalMs: 1, outputTokens: 1000 });
  });
  after(async () => {
    for (const s of servers) {
      s.proc.kill('SIGTERM');
      await new Promise((r) => s.proc.once('exit', r));
    }
    await Promise.all([anthropic.close(), openai.close()]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('16 Responses streams on $0.02: the bill stays under the cap while the exact tokenizer loads', async () => {
    // The tokenizer's load stalls the loop ~100 ms: it fell inside these streams, and they were billed 1.07-1.27 of the cap.
    const { server, token } = await fresh('openai', 0.02);
    const gpt = new OpenAI({ apiKey: token, baseURL: `${server.url}/v1`, maxRetries: 0 });
    await swarm({ name: 'fresh Responses (gpt-5)', mock: openai, bill: openaiBill(GPT_5), capUsd: 0.02, count: 16, run: () => gpt.responses.stream({ model: 'gpt-5', input: PROMPT }).finalResponse() });
  });

  test('32 Anthropic streams on $0.05', async () => {
    const { server, token } = await fresh('anthropic', 0.05);
    const run = (i: number) => new Anthropic({ apiKey: token, baseURL: server.url, maxRetries: 0, defaultHeaders: { 'x-spendcap-session': `s${i}` } }).messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 4096, messages: [{ role: 'user', content: PROMPT }] }).finalMessage();
    await swarm({ name: 'fresh Anthropic (sonnet)', mock: anthropic, bill: anthropicBill, capUsd: 0.05, count: 32, run });
  });
});

describe('swarms on small caps with spendcap and the providers in their own processes', () => {
  let anthropic: MockProcess<MockBill>;
  let openai: MockProcess<MockOpenAIBill>;
  let gemini: MockProcess<MockGeminiBill>;
  let server: SpendcapProcess;
  const dataDir = tempDataDir();
  const key = async (name: string, capUsd: number, provider: string): Promise<string> => addKey(dataDir, name, capUsd, [], provider);
  const claude = (token: string, i: number) => new Anthropic({ apiKey: token, baseURL: server.url, maxRetries: 0, defaultHeaders: { 'x-spendcap-session': `s${i}` } }).messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 4096, messages: [{ role: 'user', content: PROMPT }] }).finalMessage();
  const gpt = (token: string, i: number) => new OpenAI({ apiKey: token, baseURL: `${server.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-spendcap-session': `s${i}` } });
  const chat = (token: string, i: number) => gpt(token, i).chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: PROMPT }] }).finalChatCompletion();
  const responses = (token: string, i: number) => gpt(token, i).responses.stream({ model: 'gpt-5', input: PROMPT }).finalResponse();
  const flash = async (token: string, i: number) => {
    const g = new GoogleGenAI({ apiKey: token, httpOptions: { baseUrl: server.url, headers: { 'x-spendcap-session': `s${i}` } } });
    for await (const _ of await g.models.generateContentStream({ model: 'gemini-2.5-flash', contents: PROMPT })) void _;
  };

  before(async () => {
    // Claude-like tokenizer inflation (the mock bills 1.17× its cl100k count), 1 token/ms.
    anthropic = await startMockAnthropicProcess({ tokenIntervalMs: 1, outputTokens: 1000, tokenizerInflation: 0.25 });
    openai = await startMockOpenAIProcess({ tokenIntervalMs: 1, outputTokens: 1000 });
    gemini = await startMockGeminiProcess({ tokenIntervalMs: 1, outputTokens: 1000 });
    server = await startSpendcapProcess(dataDir, { SPENDCAP_ANTHROPIC_BASE_URL: anthropic.url, SPENDCAP_OPENAI_BASE_URL: `${openai.url}/v1`, SPENDCAP_GEMINI_BASE_URL: gemini.url }, ['--quiet']);
    // One request per upstream first, on other keys: spendcap knows each upstream's round trip and
    // stream rate, as a server that has been running does.
    await claude(await key('warm-anthropic', 1, 'anthropic'), 0);
    await chat(await key('warm-openai', 1, 'openai'), 0);
    await flash(await key('warm-gemini', 1, 'gemini'), 0);
  });
  after(async () => {
    server.proc.kill('SIGTERM');
    await new Promise((r) => server.proc.once('exit', r));
    await Promise.all([anthropic.close(), openai.close(), gemini.close()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('one Anthropic stream on $0.01 (the mock would write 1000 tokens, $0.015): the provider bills at most the cap', async () => {
    const token = await key('remote1', 0.01, 'anthropic');
    await swarm({ name: 'Anthropic (sonnet)', mock: anthropic, bill: anthropicBill, capUsd: 0.01, count: 1, run: (i) => claude(token, i) });
  });

  test('32 Anthropic streams of 1000 tokens on $0.05: the provider bills at most the cap', async () => {
    const token = await key('remote32', 0.05, 'anthropic');
    await swarm({ name: 'Anthropic (sonnet)', mock: anthropic, bill: anthropicBill, capUsd: 0.05, count: 32, run: (i) => claude(token, i) });
  });

  test('16 Chat Completions streams on $0.02', async () => {
    const token = await key('remote-chat', 0.02, 'openai');
    await swarm({ name: 'Chat Completions (gpt-4o)', mock: openai, bill: openaiBill(GPT_4O), capUsd: 0.02, count: 16, run: (i) => chat(token, i) });
  });

  test('16 Responses streams on $0.02', async () => {
    const token = await key('remote-responses', 0.02, 'openai');
    await swarm({ name: 'Responses (gpt-5)', mock: openai, bill: openaiBill(GPT_5), capUsd: 0.02, count: 16, run: (i) => responses(token, i) });
  });

  test('16 Gemini streams on $0.02', async () => {
    const token = await key('remote-gemini', 0.02, 'gemini');
    await swarm({ name: 'Gemini (2.5 flash)', mock: gemini, bill: geminiBill, capUsd: 0.02, count: 16, run: (i) => flash(token, i) });
  });
});
