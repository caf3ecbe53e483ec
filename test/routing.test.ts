// One spendcap, keys of several providers: the path names the protocol, the key names the provider,
// and a key never reaches a provider or protocol it was not made for.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic } from './helpers/mock-anthropic.js';
import { startMockOpenAI } from './helpers/mock-openai.js';
import type { MockOpenAI } from './helpers/mock-openai.js';
import { addKey, cli, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

describe('routing by path and key', () => {
  let anthropic: MockAnthropic;
  let openai: MockOpenAI;
  let sc: TestSpendcap;
  let antKey: string;
  let oaiKey: string;
  let routerKey: string;
  let geminiKey: string;
  before(async () => {
    anthropic = await startMockAnthropic({ outputTokens: 5, tokenIntervalMs: 0 });
    openai = await startMockOpenAI();
    sc = await startSpendcap(anthropic.url, { baseUrls: { openai: `${openai.url}/v1`, openrouter: `${openai.url}/api/v1` } });
    antKey = await addKey(sc.dataDir, 'ant', 5);
    oaiKey = await addKey(sc.dataDir, 'oai', 5, [], 'openai');
    routerKey = await addKey(sc.dataDir, 'router', 5, [], 'openrouter');
    geminiKey = await addKey(sc.dataDir, 'gem', 5, [], 'gemini');
  });
  after(async () => {
    await sc.close();
    await anthropic.close();
    await openai.close();
  });

  test('GET /v1/models goes to the key\'s provider with the provider key, never the spendcap key', async () => {
    const before = openai.requests.length;
    const r = await fetch(`${sc.url}/v1/models`, { headers: { authorization: `Bearer ${oaiKey}` } });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { object: string }).object, 'list');
    const seen = openai.requests.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers['authorization'], 'Bearer sk-test-openai-oai');
    assert.ok(!JSON.stringify(seen[0]!.headers).includes(oaiKey));
  });

  test('an OpenRouter key goes to the OpenRouter base URL (its /api/v1 path kept)', async () => {
    const before = openai.requests.length;
    const r = await fetch(`${sc.url}/openrouter/v1/models`, { headers: { authorization: `Bearer ${routerKey}` } });
    assert.equal(r.status, 200);
    const seen = openai.requests.slice(before);
    assert.equal(seen[0]!.url, '/api/v1/models');
    assert.equal(seen[0]!.headers['authorization'], 'Bearer sk-test-openrouter-router');
  });

  test('a key on another protocol than its provider speaks is refused in that protocol\'s shape, nothing sent', async () => {
    const before = anthropic.requests.length + openai.requests.length;
    const r = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': geminiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(r.status, 400);
    const body = (await r.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /key "gem" is a gemini key/);
    assert.equal(anthropic.requests.length + openai.requests.length, before);
  });

  test('an explicit prefix must match the key\'s provider', async () => {
    const r = await fetch(`${sc.url}/openrouter/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${oaiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(r.status, 400);
    const body = (await r.json()) as { error: { message: string; type: string } };
    assert.match(body.error.message, /"oai" is a openai key, but this request is for openrouter/);
  });

  test('an Anthropic key still works on its own paths', async () => {
    const r = await fetch(`${sc.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': antKey, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(r.status, 200);
  });

  test('unknown paths are 404 saying where to look; a missing key is 401', async () => {
    const r = await fetch(`${sc.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${oaiKey}` }, body: '{}' });
    assert.equal(r.status, 404);
    assert.match(((await r.json()) as { error: { message: string } }).error.message, /no route for POST \/v1\/embeddings/);
    const r2 = await fetch(`${sc.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    assert.equal(r2.status, 401);
    assert.match(((await r2.json()) as { error: { message: string } }).error.message, /no spendcap key/);
  });
});

test('key add: openai-compatible needs --base-url; the listing shows it', async () => {
  const sc = await startSpendcap(null);
  try {
    const bad = await cli(sc.dataDir, ['key', 'add', 'groq', '--provider', 'openai-compatible', '--provider-key', 'gsk-1', '--cap', '5']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--base-url is required/);
    const badUrl = await cli(sc.dataDir, ['key', 'add', 'groq', '--provider', 'openai-compatible', '--provider-key', 'gsk-1', '--cap', '5', '--base-url', 'ftp://x']);
    assert.equal(badUrl.code, 2);
    const ok = await cli(sc.dataDir, ['key', 'add', 'groq', '--provider', 'openai-compatible', '--provider-key', 'gsk-1', '--cap', '5', '--base-url', 'https://api.groq.com/openai/v1/']);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /OPENAI_BASE_URL=http:\/\/127\.0\.0\.1:8787\/v1/);
    const list = await cli(sc.dataDir, ['key', 'list', '--json']);
    const keys = JSON.parse(list.out) as { name: string; provider: string; baseUrl?: string }[];
    assert.deepEqual(keys.map((k) => [k.name, k.provider, k.baseUrl]), [['groq', 'openai-compatible', 'https://api.groq.com/openai/v1']]);
    const wrong = await cli(sc.dataDir, ['key', 'add', 'x', '--provider', 'azure', '--provider-key', 'k', '--cap', '5']);
    assert.match(wrong.err, /--provider must be one of anthropic, openai, gemini, openrouter, openai-compatible/);
  } finally {
    await sc.close();
  }
});
