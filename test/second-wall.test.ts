// End to end through a running spendcap: a key made by `provider-key` whose OpenRouter limit is used up
// (by spendcap or by the raw key used elsewhere) gets OpenRouter's refusal as a spendcap cap refusal,
// in the client's protocol, uncharged; OpenRouter rows keep the generation id reconcile looks up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeOpenRouter } from './helpers/fake-openrouter-admin.js';
import type { FakeOpenRouter } from './helpers/fake-openrouter-admin.js';
import { cli, ledgerRows, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

interface Row {
  requestId: string;
  keyName: string;
  outcome: string;
  costNanos: number;
  status: number | null;
}

const messages = [{ role: 'user', content: 'hi' }];

async function setUp(): Promise<{ fake: FakeOpenRouter; sc: TestSpendcap; token: string }> {
  const fake = await startFakeOpenRouter();
  const sc = await startSpendcap(null, { baseUrls: { openrouter: fake.base } });
  const env = { SPENDCAP_OPENROUTER_BASE_URL: fake.base };
  assert.equal((await cli(sc.dataDir, ['provider-admin', 'add', 'openrouter', '--management-key', fake.managementKey])).code, 0);
  const r = await cli(sc.dataDir, ['provider-key', 'openrouter', '1', '--reset', 'daily', '--name', 'router', '--json'], env);
  assert.equal(r.code, 0, r.err);
  return { fake, sc, token: (JSON.parse(r.out) as { token: string }).token };
}

function chat(sc: TestSpendcap, token: string, path: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${sc.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

test('past OpenRouter\'s key limit the client gets a spendcap cap refusal with the lift advice, and nothing is charged', async () => {
  const { fake, sc, token } = await setUp();
  try {
    const ok = await chat(sc, token, '/v1/chat/completions', { model: 'openai/gpt-4o-mini', messages });
    assert.equal(ok.status, 200);
    const okJson = (await ok.json()) as { id: string };
    const streamed = await chat(sc, token, '/v1/chat/completions', { model: 'openai/gpt-4o-mini', messages, stream: true });
    assert.match(await streamed.text(), /\[DONE\]/);
    let rows = await ledgerRows<Row>(sc);
    assert.deepEqual(rows.map((r) => r.requestId).sort(), [...fake.generations.keys()].sort(), 'rows keep the generation ids');
    assert.ok(rows.some((r) => r.requestId === okJson.id));

    // The raw OpenRouter key, used without spendcap, spends the rest of its limit.
    const orKey = [...fake.keys.values()][0]!;
    orKey.usage = orKey.limit!;
    for (const stream of [false, true]) {
      const r = await chat(sc, token, '/v1/chat/completions', { model: 'openai/gpt-4o-mini', messages, stream });
      assert.equal(r.status, 429);
      assert.equal(r.headers.get('x-should-retry'), 'false');
      const err = ((await r.json()) as { error: { type: string; code: string; message: string } }).error;
      assert.equal(err.type, 'insufficient_quota');
      assert.match(err.message, /^spendcap: key "router" reached its cap at the provider: .*\. Raise it: spendcap lift router --add 5$/);
    }
    // The Responses protocol, and OpenRouter's other refusal shape (403 "Key limit exceeded").
    fake.options.limitRefusal = '403';
    const resp = await chat(sc, token, '/v1/responses', { model: 'openai/gpt-4o-mini', input: 'hi' });
    assert.equal(resp.status, 429);
    assert.match(((await resp.json()) as { error: { message: string } }).error.message, /reached its cap at the provider/);

    rows = await ledgerRows<Row>(sc);
    const blocked = rows.filter((r) => r.outcome === 'blocked');
    assert.equal(blocked.length, 3);
    assert.ok(blocked.every((r) => r.costNanos === 0), 'a refusal is not charged');

    // An account-level 402 (out of credits) is not the key's cap: it passes through as OpenRouter said it.
    fake.options.creditsExhausted = true;
    const credits = await chat(sc, token, '/v1/chat/completions', { model: 'openai/gpt-4o-mini', messages });
    assert.equal(credits.status, 402);
    assert.match(((await credits.json()) as { error: { message: string } }).error.message, /Insufficient credits/);
  } finally {
    await sc.close();
    await fake.close();
  }
});
