// Issue 10's figures: how much of a small cap the provider may bill (never more than all of it),
// measured with the official SDKs against mocks that bill every token they write.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { GoogleGenAI } from '@google/genai';
import { startMockOpenAI } from './helpers/mock-openai.js';
import type { MockOpenAIPricePerMtok } from './helpers/mock-openai.js';
import { startMockGemini } from './helpers/mock-gemini.js';
import type { MockGeminiPricePerMtok } from './helpers/mock-gemini.js';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic, MockPricePerMtok } from './helpers/mock-anthropic.js';
import { addKey, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';
import { usdToNanos } from '../src/pricing/index.js';
import { whenExactTokenizerReady } from '../src/providers/openai/exact-tokens.js';

const MODEL = 'claude-sonnet-4-5';
const SONNET: MockPricePerMtok = { input: usdToNanos(3), output: usdToNanos(15), cacheRead: usdToNanos(0.3), cacheWrite5m: usdToNanos(3.75), cacheWrite1h: usdToNanos(6) };
/**
 * The share of a small cap the provider must have billed (the target is 0.90). What a loaded
 * machine takes away is what may be in flight: rate × (abort latency + the event loop's lag). The lag
 * margin (src/budgets/loop-lag.ts) is what keeps the bill under the cap when spendcap reads a remote
 * provider late (test/cap-starved.test.ts); these mocks share this process, so a stall stops them too
 * and here the margin is only held, never billed. Figures on this 2-core machine (see the FIGURE lines
 * and docs/how-caps-work.md): 0.90-0.91 idle in the four cases asserted at MIN_USE; at load 7-9
 * 0.79-0.91. bill ≤ cap is the hard assertion.
 */
const MIN_USE = 0.75;
/**
 * Gemini is on its meter's clock for the whole stream (it may think unseen at any moment): a cut is
 * charged the time since the last chunk at 1,000 tokens/s, and its hold the loop's lag at that rate.
 * The mock shares this process, so a stall of the event loop stops it while the clock counts the
 * stall as output it may have generated: 0.88-0.97 idle, down to 0.66 at load 7-9.
 */
const GEMINI_MIN_USE = 0.6;
const messages = [{ role: 'user' as const, content: 'Write a long essay about budgets.' }];

function client(sc: TestSpendcap, token: string, headers: Record<string, string> = {}): Anthropic {
  return new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0, defaultHeaders: headers });
}

describe('caps that use the whole budget (Anthropic)', () => {
  let mock: MockAnthropic;
  let sc: TestSpendcap;
  before(async () => {
    // 0.25 of the long words split: the mock then bills 1.17× the cl100k count of its text, as Claude's
    // tokenizer does on English (the factor 1.15 is sized for that); 0.16 billed only 1.11×.
    mock = await startMockAnthropic({ tokenIntervalMs: 1, outputTokens: 50, tokenizerInflation: 0.25 });
    sc = await startSpendcap(mock.url, { pollMs: 100 });
  });
  after(async () => {
    await sc.close();
    await mock.close();
  });

  test('one stream on a $0.01 cap, 2000 tokens wanted: the provider bills ≥ 75% of the cap (the target is 90%) and never more', async () => {
    const capUsd = 0.01;
    const token = await addKey(sc.dataDir, 'one', capUsd);
    mock.options = { ...mock.options, outputTokens: 2000, tokenIntervalMs: 1 };
    const first = mock.bills.length;
    await client(sc, token).messages.stream({ model: MODEL, max_tokens: 4096, messages }).finalMessage();
    await mock.waitIdle();
    const billed = mock.bills.slice(first).reduce((s, b) => s + Math.ceil((b.usage.input_tokens * SONNET.input + b.usage.output_tokens * SONNET.output) / 1e6), 0);
    const cap = usdToNanos(capUsd);
    const row = (await sc.server.store.ledger.page(1))[0]!;
    console.log(`# FIGURE cut row: charged/billed ${(row.costNanos / billed).toFixed(3)}, best estimate/billed ${((row.meteredCostNanos ?? 0) / billed).toFixed(3)}`);
    assert.equal(row.outcome, 'cut');
    assert.ok(row.costNanos >= billed, 'the charge counted against the cap covers the bill');
    const best = row.meteredCostNanos ?? Number.NaN;
    assert.ok(best <= row.costNanos, 'the best estimate sits beside the charge, below it');
    assert.ok(Math.abs(best - billed) / billed < 0.2, `best estimate ${best} n$ vs billed ${billed} n$`);
    console.log(`# FIGURE one-stream sonnet $0.01: billed/cap = ${(billed / cap).toFixed(3)} (${mock.bills[first]!.usage.output_tokens} output tokens)`);
    assert.ok(billed <= cap, `billed ${billed} n$ > cap ${cap} n$`);
    assert.ok(billed / cap >= MIN_USE, `billed only ${(billed / cap).toFixed(3)} of the cap`);
  });

  test('32 concurrent streams of 1000 tokens at 1 ms/token on $0.05: ≥ 75% billed (the target is 90%), never more; none refused while the cap has room', async () => {
    const capUsd = 0.05;
    const token = await addKey(sc.dataDir, 'swarm32', capUsd);
    mock.options = { ...mock.options, outputTokens: 1000, tokenIntervalMs: 1 };
    const first = mock.bills.length;
    await sc.server.bank.refresh();
    const key = sc.server.bank.keyByName('swarm32')!;
    let worst = 0;
    const sampler = setInterval(() => {
      worst = Math.max(worst, key.account.spentNanos + key.account.heldNanos);
    }, 2);
    const results = await Promise.allSettled(
      Array.from({ length: 32 }, (_, i) => client(sc, token, { 'x-spendcap-session': `s${i}` }).messages.stream({ model: MODEL, max_tokens: 4096, messages }).finalMessage()),
    );
    clearInterval(sampler);
    await mock.waitIdle();
    const bills = mock.bills.slice(first);
    const billed = bills.reduce((s, b) => s + Math.ceil((b.usage.input_tokens * SONNET.input + b.usage.output_tokens * SONNET.output) / 1e6), 0);
    const cap = usdToNanos(capUsd);
    const refused = results.filter((r) => r.status === 'rejected').length;
    console.log(`# FIGURE 32 streams sonnet $0.05: billed/cap = ${(billed / cap).toFixed(3)}; ${refused} refused; peak charged+held/cap ${(worst / cap).toFixed(3)}`);
    assert.ok(billed <= cap, `billed ${billed} n$ > cap ${cap} n$`);
    assert.ok(worst <= cap);
    assert.ok(billed / cap >= MIN_USE, `billed only ${(billed / cap).toFixed(3)} of the cap`);
    assert.equal(refused, 0, 'the cap had room for every prompt plus a few tokens');
  });
});

/** 16 concurrent streams of 1000 tokens at 1 ms/token on one $0.02 cap, through one protocol. */
async function swarm16(name: string, run: (i: number) => Promise<unknown>, billedNow: () => number, waitIdle: () => Promise<void>): Promise<{ use: number; refused: number }> {
  const capUsd = 0.02;
  const before = billedNow();
  const results = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => run(i)));
  await waitIdle();
  const billed = billedNow() - before;
  const cap = usdToNanos(capUsd);
  const refused = results.filter((r) => r.status === 'rejected').length;
  console.log(`# FIGURE 16 streams ${name} $0.02: billed/cap = ${(billed / cap).toFixed(3)}; ${refused} refused`);
  assert.ok(billed <= cap, `billed ${billed} n$ > cap ${cap} n$`);
  return { use: billed / cap, refused };
}

describe('16 concurrent streams per protocol on one $0.02 cap', () => {
  test('Chat Completions (gpt-4o) and Responses (gpt-5)', async () => {
    const mock = await startMockOpenAI({ outputTokens: 1000, tokenIntervalMs: 1 });
    const sc = await startSpendcap(null, { pollMs: 100, baseUrls: { openai: `${mock.url}/v1` } });
    try {
      const GPT_4O: MockOpenAIPricePerMtok = { input: usdToNanos(2.5), cachedInput: usdToNanos(1.25), output: usdToNanos(10) };
      const GPT_5: MockOpenAIPricePerMtok = { input: usdToNanos(1.25), cachedInput: usdToNanos(0.125), output: usdToNanos(10) };
      // A server that has served one OpenAI request has its tokenizer loaded (the very first ones use the byte rule).
      await whenExactTokenizerReady('gpt-4o');
      const chat = await addKey(sc.dataDir, 'chat16', 0.02, [], 'openai');
      const c = (token: string, i: number) => new OpenAI({ apiKey: token, baseURL: `${sc.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-spendcap-session': `s${i}` } });
      const chatRun = await swarm16('Chat Completions', (i) => c(chat, i).chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Write a long essay about budgets.' }] }).finalChatCompletion(), () => mock.billedNanos(GPT_4O), () => mock.waitIdle());
      assert.ok(chatRun.use >= MIN_USE, `Chat Completions billed only ${chatRun.use.toFixed(3)} of the cap`);
      assert.equal(chatRun.refused, 0, 'the cap had room for every prompt plus a few tokens');
      const resp = await addKey(sc.dataDir, 'resp16', 0.02, [], 'openai');
      // gpt-5 may reason unseen until its first item: that wait is held on the clock (500 tokens/s), and
      // dropped once the first item turns out to be the answer.
      const respRun = await swarm16('Responses', (i) => c(resp, i).responses.stream({ model: 'gpt-5', input: 'Write a long essay about budgets.' }).finalResponse(), () => mock.billedNanos(GPT_5), () => mock.waitIdle());
      assert.ok(respRun.use >= MIN_USE, `Responses billed only ${respRun.use.toFixed(3)} of the cap`);
      assert.equal(respRun.refused, 0, 'the cap had room for every prompt plus a few tokens');
    } finally {
      await sc.close();
      await mock.close();
    }
  });

  test('Gemini (gemini-2.5-flash)', async () => {
    const mock = await startMockGemini({ outputTokens: 1000, tokenIntervalMs: 1 });
    const sc = await startSpendcap(null, { pollMs: 100, baseUrls: { gemini: mock.url } });
    try {
      const FLASH: MockGeminiPricePerMtok = { input: usdToNanos(0.3), cachedInput: usdToNanos(0.03), output: usdToNanos(2.5) };
      const token = await addKey(sc.dataDir, 'gem16', 0.02, [], 'gemini');
      const drain = async (i: number) => {
        const g = new GoogleGenAI({ apiKey: token, httpOptions: { baseUrl: sc.url, headers: { 'x-spendcap-session': `s${i}` } } });
        for await (const _ of await g.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'Write a long essay about budgets.' })) void _;
      };
      // Gemini 2.5 may think unseen at any moment (and before its first chunk): see GEMINI_MIN_USE.
      const gem = await swarm16('Gemini', drain, () => mock.billedNanos(FLASH), () => mock.waitIdle());
      assert.ok(gem.use >= GEMINI_MIN_USE, `Gemini billed only ${gem.use.toFixed(3)} of the cap`);
      assert.equal(gem.refused, 0, 'the cap had room for every prompt plus a few tokens');
    } finally {
      await sc.close();
      await mock.close();
    }
  });
});

describe('admission hold on a 10-turn Claude Code-like session with prompt caching', () => {
  // Turns append a tool call and its result (code, JSON, base64, hashes, CJK, emoji) to a large system
  // prompt and tools; the mock reports the previous turn's prompt as a cache read and the rest as a write.
  const SYSTEM = Array.from({ length: 300 }, (_, i) => `Rule ${i}: keep edits small; run \`npm test\` before committing; never print secrets. {"tool":"Bash","n":${i}}`).join('\n');
  const TOOLS = Array.from({ length: 12 }, (_, i) => ({ name: `tool_${i}`, description: `Does thing ${i} to the repository, carefully.`, input_schema: { type: 'object', properties: { path: { type: 'string' }, n: { type: 'number' } } } }));
  const RESULTS = [
    'export function add(a: number, b: number): number {\n  return a + b;\n}\n'.repeat(20),
    JSON.stringify({ files: Array.from({ length: 40 }, (_, i) => ({ name: `src/f${i}.ts`, size: i * 97 })) }),
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='.repeat(8),
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n'.repeat(10),
    '予算の上限に達しました。ストリームを切断します。'.repeat(10),
    '🙂🚀✨ done 👍🏽 '.repeat(20),
  ];
  type Msg = Anthropic.MessageParam;
  function turnMessages(turn: number): Msg[] {
    const messages: Msg[] = [{ role: 'user', content: 'Fix the failing test in src/f3.ts.' }];
    for (let t = 0; t < turn; t++) {
      messages.push({ role: 'assistant', content: [{ type: 'tool_use', id: `toolu_${t}`, name: 'tool_1', input: { path: `src/f${t}.ts` } }] });
      messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_${t}`, content: RESULTS[t % RESULTS.length]!, cache_control: { type: 'ephemeral' } }] });
    }
    return messages;
  }

  test('turns 2-10 hold at most 1.15× the real prompt in tokens; the money held is priced as the worst case, a cache write', async () => {
    const mock = await startMockAnthropic({ tokenIntervalMs: 0, outputTokens: 20 });
    const sc = await startSpendcap(mock.url, { pollMs: 100 });
    try {
      const token = await addKey(sc.dataDir, 'cc10', 100);
      await sc.server.bank.refresh();
      const key = sc.server.bank.keyByName('cc10')!;
      const heldAtArrival: number[] = [];
      let prevTotal = 0;
      mock.options = {
        ...mock.options,
        perRequest: (req) => {
          heldAtArrival.push(key.account.heldNanos);
          // What Anthropic bills: the body's text (the mock's 4 bytes a token) and the tool-use system prompt it adds (346 tokens on Claude 4).
          const total = Math.ceil(Buffer.byteLength(req.body) / 4) + 346;
          const read = Math.min(prevTotal, total);
          prevTotal = total;
          return { inputTokens: 8, cache: { read: Math.max(0, read - 8), write5m: total - read } };
        },
      };
      const c = client(sc, token, { 'x-claude-code-session-id': 'cc-session-1' });
      // The admission hold is the prompt at the cache-write rate plus the first output step (8 + 256 tokens at $15/Mtok).
      const outputPart = (8 + 256) * 15_000;
      const tokenRatios: number[] = [];
      const moneyRatios: number[] = [];
      for (let turn = 0; turn < 10; turn++) {
        const first = mock.bills.length;
        await c.messages
          .stream({ model: MODEL, max_tokens: 32_000, system: [{ type: 'text', text: SYSTEM, cache_control: { type: 'ephemeral' } }], tools: TOOLS as Anthropic.Tool[], messages: turnMessages(turn) })
          .finalMessage();
        const u = mock.bills[first]!.usage;
        const realTokens = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_5m;
        const realCost = Math.ceil((u.input_tokens * SONNET.input + u.cache_read_input_tokens * SONNET.cacheRead + u.cache_creation_5m * SONNET.cacheWrite5m) / 1e6);
        const heldInput = heldAtArrival[turn]! - outputPart;
        const heldTokens = heldInput / 3750;
        tokenRatios.push(heldTokens / realTokens);
        moneyRatios.push(heldInput / realCost);
        assert.ok(heldTokens >= realTokens, `turn ${turn + 1}: held ${heldTokens} tokens < real ${realTokens}`);
        assert.ok(heldInput >= realCost, `turn ${turn + 1}: the hold does not cover the prompt's cost`);
      }
      const warm = tokenRatios.slice(1);
      console.log(`# FIGURE 10-turn cached session: estimate/real tokens cold ${tokenRatios[0]!.toFixed(3)}, turns 2-10 ${Math.min(...warm).toFixed(3)}-${Math.max(...warm).toFixed(3)}`);
      console.log(`# FIGURE 10-turn cached session: admission hold/real input cost cold ${moneyRatios[0]!.toFixed(2)}, turns 2-10 ${Math.min(...moneyRatios.slice(1)).toFixed(2)}-${Math.max(...moneyRatios.slice(1)).toFixed(2)} (until message_start; then exact)`);
      assert.ok(tokenRatios[0]! <= 1.6, `cold estimate ${tokenRatios[0]!.toFixed(3)}× the real prompt`);
      assert.ok(Math.max(...warm) <= 1.15, `warm estimate ${Math.max(...warm).toFixed(3)}× the real prompt`);
    } finally {
      await sc.close();
      await mock.close();
    }
  });
});
