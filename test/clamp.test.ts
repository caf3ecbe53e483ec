// The max_tokens clamp: a budget made with --clamp lowers the output limit of a request it cannot
// pay for whole, so the provider ends the answer itself, instead of refusing it or cutting it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic, MockPricePerMtok } from './helpers/mock-anthropic.js';
import { addKey, cli, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

const SONNET: MockPricePerMtok = { input: 3_000_000_000, output: 15_000_000_000, cacheRead: 300_000_000, cacheWrite5m: 3_750_000_000, cacheWrite1h: 6_000_000_000 };
const messages = [{ role: 'user' as const, content: 'Write a long essay about spend caps.' }];

describe('max_tokens clamp', () => {
  let mock: MockAnthropic;
  let sc: TestSpendcap;
  before(async () => {
    // Answers as long as max_tokens allows.
    mock = await startMockAnthropic({ outputTokens: 100_000, tokenIntervalMs: 0 });
    sc = await startSpendcap(mock.url);
  });
  after(async () => {
    await sc.close();
    await mock.close();
  });

  test('a non-stream request the budget cannot pay for whole is lowered, answered, and stays within the cap', async () => {
    // $0.10 buys about 6,600 output tokens at $15/Mtok: max_tokens 16,000 would be refused without the clamp.
    const token = await addKey(sc.dataDir, 'clamped', 0.1, ['--clamp']);
    const client = new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0 });
    const before = mock.requests.length;
    const { data, response } = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 16_000, messages }).withResponse();
    const clamped = Number(response.headers.get('x-spendcap-clamped-max-tokens'));
    assert.ok(clamped > 1000 && clamped < 6_700, `clamped to ${clamped}`);
    const sent = JSON.parse(mock.requests[before]!.body) as { max_tokens: number };
    assert.equal(sent.max_tokens, clamped, 'the provider got the lowered limit');
    assert.equal(data.stop_reason, 'max_tokens', 'the provider ended the answer itself');
    assert.equal(data.usage.output_tokens, clamped);
    assert.ok(mock.billedNanos(SONNET) <= 100_000_000, `billed ${mock.billedNanos(SONNET)} n$ on a $0.10 cap`);
  });

  test('the same request on a budget without --clamp is refused before the provider', async () => {
    const token = await addKey(sc.dataDir, 'plain', 0.1);
    const client = new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0 });
    const before = mock.requests.length;
    await assert.rejects(client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 16_000, messages }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.RateLimitError);
      return true;
    });
    assert.equal(mock.requests.length, before);
  });

  test('a stream on a clamped budget ends by itself (max_tokens), not by a cut', async () => {
    const token = await addKey(sc.dataDir, 'streamer', 0.05, ['--clamp']);
    const client = new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0 });
    const billedBefore = mock.billedNanos(SONNET);
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 32_000, messages });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'max_tokens');
    const log = JSON.parse((await cli(sc.dataDir, ['log', '--json', '--limit', '1'])).out) as { outcome: string; keyName: string }[];
    assert.equal(log[0]!.keyName, 'streamer');
    assert.equal(log[0]!.outcome, 'ok');
    assert.ok(mock.billedNanos(SONNET) - billedBefore <= 50_000_000);
  });

  test('a request that fits is not touched', async () => {
    const token = await addKey(sc.dataDir, 'roomy', 10, ['--clamp']);
    const client = new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0 });
    const before = mock.requests.length;
    const { response } = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 300, messages }).withResponse();
    assert.equal(response.headers.get('x-spendcap-clamped-max-tokens'), null);
    assert.equal((JSON.parse(mock.requests[before]!.body) as { max_tokens: number }).max_tokens, 300);
  });
});
