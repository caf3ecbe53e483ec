// Alerts end to end through a real server: a cap reached → the webhook gets the alert; a tap on
// +$5 (through the same action handler the chat channels call) raises the cap and the next request
// passes; a hung or failing channel adds no latency; hold-and-approve waits, approves, times out.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { usdToNanos } from '../src/pricing/index.js';
import { startServer } from '../src/server/server.js';
import type { RunningServer } from '../src/server/server.js';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic } from './helpers/mock-anthropic.js';
import { addKey, cli, tempDataDir } from './helpers/spendcap.js';
import { CUT_STOP_REASON } from '../src/providers/anthropic/index.js';

const MODEL = 'claude-sonnet-4-6';
const messages = [{ role: 'user' as const, content: 'Write a long essay about budgets.' }];

interface Hook {
  url: string;
  bodies: Array<Record<string, unknown>>;
  server: Server;
}
async function hook(mode: 'ok' | 'hang' | '500'): Promise<Hook> {
  const h = { bodies: [] as Array<Record<string, unknown>> } as Hook;
  h.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (mode === 'hang') return; // never answers
      if (mode === 'ok') h.bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      res.writeHead(mode === 'ok' ? 200 : 500).end();
    });
  });
  await new Promise<void>((r) => h.server.listen(0, '127.0.0.1', r));
  h.url = `http://127.0.0.1:${(h.server.address() as AddressInfo).port}/hook`;
  return h;
}
const closeHook = (h: Hook) => {
  h.server.closeAllConnections();
  return new Promise<void>((r) => h.server.close(() => r()));
};

async function until<T>(f: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('alerts end to end', () => {
  let mock: MockAnthropic;
  let server: RunningServer;
  let dataDir: string;
  let ok: Hook;
  before(async () => {
    mock = await startMockAnthropic({ tokenIntervalMs: 1, outputTokens: 50 });
    dataDir = tempDataDir();
    server = await startServer({ dataDir, port: 0, baseUrls: { anthropic: mock.url, openai: 'http://127.0.0.1:9', openrouter: 'http://127.0.0.1:9', gemini: 'http://127.0.0.1:9' }, pollMs: 100, alertTickMs: 100 });
    ok = await hook('ok');
  });
  after(async () => {
    await server.close();
    await mock.close();
    await closeHook(ok);
    rmSync(dataDir, { recursive: true, force: true });
  });
  const client = (token: string) => new Anthropic({ apiKey: token, baseURL: server.url, maxRetries: 0 });

  test('a stream hits its cap → the webhook gets the alert; a tap on +$5 raises the cap through the audited action and the next request passes', async () => {
    const token = await addKey(dataDir, 'work', 0.01);
    const add = await cli(dataDir, ['alerts', 'add', 'webhook', '--url', ok.url, '--secret', 's', '--budget', 'work']);
    assert.equal(add.code, 0, add.err);
    mock.options = { ...mock.options, outputTokens: 2000 };
    const msg = await client(token).messages.stream({ model: MODEL, max_tokens: 8000, messages }).finalMessage();
    assert.equal(msg.stop_reason, CUT_STOP_REASON, 'cut cleanly at the cap');
    const alert = await until(() => ok.bodies.find((b) => b.budget === 'work' && (b.kind === 'cut' || (b.kind === 'threshold' && b.threshold === 100))));
    assert.equal(alert.capUsd, 0.01);
    assert.match(String(alert.dashboardUrl), /^http:\/\/127\.0\.0\.1:\d+\/dashboard$/);
    await assert.rejects(client(token).messages.create({ model: MODEL, max_tokens: 100, messages }), /reached its cap/);
    const outcome = await server.alerts.onAction({ channel: 'telegram', user: '4242', budget: 'work', button: { action: 'add', label: '+$5', addNanos: usdToNanos(5) } });
    assert.deepEqual(outcome, { ok: true, text: '✓ Bumped — cap is now $5.01' });
    mock.options = { ...mock.options, outputTokens: 50 };
    const next = await client(token).messages.create({ model: MODEL, max_tokens: 100, messages });
    assert.equal(next.type, 'message');
    const lift = (await cli(dataDir, ['events', '--json', '--budget', 'work'])).out;
    const ev = (JSON.parse(lift) as Array<{ kind: string; channel: string; detail: string | null }>).find((e) => e.kind === 'lift')!;
    assert.equal(ev.channel, 'telegram');
    assert.match(ev.detail ?? '', /by telegram user 4242/);
    const rm = await cli(dataDir, ['alerts', 'rm', 'webhook']);
    assert.equal(rm.code, 0, rm.err);
  });

  test('a channel that hangs or answers 500 does not slow the proxy: median latency with them equals without', async () => {
    const token = await addKey(dataDir, 'lat', 50);
    mock.options = { ...mock.options, outputTokens: 20 };
    const c = client(token);
    const measure = async (n: number, during?: () => Promise<void>): Promise<number> => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) {
        await during?.();
        const t0 = performance.now();
        await c.messages.create({ model: MODEL, max_tokens: 50, messages });
        ms.push(performance.now() - t0);
      }
      ms.sort((a, b) => a - b);
      return ms[Math.floor(n / 2)]!;
    };
    await measure(5); // warm up
    const without = await measure(30);
    const hang = await hook('hang');
    const fail = await hook('500');
    try {
      assert.equal((await cli(dataDir, ['alerts', 'add', 'webhook', '--name', 'hang', '--url', hang.url])).code, 0);
      assert.equal((await cli(dataDir, ['alerts', 'add', 'webhook', '--name', 'fail', '--url', fail.url])).code, 0);
      let i = 0;
      // Every request adds a block event and a kill/lift pair: the dispatcher keeps delivering to both broken channels.
      const storm = async () => {
        await server.store.events.insert({ ts: Date.now(), kind: i++ % 2 === 0 ? 'block' : 'kill', budget: 'lat', channel: 'auto', capBeforeNanos: null, capAfterNanos: null, detail: null });
      };
      // Requests go on until the dispatcher has tried the failing channel (under load its first try can
      // come after a few requests), so the measured ones run while both broken channels are in use.
      await until(async () => {
        await measure(1, storm);
        return (await server.store.alerts.recentOutbox(50)).some((r) => r.channel === 'fail' && r.attempts > 0) || undefined;
      });
      const withBroken = await measure(30, storm);
      console.log(`# median request through spendcap: ${without.toFixed(2)} ms without channels, ${withBroken.toFixed(2)} ms with a hung and a 500 channel`);
      assert.ok(withBroken <= without * 1.5 + 3, `added latency unchanged: ${withBroken.toFixed(2)} ms vs ${without.toFixed(2)} ms`);
    } finally {
      await cli(dataDir, ['alerts', 'rm', 'hang']);
      await cli(dataDir, ['alerts', 'rm', 'fail']);
      await closeHook(hang);
      await closeHook(fail);
    }
  });

  test('hold-and-approve: a request waits, `spendcap approve` lets it through and it is billed; a timeout blocks it', async () => {
    const token = await addKey(dataDir, 'asker', 0.0001, ['--mode', 'ask', '--ask-timeout', '2']);
    mock.options = { ...mock.options, outputTokens: 20 };
    const billsBefore = mock.bills.length;
    const t0 = Date.now();
    const pending = client(token).messages.create({ model: MODEL, max_tokens: 100, messages });
    // The CLI, in its own connection, sees the held request and answers it.
    const approved = await until(async () => {
      const r = await cli(dataDir, ['approve', 'asker']);
      return r.code === 0 ? r : undefined;
    });
    assert.match(approved.out, /^✓ Allowed \+\$5 — cap is now \$5\.0001\n$/);
    const msg = await pending;
    assert.equal(msg.type, 'message');
    assert.equal(mock.bills.length, billsBefore + 1, 'the provider was called once, after approval');
    const rows = JSON.parse((await cli(dataDir, ['log', '--json', '--limit', '5'])).out) as Array<{ keyName: string; outcome: string; costUsd: number }>;
    const row = rows.find((r) => r.keyName === 'asker' && r.outcome === 'ok');
    assert.ok(row && row.costUsd > 0, `billed: ${JSON.stringify(rows[0])}`);
    console.log(`# held request approved after ${Date.now() - t0} ms`);

    // Nobody answers: after --ask-timeout 2 it is refused as today.
    await cli(dataDir, ['cap', 'set', 'asker', '0.0001']);
    const t1 = Date.now();
    await assert.rejects(client(token).messages.create({ model: MODEL, max_tokens: 100, messages }), (err: unknown) => err instanceof Anthropic.RateLimitError);
    const waited = Date.now() - t1;
    assert.ok(waited >= 1900 && waited < 6000, `waited ${waited} ms`);
    assert.equal(mock.bills.length, billsBefore + 1, 'a timed-out request never reached the provider');
  });

  test('hold-and-approve on a stream: SSE keep-alive comments while waiting, a tap on Allow through the action handler, and the SDK gets the whole message', async () => {
    const token = await addKey(dataDir, 'askstream', 0.0001, ['--mode', 'ask']);
    const res = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': token, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: MODEL, max_tokens: 100, messages, stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.equal(first, ': waiting for approval\n\n');
    const ask = await until(async () => (await server.store.alerts.pendingAsks(Date.now(), 'askstream'))[0]);
    const deny = await server.alerts.onAction({ channel: 'slack', user: 'U1', budget: 'askstream', button: { action: 'deny', label: 'Deny', askId: ask.id } });
    assert.deepEqual(deny, { ok: true, text: '✓ Denied — the request was refused' });
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    assert.match(rest, /^event: error\ndata: \{"type":"error","error":\{"type":"rate_limit_error","message":"spendcap: key \\"askstream\\" reached its cap/);

    // Right after a deny, a retry (Claude Code sends one without streaming) is refused at once, not held again.
    const t0 = Date.now();
    await assert.rejects(client(token).messages.create({ model: MODEL, max_tokens: 100, messages }), /reached its cap/);
    assert.ok(Date.now() - t0 < 2000, 'refused without waiting');
    assert.equal((await server.store.alerts.pendingAsks(Date.now(), 'askstream')).length, 0, 'nobody is asked again');

    // Approved through the SDK's own stream: it ignores the comments and reads the message.
    const token2 = await addKey(dataDir, 'askstream2', 0.0001, ['--mode', 'ask']);
    const stream = client(token2).messages.stream({ model: MODEL, max_tokens: 100, messages });
    const ask2 = await until(async () => (await server.store.alerts.pendingAsks(Date.now(), 'askstream2'))[0]);
    const allow = await server.alerts.onAction({ channel: 'telegram', user: '7', budget: 'askstream2', button: { action: 'approve', label: 'Allow +$5', askId: ask2.id, addNanos: usdToNanos(5) } });
    assert.equal(allow.text, '✓ Allowed +$5 — cap is now $5.0001');
    const msg = await stream.finalMessage();
    assert.equal(msg.stop_reason, 'end_turn');
    assert.ok(msg.content.length > 0);
  });
});
