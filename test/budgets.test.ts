// Scopes beyond keys, driven through the real server with the Anthropic SDK: a global budget caps
// every key together, a tag budget holds only requests that name it in a header, the default session
// cap, soft mode with its threshold events, and free models passing spent budgets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic, MockPricePerMtok } from './helpers/mock-anthropic.js';
import { addKey, cli, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';
import { CUT_STOP_REASON } from '../src/providers/anthropic/index.js';

const MODEL = 'claude-sonnet-4-5';
const SONNET: MockPricePerMtok = { input: 3_000_000_000, output: 15_000_000_000, cacheRead: 300_000_000, cacheWrite5m: 3_750_000_000, cacheWrite1h: 6_000_000_000 };
const messages = [{ role: 'user' as const, content: 'Write a long essay about budgets.' }];

const client = (sc: TestSpendcap, token: string, headers: Record<string, string> = {}) => new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0, defaultHeaders: headers });

interface StatusJson {
  name: string;
  scope: string;
  capUsd: number;
  spentUsd: number;
  heldUsd: number;
  mode: string;
  clamp: boolean;
  thresholdFired: number;
  effectiveSessionCapUsd: number | null;
  resets: string;
  sessions: Array<{ session: string; capUsd: number }>;
}
interface EventJson {
  kind: string;
  budget: string | null;
  channel: string;
  capBeforeUsd: number | null;
  capAfterUsd: number | null;
  detail: string | null;
}

async function status(sc: TestSpendcap, name: string): Promise<StatusJson> {
  return (JSON.parse((await cli(sc.dataDir, ['status', '--json'])).out) as StatusJson[]).find((b) => b.name === name)!;
}
async function events(sc: TestSpendcap, budget: string): Promise<EventJson[]> {
  return JSON.parse((await cli(sc.dataDir, ['events', '--json', '--budget', budget, '--limit', '100'])).out) as EventJson[];
}
const billOf = (u: { input_tokens: number; output_tokens: number }) => Math.ceil((u.input_tokens * SONNET.input + u.output_tokens * SONNET.output) / 1e6);
const textOf = (msg: Anthropic.Message) => msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('');

describe('budget scopes through the proxy', () => {
  let mock: MockAnthropic;
  let sc: TestSpendcap;
  before(async () => {
    mock = await startMockAnthropic({ tokenIntervalMs: 0, outputTokens: 20, tokenizerInflation: 0.16 });
    sc = await startSpendcap(mock.url, { pollMs: 100 });
  });
  after(async () => {
    await sc.close();
    await mock.close();
  });

  test('the admin token is created at start: one line, owner-only', () => {
    const path = join(sc.dataDir, 'admin-token');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.match(readFileSync(path, 'utf8'), /^[A-Za-z0-9_-]{43}\n$/);
  });

  test('a tag budget holds only the requests that name it (x-spendcap-budget or X-Budget-Id); an unknown name is refused before the provider', async () => {
    const token = await addKey(sc.dataDir, 'tagger', 10);
    assert.equal((await cli(sc.dataDir, ['budget', 'add', 'proj', '--scope', 'tag', '--cap', '5'])).code, 0);
    await client(sc, token, { 'x-spendcap-budget': 'proj' }).messages.create({ model: MODEL, max_tokens: 50, messages });
    const afterOne = (await status(sc, 'proj')).spentUsd;
    assert.ok(afterOne > 0, 'the tagged request is charged to the tag budget');
    await client(sc, token, { 'X-Budget-Id': 'proj' }).messages.create({ model: MODEL, max_tokens: 50, messages });
    const forwarded = mock.requests[mock.requests.length - 1]!.headers;
    assert.equal(forwarded['x-budget-id'], undefined, 'X-Budget-Id is spendcap\'s header: not forwarded');
    assert.equal(forwarded['x-spendcap-budget'], undefined);
    const afterTwo = (await status(sc, 'proj')).spentUsd;
    assert.ok(afterTwo > afterOne, 'X-Budget-Id counts too');
    await client(sc, token).messages.create({ model: MODEL, max_tokens: 50, messages });
    assert.equal((await status(sc, 'proj')).spentUsd, afterTwo, 'an untagged request does not touch it');
    assert.ok((await status(sc, 'tagger')).spentUsd > afterTwo, 'the key budget counts every request');
    const rows = JSON.parse((await cli(sc.dataDir, ['log', '--json', '--limit', '3'])).out) as Array<{ tag: string | null }>;
    assert.deepEqual(rows.map((r) => r.tag), [null, 'proj', 'proj']);

    const sent = mock.requests.length;
    await assert.rejects(client(sc, token, { 'x-spendcap-budget': 'nope' }).messages.create({ model: MODEL, max_tokens: 50, messages }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError);
      assert.match(err.message, /no budget named "nope".*spendcap budget add nope --scope tag/);
      return true;
    });
    assert.equal(mock.requests.length, sent, 'nothing went upstream');
  });

  test('a tag budget at its cap cuts the stream and blocks its requests, while the same key without the header still works', async () => {
    const token = await addKey(sc.dataDir, 'tagcut', 10);
    await cli(sc.dataDir, ['budget', 'add', 'small-tag', '--scope', 'tag', '--cap', '0.02']);
    mock.options = { ...mock.options, outputTokens: 20_000 };
    const first = mock.bills.length;
    const msg = await client(sc, token, { 'x-spendcap-budget': 'small-tag' }).messages.stream({ model: MODEL, max_tokens: 8000, messages }).finalMessage();
    assert.equal(msg.stop_reason, CUT_STOP_REASON);
    assert.match(textOf(msg), /budget "small-tag" reached its cap/);
    await mock.waitIdle();
    assert.ok(billOf(mock.bills[first]!.usage) <= 20_000_000);
    mock.options = { ...mock.options, outputTokens: 20 };
    await assert.rejects(client(sc, token, { 'x-spendcap-budget': 'small-tag' }).messages.create({ model: MODEL, max_tokens: 50, messages }), Anthropic.RateLimitError);
    const ok = await client(sc, token).messages.create({ model: MODEL, max_tokens: 50, messages });
    assert.equal(ok.stop_reason, 'end_turn');
    const ev = await events(sc, 'small-tag');
    assert.ok(ev.some((e) => e.kind === 'cut' && e.channel === 'auto'), 'the cut is in the event log');
    assert.ok(ev.some((e) => e.kind === 'block' && e.channel === 'auto'), 'the block is in the event log');
  });

  test('a global budget caps all keys together: 12 concurrent streams from 3 keys, the provider bills ≤ the global cap', async () => {
    const tokens = await Promise.all(['g1', 'g2', 'g3'].map((n) => addKey(sc.dataDir, n, 50)));
    // The global budget counts everything spent today through this proxy, earlier tests included: $0.60 on top of that.
    const already = (JSON.parse((await cli(sc.dataDir, ['status', '--json'])).out) as StatusJson[]).filter((b) => b.scope === 'key').reduce((s, b) => s + Math.round(b.spentUsd * 1e9), 0);
    const capUsd = (already + 600_000_000) / 1e9;
    assert.equal((await cli(sc.dataDir, ['budget', 'add', 'everything', '--scope', 'global', '--cap', String(capUsd)])).code, 0);
    mock.options = { ...mock.options, outputTokens: 20_000, tokenIntervalMs: 1 };
    const first = mock.bills.length;
    await sc.server.bank.refresh();
    const account = sc.server.bank.sharedAccount('everything')!;
    const base = account.spentNanos;
    let worst = 0;
    const sampler = setInterval(() => (worst = Math.max(worst, account.spentNanos + account.heldNanos)), 5);
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => client(sc, tokens[i % 3]!).messages.stream({ model: MODEL, max_tokens: 30_000, messages }).finalMessage()));
    clearInterval(sampler);
    await mock.waitIdle();
    let billed = 0;
    for (const b of mock.bills.slice(first)) billed += billOf(b.usage);
    const cap = Math.round(capUsd * 1e9);
    const room = cap - base;
    console.log(`# global budget, 12 streams over 3 keys: billed ${billed} n$ of the ${room} n$ left = ${((billed / room) * 100).toFixed(1)}%; peak charged+held ${worst} of cap ${cap}`);
    assert.equal(base, already);
    assert.ok(billed <= room, `billed ${billed} > room ${room} under the global cap`);
    assert.ok(billed >= 0.7 * room, `only ${billed} of ${room} was usable`);
    assert.ok(worst <= cap);
    for (const r of results) if (r.status === 'fulfilled') assert.equal(r.value.stop_reason, CUT_STOP_REASON);
    const s = await status(sc, 'everything');
    assert.ok(s.spentUsd * 1e9 >= base + billed && s.spentUsd <= capUsd + 1e-9);
    // Every key is now refused by the global budget, whatever its own room.
    mock.options = { ...mock.options, outputTokens: 20, tokenIntervalMs: 0 };
    await assert.rejects(client(sc, tokens[0]!).messages.create({ model: MODEL, max_tokens: 50, messages }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.RateLimitError);
      assert.match(err.message, /budget "everything" reached its cap.*spendcap lift everything/);
      return true;
    });
  });

  test('models that cost nothing are never blocked by a spent budget; a kill still stops them', async () => {
    // The global budget of the previous test is spent; this key's own cap is $0.
    const token = await addKey(sc.dataDir, 'freebie', 0);
    assert.equal((await cli(sc.dataDir, ['price', 'set', 'local-free', '--input', '0', '--output', '0'])).code, 0);
    const sent = mock.requests.length;
    const msg = await client(sc, token).messages.create({ model: 'local-free', max_tokens: 50, messages });
    assert.equal(msg.stop_reason, 'end_turn');
    const streamed = await client(sc, token).messages.stream({ model: 'local-free', max_tokens: 50, messages }).finalMessage();
    assert.equal(streamed.stop_reason, 'end_turn');
    assert.equal(mock.requests.length, sent + 2);
    await assert.rejects(client(sc, token).messages.create({ model: MODEL, max_tokens: 50, messages }), Anthropic.RateLimitError);
    await cli(sc.dataDir, ['kill', 'freebie']);
    await assert.rejects(client(sc, token).messages.create({ model: 'local-free', max_tokens: 50, messages }), Anthropic.RateLimitError);
    assert.equal((await cli(sc.dataDir, ['budget', 'rm', 'everything'])).code, 0);
  });

  test('the default session cap applies to every key without its own', async () => {
    assert.equal((await cli(sc.dataDir, ['settings', '--default-session-cap', '0.005'])).code, 0);
    const token = await addKey(sc.dataDir, 'sess-default', 5);
    mock.options = { ...mock.options, outputTokens: 5000 };
    const a = await client(sc, token, { 'x-spendcap-session': 'S1' }).messages.stream({ model: MODEL, max_tokens: 8000, messages }).finalMessage();
    assert.equal(a.stop_reason, CUT_STOP_REASON);
    assert.match(textOf(a), /session S1 of key "sess-default"/);
    mock.options = { ...mock.options, outputTokens: 20 };
    const b = await client(sc, token, { 'x-spendcap-session': 'S2' }).messages.create({ model: MODEL, max_tokens: 50, messages });
    assert.equal(b.stop_reason, 'end_turn');
    const s = await status(sc, 'sess-default');
    assert.equal(s.effectiveSessionCapUsd, 0.005);
    assert.deepEqual(s.sessions.map((x) => [x.session, x.capUsd]).sort(), [['S1', 0.005], ['S2', 0.005]]);
    await cli(sc.dataDir, ['settings', '--default-session-cap', 'none']);
    await mock.waitIdle();
  });

  test('soft mode: requests pass the cap and are charged; thresholds fire once each, no block or cut', async () => {
    const token = await addKey(sc.dataDir, 'softie', 0.001, ['--mode', 'soft']);
    mock.options = { ...mock.options, outputTokens: 200 };
    for (let i = 0; i < 4; i++) {
      const m = await client(sc, token).messages.stream({ model: MODEL, max_tokens: 1000, messages }).finalMessage();
      assert.equal(m.stop_reason, 'end_turn', 'a soft budget never cuts');
    }
    await client(sc, token).messages.create({ model: MODEL, max_tokens: 1000, messages });
    const s = await status(sc, 'softie');
    assert.ok(s.spentUsd > 0.001 * 3, `charged past the cap: ${s.spentUsd}`);
    assert.equal(s.mode, 'soft');
    assert.equal(s.thresholdFired, 100);
    const ev = await events(sc, 'softie');
    const thresholds = ev.filter((e) => e.kind === 'threshold');
    // One request passed all three at once: each fires once, and later requests fire nothing more.
    assert.deepEqual(thresholds.map((e) => [e.channel, Number(/reached (\d+)%/.exec(e.detail!)![1])]), [['auto', 100], ['auto', 80], ['auto', 50]]);
    assert.ok(!ev.some((e) => e.kind === 'block' || e.kind === 'cut'));
    mock.options = { ...mock.options, outputTokens: 20 };
  });

  test('thresholds 50/80/100 fire once each as spend crosses them', async () => {
    const token = await addKey(sc.dataDir, 'stepper', 0.05);
    mock.options = { ...mock.options, outputTokens: 400 };
    // Each request costs about $0.006: 7 of them pass 50% and 80%, and stop before 100%.
    for (let i = 0; i < 7; i++) await client(sc, token).messages.stream({ model: MODEL, max_tokens: 1000, messages }).finalMessage();
    const pct = ((await status(sc, 'stepper')).spentUsd / 0.05) * 100;
    const fired = (await events(sc, 'stepper')).filter((e) => e.kind === 'threshold').map((e) => Number(/reached (\d+)%/.exec(e.detail!)![1]));
    const expected = [50, 80, 100].filter((t) => pct >= t);
    assert.deepEqual(fired.sort((a, b) => a - b), expected, `spent ${pct.toFixed(1)}%`);
    assert.ok(expected.length >= 2);
    mock.options = { ...mock.options, outputTokens: 20 };
  });
});
