import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelContract, sampleAlert } from '../../channel-contract.js';
import { createWebhookChannel, SIGNATURE_HEADER } from './index.js';

/** A local receiver that accepts a body only when its signature matches the secret. */
async function receiver(secret: string, status = 200): Promise<{ url: string; bodies: string[]; rejected: number; close(): Promise<void> }> {
  const state = { bodies: [] as string[], rejected: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
      const got = Buffer.from(String(req.headers[SIGNATURE_HEADER] ?? ''));
      if (got.length !== want.length || !timingSafeEqual(got, want)) {
        state.rejected++;
        res.writeHead(401).end();
        return;
      }
      if (status === 200) state.bodies.push(body.toString('utf8'));
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    get bodies() {
      return state.bodies;
    },
    get rejected() {
      return state.rejected;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

channelContract(
  'webhook',
  async () => {
    const rx = await receiver('s3cret');
    return { channel: createWebhookChannel({ name: 'hook', kind: 'webhook', budgets: [], events: [], settings: { url: rx.url, secret: 's3cret' } }), delivered: () => rx.bodies, close: () => rx.close() };
  },
  {
    failing: async () => {
      const rx = await receiver('s3cret', 500);
      return { channel: createWebhookChannel({ name: 'hook', kind: 'webhook', budgets: [], events: [], settings: { url: rx.url, secret: 's3cret' } }), delivered: () => rx.bodies, close: () => rx.close() };
    },
  },
);

test('webhook: the JSON body has budget, scope, kind, threshold, spent, cap, period end and the dashboard link; a wrong secret is refused by the receiver', async () => {
  const rx = await receiver('right');
  try {
    const ok = createWebhookChannel({ name: 'a', kind: 'webhook', budgets: [], events: [], settings: { url: rx.url, secret: 'right' } });
    assert.equal((await ok.send(sampleAlert({ kind: 'threshold', thresholdPct: 80 }))).ok, true);
    const body = JSON.parse(rx.bodies[0]!) as Record<string, unknown>;
    assert.equal(body.budget, 'team-alpha');
    assert.equal(body.scope, 'key');
    assert.equal(body.kind, 'threshold');
    assert.equal(body.threshold, 80);
    assert.equal(body.spentUsd, 15);
    assert.equal(body.capUsd, 15);
    assert.equal(body.periodEnd, '2026-03-02T00:00:00.000Z');
    assert.equal(body.dashboardUrl, 'http://127.0.0.1:8787/dashboard');
    assert.deepEqual(Object.keys(body), ok.fieldsSent, 'fieldsSent is exactly what is sent');
    const wrong = createWebhookChannel({ name: 'b', kind: 'webhook', budgets: [], events: [], settings: { url: rx.url, secret: 'wrong' } });
    const r = await wrong.send(sampleAlert());
    assert.equal(r.ok, false);
    assert.equal(r.retryable, false, 'a 4xx will not get better by retrying');
    assert.equal(rx.rejected, 1);
  } finally {
    await rx.close();
  }
});

test('webhook: a refused connection is a retryable failure', async () => {
  const ch = createWebhookChannel({ name: 'a', kind: 'webhook', budgets: [], events: [], settings: { url: 'http://127.0.0.1:9/hook' } });
  const r = await ch.send(sampleAlert());
  assert.equal(r.ok, false);
  assert.equal(r.retryable, true);
  assert.match(r.error ?? '', /ECONNREFUSED/);
});
