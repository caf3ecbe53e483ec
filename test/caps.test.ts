// The core promise: in hard mode what the provider bills never passes the cap, also with many
// concurrent streams; refusals come before the provider is called; cuts end streams well-formed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic, MockPricePerMtok } from './helpers/mock-anthropic.js';
import { addKey, budgetStatus, cli, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';
import { CUT_STOP_REASON } from '../src/providers/anthropic/index.js';

const MODEL = 'claude-sonnet-4-5';
const SONNET: MockPricePerMtok = { input: 3_000_000_000, output: 15_000_000_000, cacheRead: 300_000_000, cacheWrite5m: 3_750_000_000, cacheWrite1h: 6_000_000_000 };
const messages = [{ role: 'user' as const, content: 'Write a long essay about budgets.' }];

function client(sc: TestSpendcap, token: string, headers: Record<string, string> = {}): Anthropic {
  return new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 2, defaultHeaders: headers });
}

function textOf(msg: Anthropic.Message): string {
  return msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

describe('hard caps', () => {
  let mock: MockAnthropic;
  let sc: TestSpendcap;
  before(async () => {
    // The mock bills like Claude's tokenizer up to 4.6 (about 16% more tokens than cl100k on English).
    mock = await startMockAnthropic({ tokenIntervalMs: 1, outputTokens: 50, tokenizerInflation: 0.16 });
    sc = await startSpendcap(mock.url, { pollMs: 100 });
  });
  after(async () => {
    await sc.close();
    await mock.close();
  });

  test('a request that does not fit is blocked before the provider: 429, rate_limit_error, x-should-retry: false, a message that says what to do', async () => {
    const token = await addKey(sc.dataDir, 'tiny', 0.0001);
    const sent = mock.requests.length;
    let attempts = 0;
    const c = new Anthropic({
      apiKey: token,
      baseURL: sc.url,
      maxRetries: 2,
      fetch: async (url, init) => {
        attempts++;
        return fetch(url, init);
      },
    });
    await assert.rejects(c.messages.create({ model: MODEL, max_tokens: 100, messages, stream: true }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.RateLimitError);
      assert.equal(err.headers?.get('x-should-retry'), 'false');
      assert.equal(err.headers?.get('retry-after'), null);
      assert.equal((err.error as { error: { type: string } }).error.type, 'rate_limit_error');
      const message = (err.error as { error: { message: string } }).error.message;
      assert.match(message, /^spendcap: key "tiny" reached its cap: spent \$0\.00 of \$0\.0001 \(day, resets \d{4}-\d\d-\d\d \d\d:\d\d UTC\); this request needs up to \$0\.\d+ to start\. Raise it: spendcap lift tiny --add 5$/);
      return true;
    });
    assert.equal(attempts, 1, 'the SDK does not retry');
    assert.equal(mock.requests.length, sent, 'nothing was sent upstream');
    const log = JSON.parse((await cli(sc.dataDir, ['log', '--json', '--limit', '1'])).out) as Array<{ outcome: string; keyName: string }>;
    assert.deepEqual([log[0]!.outcome, log[0]!.keyName], ['blocked', 'tiny']);
  });

  test('a stream that reaches the cap is cut well-formed: finalMessage() resolves, the user reads why, the provider billed no more than the cap', async () => {
    const token = await addKey(sc.dataDir, 'cut', 0.05);
    // 1 ms a token: faster than any real model. The in-flight margin follows the stream's own rate, so a
    // mock with no pause at all is covered by the safety bound (test/tokenizer-factor-cap.test.ts), not by
    // how much of the cap it uses.
    mock.options = { ...mock.options, outputTokens: 20_000, tokenIntervalMs: 1 };
    const first = mock.bills.length;
    const msg = await client(sc, token).messages.stream({ model: MODEL, max_tokens: 8000, messages }).finalMessage();
    assert.equal(msg.stop_reason, CUT_STOP_REASON);
    assert.match(textOf(msg), /spendcap: key "cut" reached its cap/);
    assert.ok(msg.usage.output_tokens > 100, 'the cap was used, not refused up front');
    await mock.waitIdle();
    const bill = mock.bills[first]!;
    assert.equal(bill.aborted, true, 'the provider stream was aborted');
    const billed = Math.ceil((bill.usage.input_tokens * SONNET.input + bill.usage.output_tokens * SONNET.output) / 1e6);
    assert.ok(billed <= 50_000_000, `billed ${billed} n$ > cap`);
    assert.ok(billed >= 40_000_000, `billed only ${billed} n$ of a 50_000_000 n$ cap`);
    const s = await budgetStatus(sc, 'cut');
    assert.ok(s.spentUsd * 1e9 >= billed, 'the charge covers what the provider billed');
    assert.ok(s.spentUsd <= s.capUsd);
    assert.equal(s.heldUsd, 0);
    // the next request is refused without reaching the provider
    const sent = mock.requests.length;
    await assert.rejects(client(sc, token).messages.create({ model: MODEL, max_tokens: 100, messages }), Anthropic.RateLimitError);
    assert.equal(mock.requests.length, sent);
  });

  test('a cut inside a tool call still resolves finalMessage()', async () => {
    const token = await addKey(sc.dataDir, 'tool', 0.004);
    mock.options = { ...mock.options, outputTokens: 50, tokenIntervalMs: 0, toolUse: { name: 'Bash', input: { command: 'echo ' + 'word '.repeat(2000) } } };
    const msg = await client(sc, token)
      .messages.stream({ model: MODEL, max_tokens: 8000, messages, tools: [{ name: 'Bash', input_schema: { type: 'object', properties: { command: { type: 'string' } } } }] })
      .finalMessage();
    assert.equal(msg.stop_reason, CUT_STOP_REASON);
    assert.match(textOf(msg), /reached its cap/);
    mock.options = { ...mock.options, toolUse: false };
    await mock.waitIdle();
  });

  test('32 concurrent streams on one small cap: the provider bills ≤ cap and ≥ 80% of it; charged + held never passes the cap', async () => {
    const capUsd = 1.5;
    const token = await addKey(sc.dataDir, 'swarm', capUsd);
    mock.options = { ...mock.options, outputTokens: 20_000, tokenIntervalMs: 1 };
    const first = mock.bills.length;
    await sc.server.bank.refresh();
    const key = sc.server.bank.keyByName('swarm')!;
    let worst = 0;
    const sampler = setInterval(() => {
      worst = Math.max(worst, key.account.spentNanos + key.account.heldNanos);
    }, 5);
    const results = await Promise.allSettled(
      Array.from({ length: 32 }, (_, i) => client(sc, token, { 'x-spendcap-session': `s${i}` }).messages.stream({ model: MODEL, max_tokens: 30_000, messages }).finalMessage()),
    );
    clearInterval(sampler);
    await mock.waitIdle();
    const bills = mock.bills.slice(first);
    let billed = 0;
    for (const b of bills) billed += Math.ceil((b.usage.input_tokens * SONNET.input + b.usage.output_tokens * SONNET.output) / 1e6);
    const cap = capUsd * 1e9;
    const ratio = billed / cap;
    console.log(`# 32 streams: billed ${billed} n$ of cap ${cap} n$ = ${(ratio * 100).toFixed(1)}%; ${results.filter((r) => r.status === 'fulfilled').length} finalMessage() resolved; peak charged+held ${worst}`);
    assert.ok(billed <= cap, `provider billed ${billed} n$ > cap ${cap} n$`);
    assert.ok(ratio >= 0.8, `only ${(ratio * 100).toFixed(1)}% of the cap was usable`);
    assert.ok(worst <= cap, `charged + held reached ${worst} > ${cap}`);
    const s = await budgetStatus(sc, 'swarm');
    assert.ok(s.spentUsd <= capUsd && s.spentUsd * 1e9 >= billed, `charged ${s.spentUsd} must cover billed ${billed / 1e9} and stay ≤ cap`);
    for (const r of results) {
      if (r.status === 'rejected') assert.ok(r.reason instanceof Anthropic.RateLimitError, `only cap refusals may fail: ${String(r.reason)}`);
      else assert.equal(r.value.stop_reason, CUT_STOP_REASON);
    }
  });

  test('summarized thinking (billed but not streamed) is bounded by the clock: the provider bills no more than the cap', async () => {
    const token = await addKey(sc.dataDir, 'thinker', 0.01);
    // 25 hidden thinking tokens behind each visible delta every 100 ms: about 260 tokens/s, as fast as Claude thinks.
    mock.options = { ...mock.options, thinking: true, thinkingTokens: 200, hiddenThinkingPerDelta: 25, tokenIntervalMs: 100, outputTokens: 20 };
    const first = mock.bills.length;
    const msg = await client(sc, token).messages.stream({ model: MODEL, max_tokens: 20_000, messages, thinking: { type: 'enabled', budget_tokens: 10_000 } }).finalMessage();
    mock.options = { ...mock.options, thinking: false, hiddenThinkingPerDelta: 0, tokenIntervalMs: 1 };
    assert.equal(msg.stop_reason, CUT_STOP_REASON);
    assert.ok(msg.content.some((b) => b.type === 'thinking'));
    assert.match(textOf(msg), /reached its cap/);
    await mock.waitIdle();
    const bill = mock.bills[first]!;
    const billed = Math.ceil((bill.usage.input_tokens * SONNET.input + bill.usage.output_tokens * SONNET.output) / 1e6);
    assert.ok(bill.usage.output_tokens > 100, 'thinking ran for a while before the cut');
    assert.ok(billed <= 10_000_000, `provider billed ${billed} n$ > cap 10_000_000 n$`);
  });

  test('session caps: each session gets its own cap on top of the key cap', async () => {
    const token = await addKey(sc.dataDir, 'sessions', 5, ['--session-cap', '0.005']);
    mock.options = { ...mock.options, outputTokens: 5000, tokenIntervalMs: 0 };
    const a = await client(sc, token, { 'x-claude-code-session-id': 'A' }).messages.stream({ model: MODEL, max_tokens: 8000, messages }).finalMessage();
    assert.equal(a.stop_reason, CUT_STOP_REASON);
    assert.match(textOf(a), /session A of key "sessions"/);
    await assert.rejects(client(sc, token, { 'x-claude-code-session-id': 'A' }).messages.create({ model: MODEL, max_tokens: 10, messages }), Anthropic.RateLimitError);
    mock.options = { ...mock.options, outputTokens: 20 };
    const b = await client(sc, token, { 'x-claude-code-session-id': 'B' }).messages.create({ model: MODEL, max_tokens: 50, messages });
    assert.equal(b.stop_reason, 'end_turn');
    await mock.waitIdle();
  });

  test('kill cuts an open stream within 1 s and blocks the next request; lift re-opens it', async () => {
    const token = await addKey(sc.dataDir, 'killme', 5);
    mock.options = { ...mock.options, outputTokens: 100_000, tokenIntervalMs: 2 };
    const stream = client(sc, token).messages.stream({ model: MODEL, max_tokens: 100_000, messages });
    await new Promise<void>((resolve) => stream.once('text', () => resolve()));
    const killedAt = Date.now();
    assert.equal((await cli(sc.dataDir, ['kill', 'killme'])).code, 0);
    const msg = await stream.finalMessage();
    const took = Date.now() - killedAt;
    assert.ok(took < 1000, `the stream ended ${took} ms after kill`);
    assert.equal(msg.stop_reason, CUT_STOP_REASON);
    assert.match(textOf(msg), /was killed/);
    await assert.rejects(client(sc, token).messages.create({ model: MODEL, max_tokens: 10, messages }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.RateLimitError);
      assert.match(err.message, /spendcap unkill killme/);
      return true;
    });
    assert.equal((await cli(sc.dataDir, ['lift', 'killme', '--add', '5'])).code, 0);
    mock.options = { ...mock.options, outputTokens: 10, tokenIntervalMs: 0 };
    const ok = await client(sc, token).messages.create({ model: MODEL, max_tokens: 50, messages });
    assert.equal(ok.stop_reason, 'end_turn');
    await mock.waitIdle();
  });
});
