// Hardening: a capped key reaches nothing but metered or free calls, and no client or provider
// reply can take the proxy down or bill the wrong amount. Each test reproduces one problem
// against a misbehaving raw upstream (test/helpers/raw-upstream.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRawUpstream, rawRequest } from './helpers/raw-upstream.js';
import type { RawUpstream } from './helpers/raw-upstream.js';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { startServer } from '../src/server/server.js';
import { sentNothing } from '../src/proxy/relay.js';
import type { ServerOptions } from '../src/server/server.js';
import { addKey, ledgerRows, startSpendcap, tempDataDir } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

describe('pass-through is an allowlist of exact paths', () => {
  let up: RawUpstream;
  let sc: TestSpendcap;
  let ant: string;
  let oai: string;
  let gem: string;
  before(async () => {
    up = await startRawUpstream((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"data":[]}');
    });
    sc = await startSpendcap(up.url, { baseUrls: { openai: `${up.url}/v1`, gemini: up.url } });
    ant = await addKey(sc.dataDir, 'ant', 1);
    oai = await addKey(sc.dataDir, 'oai', 1, [], 'openai');
    gem = await addKey(sc.dataDir, 'gem', 1, [], 'gemini');
  });
  after(async () => {
    await sc.close();
    await up.close();
  });

  const hostile = [
    '/v1/models/../../files',
    '/v1/models/..%2f..%2ffiles',
    '/v1/models/%2e%2e/files',
    '/v1/models/..%5cfiles',
    '/v1/models/a\\..\\files',
    '/v1/models/..',
    '/v1/models/claude-sonnet-4-5/../../files',
    '/v1/models/x/y',
    '/v1/files',
    '/v1/batches/abc/results',
    '/anthropic/v1/models/../../files',
  ];

  test('dot segments, encoded slashes, backslashes and other endpoints get a 404 in the key\'s provider shape; nothing is forwarded', async () => {
    for (const path of hostile) {
      const before = up.seen.length;
      const r = await rawRequest(sc.url, 'GET', path, { 'x-api-key': ant });
      assert.equal(r.status, 404, path);
      assert.equal((JSON.parse(r.body) as { type: string }).type, 'error', path);
      assert.equal(up.seen.length, before, `${path} reached the provider`);
      const o = await rawRequest(sc.url, 'GET', path.replace('/anthropic', ''), { authorization: `Bearer ${oai}` });
      assert.equal(o.status, 404, path);
      assert.equal((JSON.parse(o.body) as { error: { code: string } }).error.code, 'not_found', path);
      assert.equal(up.seen.length, before, `${path} reached the provider`);
    }
    // A Gemini action with a hostile model name is no route either.
    const g = await rawRequest(sc.url, 'POST', '/v1beta/models/..%2f..%2ffiles:countTokens', { 'x-goog-api-key': gem, 'content-type': 'application/json' }, '{}');
    assert.equal(g.status, 404);
    assert.equal((JSON.parse(g.body) as { error: { status: string } }).error.status, 'NOT_FOUND');
    // /v1beta is Gemini's alone.
    const v1beta = await rawRequest(sc.url, 'GET', '/v1beta/models', { authorization: `Bearer ${oai}` });
    assert.equal(v1beta.status, 404);
    assert.equal(up.seen.length, 0);
  });

  test('the model list and one model by a well-formed id still pass, with the provider key', async () => {
    const cases: [string, Record<string, string>, string, string][] = [
      ['/v1/models', { 'x-api-key': ant }, '/v1/models', 'x-api-key'],
      ['/v1/models/claude-sonnet-4-5-20250929', { 'x-api-key': ant }, '/v1/models/claude-sonnet-4-5-20250929', 'x-api-key'],
      ['/v1/models/ft:gpt-4o-mini:acme:custom:abc123', { authorization: `Bearer ${oai}` }, '/v1/models/ft:gpt-4o-mini:acme:custom:abc123', 'authorization'],
      ['/v1beta/models/gemini-2.5-flash?pageSize=5', { 'x-goog-api-key': gem }, '/v1beta/models/gemini-2.5-flash?pageSize=5', 'x-goog-api-key'],
    ];
    for (const [path, headers, upstreamPath, authHeader] of cases) {
      const before = up.seen.length;
      const r = await rawRequest(sc.url, 'GET', path, headers);
      assert.equal(r.status, 200, path);
      const seen = up.seen.slice(before);
      assert.equal(seen.length, 1, path);
      assert.equal(seen[0]!.url, upstreamPath);
      assert.match(String(seen[0]!.headers[authHeader]), /sk-test-/);
    }
  });
});

/** A whole Messages reply with the given usage (raw, so a test can send what no real provider would). */
export function anthropicMessage(usage: Record<string, unknown>): string {
  return JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn', usage });
}

const MESSAGES_BODY = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });

describe('headers forwarded upstream are an allowlist', () => {
  let up: RawUpstream;
  let sc: TestSpendcap;
  let ant: string;
  let oai: string;
  before(async () => {
    up = await startRawUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url === '/v1/messages' ? anthropicMessage({ input_tokens: 10, output_tokens: 5 }) : '{"data":[]}');
    });
    sc = await startSpendcap(up.url, { baseUrls: { openai: `${up.url}/v1` } });
    ant = await addKey(sc.dataDir, 'ant', 1);
    oai = await addKey(sc.dataDir, 'oai', 1, [], 'openai');
  });
  after(async () => {
    await sc.close();
    await up.close();
  });

  const hostileHeaders = { cookie: 'spendcap_session=secret', 'x-forwarded-for': '10.0.0.1', 'x-spendcap-session': 's1', 'x-internal-token': 'abc', referer: 'http://127.0.0.1:8787/dashboard', origin: 'http://evil.test' };

  test('Cookie and unknown headers are dropped; versions, betas and the SDK\'s own headers pass', async () => {
    const r = await rawRequest(sc.url, 'POST', '/v1/messages', {
      'x-api-key': ant,
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'interleaved-thinking-2025-05-14',
      'x-stainless-retry-count': '0',
      'user-agent': 'claude-cli/2.1.197 (external, sdk-cli)',
      'x-app': 'cli',
      ...hostileHeaders,
    }, MESSAGES_BODY);
    assert.equal(r.status, 200, r.body);
    const h = up.seen.at(-1)!.headers;
    assert.equal(h['anthropic-version'], '2023-06-01');
    assert.equal(h['anthropic-beta'], 'interleaved-thinking-2025-05-14');
    assert.equal(h['x-stainless-retry-count'], '0');
    assert.equal(h['user-agent'], 'claude-cli/2.1.197 (external, sdk-cli)');
    assert.equal(h['x-app'], 'cli');
    assert.equal(h['x-api-key'], 'sk-test-anthropic-ant');
    for (const name of Object.keys(hostileHeaders)) assert.equal(h[name], undefined, `${name} reached the provider`);

    await rawRequest(sc.url, 'GET', '/v1/models', { authorization: `Bearer ${oai}`, 'openai-organization': 'org-1', 'anthropic-version': '2023-06-01', ...hostileHeaders });
    const o = up.seen.at(-1)!.headers;
    assert.equal(o['openai-organization'], 'org-1');
    assert.equal(o['anthropic-version'], undefined, 'another protocol\'s header is not forwarded');
    for (const name of Object.keys(hostileHeaders)) assert.equal(o[name], undefined, `${name} reached the provider`);
  });
});

describe('the terminal log', () => {
  let up: RawUpstream;
  let sc: TestSpendcap;
  let gem: string;
  let ant: string;
  before(async () => {
    up = await startRawUpstream((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(anthropicMessage({ input_tokens: 10, output_tokens: 5 }));
    });
    sc = await startSpendcap(up.url, { baseUrls: { gemini: up.url } });
    gem = await addKey(sc.dataDir, 'gem', 1, [], 'gemini');
    ant = await addKey(sc.dataDir, 'ant', 1);
  });
  after(async () => {
    await sc.close();
    await up.close();
  });

  test('an internal error on a Gemini ?key= request logs no key', async () => {
    const { request } = await import('node:http');
    const u = new URL(sc.url);
    // The client promises a body, sends part of it and goes away: reading the body fails inside the handler.
    await new Promise<void>((resolve) => {
      const req = request({ host: u.hostname, port: u.port, method: 'POST', path: `/v1beta/models/gemini-2.5-flash:generateContent?alt=sse&key=${gem}`, headers: { 'content-type': 'application/json', 'content-length': '1000' } });
      req.on('error', () => resolve());
      req.write('{"contents":');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    await waitFor(() => sc.log.some((l) => l.includes('internal error')));
    const line = sc.log.find((l) => l.includes('internal error'))!;
    assert.ok(!line.includes(gem), line);
    assert.ok(!sc.log.some((l) => l.includes(gem.slice(3))));
  });

  test('a model name with a newline and ANSI escapes stays on one escaped line', async () => {
    const model = 'claude-sonnet-4-5@x\nok admin claude-opus-4 $0.000000\u001b[2K\u001b[1A';
    const before = sc.log.length;
    const r = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': ant, 'content-type': 'application/json' }, JSON.stringify({ model, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }));
    assert.equal(r.status, 200, r.body);
    const lines = sc.log.slice(before);
    assert.ok(lines.length >= 1);
    for (const l of lines) {
      assert.ok(!/[\n\r\u001b]/.test(l), JSON.stringify(l));
    }
    assert.ok(lines.some((l) => l.includes('\\n') && l.includes('\\u001b[2K')), JSON.stringify(lines));
  });
});

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A spendcap with server options the shared helper does not take (timeouts). */
async function startWith(upstreamUrl: string, extra: Partial<ServerOptions>): Promise<TestSpendcap> {
  const dataDir = tempDataDir();
  const log: string[] = [];
  const nowhere = 'http://127.0.0.1:9';
  const server = await startServer({ dataDir, port: 0, baseUrls: { anthropic: upstreamUrl, openai: nowhere, openrouter: nowhere, gemini: nowhere }, log: (l) => log.push(l), ...extra });
  return {
    dataDir,
    server,
    url: server.url,
    log,
    close: async () => {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe('slow clients', () => {
  let up: RawUpstream;
  let sc: TestSpendcap;
  let ant: string;
  before(async () => {
    up = await startRawUpstream((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(anthropicMessage({ input_tokens: 10, output_tokens: 5 }));
    });
    sc = await startWith(up.url, { timeouts: { headersMs: 1000, requestMs: 2000 } });
    ant = await addKey(sc.dataDir, 'ant', 1);
  });
  after(async () => {
    await sc.close();
    await up.close();
  });

  test('a slowloris of 300 sockets neither stops other clients nor keeps its sockets', async () => {
    const u = new URL(sc.url);
    const closed: boolean[] = [];
    const sockets: Socket[] = [];
    const drip: NodeJS.Timeout[] = [];
    for (let i = 0; i < 300; i++) {
      const s = connect(Number(u.port), u.hostname);
      const at = closed.push(false) - 1;
      s.on('close', () => (closed[at] = true));
      s.on('error', () => {});
      // Half dribble their headers a byte at a time; half finish them and dribble a body that never ends.
      const headers = i % 2 === 0 ? 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nX-A' : `POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: ${ant}\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{`;
      s.write(headers);
      drip.push(setInterval(() => s.writable && s.write(i % 2 === 0 ? 'a' : ' '), 200));
      sockets.push(s);
    }
    try {
      const t0 = Date.now();
      const health = await fetch(`${sc.url}/healthz`);
      assert.equal(health.status, 200);
      const r = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': ant, 'content-type': 'application/json' }, MESSAGES_BODY);
      assert.equal(r.status, 200);
      assert.ok(Date.now() - t0 < 3000, `other clients waited ${Date.now() - t0} ms`);
      await waitFor(() => closed.every(Boolean), 6000);
    } finally {
      for (const t of drip) clearInterval(t);
      for (const s of sockets) s.destroy();
    }
  });

  test('a stream that keeps sending bytes outlives every timeout', async () => {
    up.handler = (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const events = [
        'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}\n\n',
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
      ];
      res.write(events.join(''));
      let n = 0;
      const t = setInterval(() => {
        if (++n <= 12) {
          res.write('event: ping\ndata: {"type":"ping"}\n\n');
          return;
        }
        clearInterval(t);
        res.end('event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\nevent: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n');
      }, 250);
    };
    const t0 = Date.now();
    const r = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': ant, 'content-type': 'application/json' }, JSON.stringify({ ...JSON.parse(MESSAGES_BODY), stream: true }));
    assert.equal(r.status, 200);
    assert.ok(Date.now() - t0 > 2500, 'the stream ran past the request timeout');
    assert.match(r.body, /message_stop/);
  });
});

describe('backpressure', () => {
  let up: RawUpstream;
  let sc: TestSpendcap;
  let ant: string;
  let accepted = 0;
  before(async () => {
    up = await startRawUpstream();
    sc = await startSpendcap(up.url);
    ant = await addKey(sc.dataDir, 'ant', 1);
  });
  after(async () => {
    await sc.close();
    await up.close();
  });

  test('a client reading 1 KB/s makes the provider wait: spendcap does not buffer the stream', async (t) => {
    const total = 96 * 1024 * 1024;
    const pad = `: ${'x'.repeat(8 * 1024)}\n\n`;
    up.handler = async (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"usage":{"input_tokens":10,"output_tokens":1}}}\n\n');
      // The provider writes as fast as spendcap reads: what it got rid of is what spendcap took in.
      while (accepted < total && !res.destroyed) {
        accepted += pad.length;
        if (!res.write(pad)) await new Promise<void>((resolve) => {
          res.once('drain', resolve);
          res.once('close', resolve);
        });
      }
      res.end();
    };
    const u = new URL(sc.url);
    const s = connect(Number(u.port), u.hostname);
    s.on('error', () => {});
    const body = JSON.stringify({ ...JSON.parse(MESSAGES_BODY), stream: true });
    s.write(`POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: ${ant}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    s.pause();
    const rssBefore = process.memoryUsage().rss;
    let read = 0;
    const reader = setInterval(() => {
      const c = s.read(100) as Buffer | null;
      if (c) read += c.length;
    }, 100);
    try {
      await new Promise((r) => setTimeout(r, 4000));
      const rssGrowth = process.memoryUsage().rss - rssBefore;
      t.diagnostic(`after 4 s: client read ${read} B, provider sent ${(accepted / 1048576).toFixed(1)} MB, rss +${(rssGrowth / 1048576).toFixed(1)} MB`);
      assert.ok(read < 16 * 1024, `the client read ${read} bytes`);
      // Kernel socket buffers on loopback hold a few MB each way; without backpressure all 96 MB is read at once.
      assert.ok(accepted < 32 * 1024 * 1024, `the provider got rid of ${(accepted / 1048576).toFixed(1)} MB`);
      assert.ok(rssGrowth < 64 * 1024 * 1024, `memory grew ${(rssGrowth / 1048576).toFixed(1)} MB`);
    } finally {
      clearInterval(reader);
      s.destroy();
    }
  });
});

/** An Anthropic stream that ends with the given final usage. */
function anthropicStream(finalUsage: Record<string, unknown>, startUsage: Record<string, unknown> = { input_tokens: 10, output_tokens: 1 }): string {
  const ev = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  return [
    ev('message_start', { type: 'message_start', message: { id: 'm', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], usage: startUsage } }),
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hello' } }),
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: finalUsage }),
    ev('message_stop', { type: 'message_stop' }),
  ].join('');
}

interface Row {
  keyName: string;
  costUsd: number;
  outcome: string;
  usageSource: string;
  detail: string | null;
}

describe('untrusted provider usage', () => {
  let up: RawUpstream;
  let sc: TestSpendcap;
  let ant: string;
  let oai: string;
  let gem: string;
  let reply: { type: string; body: string };
  before(async () => {
    up = await startRawUpstream((_q, res) => {
      res.writeHead(200, { 'content-type': reply.type });
      res.end(reply.body);
    });
    sc = await startSpendcap(up.url, { baseUrls: { openai: `${up.url}/v1`, gemini: up.url } });
    ant = await addKey(sc.dataDir, 'ant', 0.05);
    oai = await addKey(sc.dataDir, 'oai', 0.05, [], 'openai');
    gem = await addKey(sc.dataDir, 'gem', 0.05, [], 'gemini');
  });
  after(async () => {
    await sc.close();
    await up.close();
  });

  const streamBody = JSON.stringify({ ...JSON.parse(MESSAGES_BODY), stream: true });
  const chatBody = JSON.stringify({ model: 'gpt-4o', stream: true, max_completion_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
  const geminiBody = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }], generationConfig: { maxOutputTokens: 100 } });
  const chatStream = (usage: Record<string, unknown>): string =>
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o', choices: [{ index: 0, delta: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] })}\n\ndata: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'gpt-4o', choices: [], usage })}\n\ndata: [DONE]\n\n`;
  const geminiStream = (usageMetadata: Record<string, unknown>): string =>
    `data: ${JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }] }, finishReason: 'STOP', index: 0 }], usageMetadata, modelVersion: 'gemini-2.5-flash' })}\n\n`;

  const cases: { name: string; key: () => string; header: string; path: string; body: string; reply: { type: string; body: string } }[] = [
    { name: 'Anthropic negative', key: () => ant, header: 'x-api-key', path: '/v1/messages', body: streamBody, reply: { type: 'text/event-stream', body: anthropicStream({ output_tokens: -3 }) } },
    { name: 'Anthropic fractional', key: () => ant, header: 'x-api-key', path: '/v1/messages', body: streamBody, reply: { type: 'text/event-stream', body: anthropicStream({ output_tokens: 2.5, input_tokens: 0.5 }) } },
    { name: 'Chat fractional', key: () => oai, header: 'authorization', path: '/v1/chat/completions', body: chatBody, reply: { type: 'text/event-stream', body: chatStream({ prompt_tokens: 10.5, completion_tokens: 3 }) } },
    { name: 'Chat 2^53', key: () => oai, header: 'authorization', path: '/v1/chat/completions', body: chatBody, reply: { type: 'text/event-stream', body: chatStream({ prompt_tokens: 10, completion_tokens: 2 ** 53 }) } },
    { name: 'Gemini 2^53', key: () => gem, header: 'x-goog-api-key', path: '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', body: geminiBody, reply: { type: 'text/event-stream', body: geminiStream({ promptTokenCount: 10, candidatesTokenCount: 2 ** 53 }) } },
    { name: 'Gemini fractional', key: () => gem, header: 'x-goog-api-key', path: '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', body: geminiBody, reply: { type: 'text/event-stream', body: geminiStream({ promptTokenCount: 10.25, candidatesTokenCount: 3 }) } },
    { name: 'Anthropic JSON negative', key: () => ant, header: 'x-api-key', path: '/v1/messages', body: MESSAGES_BODY, reply: { type: 'application/json', body: anthropicMessage({ input_tokens: -10, output_tokens: 5 }) } },
  ];

  for (const c of cases) {
    test(`${c.name} counts: the server stays up, the row is settled and flagged`, async () => {
      reply = c.reply;
      const auth = c.header === 'authorization' ? `Bearer ${c.key()}` : c.key();
      const r = await rawRequest(sc.url, 'POST', c.path, { [c.header]: auth, 'content-type': 'application/json' }, c.body);
      assert.ok(r.status === 200 || r.status === 429, `${r.status} ${r.body}`);
      assert.equal((await fetch(`${sc.url}/healthz`)).status, 200);
      const row = (await ledgerRows<Row>(sc))[0]!;
      assert.equal(row.usageSource, 'estimate', JSON.stringify(row));
      assert.ok(row.costUsd <= 0.05, JSON.stringify(row));
      assert.ok(row.detail !== null && /usage/.test(row.detail), JSON.stringify(row));
      assert.ok(sc.log.some((l) => l.includes(row.detail!.slice(0, 20))));
    });
  }

  test('1e15 output tokens on a $0.05 key books at most what the request could cost, flagged', async () => {
    const key = await addKey(sc.dataDir, 'big', 0.05);
    reply = { type: 'text/event-stream', body: anthropicStream({ output_tokens: 1e15 }) };
    const r = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': key, 'content-type': 'application/json' }, streamBody);
    assert.equal(r.status, 200);
    const row = (await ledgerRows<Row>(sc)).find((x) => x.keyName === 'big')!;
    // 100 output tokens at $15/Mtok plus a tiny prompt: far under a cent, never billions.
    assert.ok(row.costUsd < 0.01, JSON.stringify(row));
    assert.equal(row.usageSource, 'estimate');
    assert.match(row.detail ?? '', /past the request's limits|invalid usage/);
  });
});

describe('Expect: 100-continue', () => {
  let up: RawUpstream;
  let sc: TestSpendcap;
  let ant: string;
  before(async () => {
    up = await startRawUpstream((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(anthropicMessage({ input_tokens: 400_000, output_tokens: 5 }));
    });
    sc = await startSpendcap(up.url);
    ant = await addKey(sc.dataDir, 'ant', 5);
  });
  after(async () => {
    await sc.close();
    await up.close();
  });

  test('spendcap answers 100-continue itself, the body arrives, the provider never sees Expect', async () => {
    const { request } = await import('node:http');
    const u = new URL(sc.url);
    // curl adds Expect to every body over 1 MB and waits for the 100 before sending it.
    const body = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'word '.repeat(330_000) }] });
    const reply = await new Promise<{ status: number; sawContinue: boolean }>((resolve, reject) => {
      let sawContinue = false;
      const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/v1/messages', headers: { 'x-api-key': ant, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), expect: '100-continue' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, sawContinue }));
      });
      req.on('continue', () => {
        sawContinue = true;
        req.end(body);
      });
      req.on('error', reject);
    });
    assert.equal(reply.sawContinue, true);
    assert.equal(reply.status, 200);
    assert.equal(up.seen.length, 1);
    assert.equal(up.seen[0]!.headers['expect'], undefined);
    assert.equal(up.seen[0]!.body.length, Buffer.byteLength(body));
  });

  test('undici refusing a request before sending it is charged nothing', () => {
    for (const code of ['UND_ERR_NOT_SUPPORTED', 'UND_ERR_INVALID_ARG', 'ECONNREFUSED']) assert.equal(sentNothing(code), true, code);
    for (const code of ['ECONNRESET', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', '']) assert.equal(sentNothing(code), false, code);
  });
});

describe('whole (JSON) replies', () => {
  let up: RawUpstream;
  let sc: TestSpendcap;
  let reply: string;
  before(async () => {
    up = await startRawUpstream((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(reply);
    });
    sc = await startSpendcap(up.url, { proxy: { maxReplyBytes: 1024 * 1024 } });
  });
  after(async () => {
    await sc.close();
    await up.close();
  });

  test('a reply past the limit is not buffered whole: the client gets a 502 in the provider\'s shape, the request is charged', async () => {
    const key = await addKey(sc.dataDir, 'huge', 1);
    reply = anthropicMessage({ input_tokens: 10, output_tokens: 5, padding: 'x'.repeat(3 * 1024 * 1024) });
    const r = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': key, 'content-type': 'application/json' }, MESSAGES_BODY);
    assert.equal(r.status, 502);
    const err = JSON.parse(r.body) as { type: string; error: { type: string; message: string } };
    assert.equal(err.type, 'error');
    assert.match(err.error.message, /larger than 1048576 bytes/);
    const row = (await ledgerRows<Row>(sc)).find((x) => x.keyName === 'huge')!;
    assert.equal(row.outcome, 'error');
    assert.ok(row.costUsd > 0, 'the provider produced the reply, so it may bill it');
    assert.match(row.detail ?? '', /larger than/);
  });

  test('a JSON 200 to a stream request is settled whole, and a charge past the cap says so and stops the key', async () => {
    const key = await addKey(sc.dataDir, 'tiny', 0.05);
    // 33,334 output tokens of claude-sonnet-4-5: about $0.50, ten times the cap; max_tokens allows it.
    reply = anthropicMessage({ input_tokens: 10, output_tokens: 33_334 });
    const body = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64_000, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const r = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': key, 'content-type': 'application/json' }, body);
    assert.equal(r.status, 200);
    const row = (await ledgerRows<Row>(sc)).find((x) => x.keyName === 'tiny')!;
    assert.ok(row.costUsd > 0.05, JSON.stringify(row));
    assert.match(row.detail ?? '', /whole \(JSON\) reply to a stream request.*past the cap/);
    const next = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': key, 'content-type': 'application/json' }, MESSAGES_BODY);
    assert.equal(next.status, 429);
    assert.equal(up.seen.filter((s) => s.headers['x-api-key'] === 'sk-test-anthropic-tiny').length, 1);
  });
});

describe('huge SSE events', () => {
  let up: RawUpstream;
  let sc: TestSpendcap;
  let ant: string;
  let eventBytes = 0;
  before(async () => {
    up = await startRawUpstream(async (_q, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const full = anthropicStream({ output_tokens: 3 });
      const cut = full.indexOf('event: content_block_delta');
      res.write(full.slice(0, cut));
      // One delta event whose text is eventBytes long, sent in 64 KB chunks before its end arrives.
      res.write('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"');
      const piece = 'a'.repeat(64 * 1024);
      for (let sent = 0; sent < eventBytes && !res.destroyed; sent += piece.length) {
        if (!res.write(piece)) await new Promise<void>((resolve) => {
          res.once('drain', resolve);
          res.once('close', resolve);
        });
      }
      res.end('"}}\n\n' + full.slice(full.indexOf('event: content_block_stop')));
    });
    sc = await startSpendcap(up.url, { proxy: { maxEventBytes: 40 * 1024 * 1024 } });
    ant = await addKey(sc.dataDir, 'ant', 100);
  });
  after(async () => {
    await sc.close();
    await up.close();
  });

  const streamBody = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64_000, stream: true, messages: [{ role: 'user', content: 'hi' }] });

  test('a 30 MB event arriving in pieces is relayed whole while /healthz stays fast', async (t) => {
    eventBytes = 30 * 1024 * 1024;
    let worst = 0;
    let done = false;
    const probe = (async () => {
      while (!done) {
        const t0 = Date.now();
        await fetch(`${sc.url}/healthz`);
        worst = Math.max(worst, Date.now() - t0);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const t0 = Date.now();
    const r = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': ant, 'content-type': 'application/json' }, streamBody);
    const took = Date.now() - t0;
    done = true;
    await probe;
    t.diagnostic(`30 MB event relayed in ${took} ms; slowest /healthz ${worst} ms`);
    assert.equal(r.status, 200);
    assert.ok(r.body.length > eventBytes);
    assert.match(r.body, /message_stop/);
    assert.ok(worst < 1000, `/healthz took ${worst} ms during the event`);
  });

  test('an event past the limit ends the stream cleanly; the request is settled', async () => {
    await sc.close();
    sc = await startSpendcap(up.url, { proxy: { maxEventBytes: 4 * 1024 * 1024 } });
    ant = await addKey(sc.dataDir, 'ant', 100);
    eventBytes = 16 * 1024 * 1024;
    const r = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': ant, 'content-type': 'application/json' }, streamBody);
    assert.equal(r.status, 200);
    assert.ok(r.body.length < 5 * 1024 * 1024, `${r.body.length} bytes reached the client`);
    assert.match(r.body, /larger than 4194304 bytes/);
    const row = (await ledgerRows<Row>(sc))[0]!;
    assert.equal(row.outcome, 'error');
    assert.match(row.detail ?? '', /larger than/);
    assert.equal((await fetch(`${sc.url}/healthz`)).status, 200);
  });
});

describe('compressed request bodies', () => {
  let up: RawUpstream;
  let sc: TestSpendcap;
  let ant: string;
  before(async () => {
    up = await startRawUpstream((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(anthropicMessage({ input_tokens: 10, output_tokens: 5 }));
    });
    sc = await startSpendcap(up.url, { proxy: { maxBodyBytes: 1024 * 1024 } });
    ant = await addKey(sc.dataDir, 'ant', 1);
  });
  after(async () => {
    await sc.close();
    await up.close();
  });

  test('gzip, deflate and br bodies are decoded, metered and sent on plain', async () => {
    const { gzipSync, deflateSync, brotliCompressSync } = await import('node:zlib');
    for (const [encoding, encode] of [['gzip', gzipSync], ['deflate', deflateSync], ['br', brotliCompressSync]] as const) {
      const r = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': ant, 'content-type': 'application/json', 'content-encoding': encoding }, encode(Buffer.from(MESSAGES_BODY)));
      assert.equal(r.status, 200, `${encoding}: ${r.body}`);
      const seen = up.seen.at(-1)!;
      assert.equal(seen.body.toString(), MESSAGES_BODY);
      assert.equal(seen.headers['content-encoding'], undefined);
    }
  });

  test('a bad or unknown encoding is a 400, a body that inflates past the limit a 413, nothing sent', async () => {
    const { gzipSync } = await import('node:zlib');
    const before = up.seen.length;
    const bad = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': ant, 'content-type': 'application/json', 'content-encoding': 'gzip' }, MESSAGES_BODY);
    assert.equal(bad.status, 400);
    assert.match(bad.body, /not valid gzip/);
    const unknown = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': ant, 'content-type': 'application/json', 'content-encoding': 'zstd' }, MESSAGES_BODY);
    assert.equal(unknown.status, 400);
    // 8 MB of prompt in a few KB of gzip: refused at the 1 MB limit, not inflated whole.
    const bomb = gzipSync(Buffer.from(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: ' '.repeat(8 * 1024 * 1024) }] })));
    const big = await rawRequest(sc.url, 'POST', '/v1/messages', { 'x-api-key': ant, 'content-type': 'application/json', 'content-encoding': 'gzip' }, bomb);
    assert.equal(big.status, 413);
    assert.equal(up.seen.length, before);
  });
});
