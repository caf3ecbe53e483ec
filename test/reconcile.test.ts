// `spendcap reconcile` against local fakes: OpenRouter's per-generation cost corrects ledger rows
// (audited, and the running server's budgets count the corrected figure), OpenRouter key usage is
// compared, and Anthropic's and OpenAI's cost reports are compared per UTC day.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { usdToNanos } from '../src/pricing/index.js';
import { hashToken } from '../src/secrets/index.js';
import { startFakeOpenRouter } from './helpers/fake-openrouter-admin.js';
import { cli, ledgerRows, startSpendcap } from './helpers/spendcap.js';

interface Row {
  requestId: string;
  costNanos: number;
  providerCostNanos: number | null;
  meteredCostNanos: number | null;
}
interface Report {
  lines: Array<{ source: string; subject: string; day: string | null; ledgerNanos: number; providerNanos: number; driftNanos: number }>;
  corrections: Array<{ requestId: string; fromNanos: number; toNanos: number; cancelled: boolean }>;
  correctedNanos: number;
  notes: string[];
}

const messages = [{ role: 'user', content: 'hi' }];

test('reconcile corrects an OpenRouter row to the generation\'s cost (cancelled ones too), audits it, and budgets follow', async () => {
  const fake = await startFakeOpenRouter({ costUsd: 0.002 });
  const sc = await startSpendcap(null, { baseUrls: { openrouter: fake.base } });
  const env = { SPENDCAP_OPENROUTER_BASE_URL: fake.base };
  try {
    assert.equal((await cli(sc.dataDir, ['provider-admin', 'add', 'openrouter', '--management-key', fake.managementKey])).code, 0);
    const made = await cli(sc.dataDir, ['provider-key', 'openrouter', '1', '--reset', 'daily', '--name', 'router', '--json'], env);
    const token = (JSON.parse(made.out) as { token: string }).token;
    for (const stream of [false, true, false]) {
      const r = await fetch(`${sc.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages, stream }) });
      await r.text();
    }
    const [g1, g2] = [...fake.generations.keys()];
    // OpenRouter's final figures: the first cost more than usage.cost said; the second was cancelled, for less than the estimate charged.
    fake.generations.get(g2!)!.cancelled = true;
    const final = new Map([
      [g1!, 0.0035],
      [g2!, 0.001],
    ]);
    fake.options.generationCostUsd = (id) => final.get(id);
    const before = await ledgerRows<Row>(sc);
    assert.ok(before.every((r) => r.costNanos === usdToNanos(0.002)), 'each row was charged usage.cost');

    const r = await cli(sc.dataDir, ['reconcile', '--json'], env);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as Report;
    assert.deepEqual(
      report.corrections.map((c) => [c.requestId, c.fromNanos, c.toNanos, c.cancelled]).sort(),
      [
        [g1, usdToNanos(0.002), usdToNanos(0.0035), false],
        [g2, usdToNanos(0.002), usdToNanos(0.001), true],
      ].sort(),
    );
    const gen = report.lines.find((l) => l.source === 'openrouter-generation')!;
    assert.equal(gen.subject, 'router');
    assert.equal(gen.driftNanos, usdToNanos(0.0035) + usdToNanos(0.001) - 2 * usdToNanos(0.002));

    const after = new Map((await ledgerRows<Row>(sc)).map((x) => [x.requestId, x]));
    assert.equal(after.get(g1!)!.costNanos, usdToNanos(0.0035));
    assert.equal(after.get(g1!)!.meteredCostNanos !== null, true, 'spendcap\'s own figure is kept beside it');
    assert.equal(after.get(g2!)!.costNanos, usdToNanos(0.001));
    const events = JSON.parse((await cli(sc.dataDir, ['events', '--json'])).out) as Array<{ kind: string; budget: string; detail: string }>;
    const audit = events.find((e) => e.kind === 'reconcile');
    assert.ok(audit, 'the correction is an audited event');
    assert.equal(audit.budget, 'router');
    assert.match(audit.detail, /2 ledger row\(s\) set to OpenRouter's figure: \$0\.004 → \$0\.0045/);

    const ledgerSum = [...after.values()].reduce((s, x) => s + x.costNanos, 0);
    const status = JSON.parse((await cli(sc.dataDir, ['status', '--json'])).out) as Array<{ name: string; spentUsd: number }>;
    assert.equal(usdToNanos(status.find((s) => s.name === 'router')!.spentUsd), ledgerSum);
    await sc.server.bank.refresh();
    assert.equal(sc.server.bank.authenticate(hashToken(token))!.account.spentNanos, ledgerSum, 'the running server counts the corrected figures');

    // The admin API (and so the dashboard) shows the last reconciliation.
    const admin = readFileSync(join(sc.dataDir, 'admin-token'), 'utf8').trim();
    const api = (await (await fetch(`${sc.url}/api/reconcile`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { last: { ranAt: string; corrections: number; correctedUsd: number; lines: Array<{ source: string; driftUsd: number }> } };
    assert.equal(api.last.corrections, 2);
    assert.equal(usdToNanos(api.last.correctedUsd), report.correctedNanos);
    assert.ok(Date.now() - Date.parse(api.last.ranAt) < 60_000);

    // OpenRouter key usage beside the ledger; a second run finds nothing left to correct.
    const keyLine = report.lines.find((l) => l.source === 'openrouter-key')!;
    assert.equal(keyLine.providerNanos, usdToNanos(0.006));
    const again = JSON.parse((await cli(sc.dataDir, ['reconcile', '--json'], env)).out) as Report;
    assert.equal(again.corrections.length, 0);
    const human = await cli(sc.dataDir, ['reconcile'], env);
    assert.match(human.out, /openrouter-generation\s+router\s+ledger\s+\$0\.006/);
    assert.match(human.out, /No ledger row needed a correction/);
  } finally {
    await sc.close();
    await fake.close();
  }
});

test('Anthropic\'s and OpenAI\'s cost reports are compared with the ledger per UTC day', async () => {
  const seen: string[] = [];
  const today = new Date().toISOString().slice(0, 10);
  const startSec = Math.floor(Date.parse(`${today}T00:00:00Z`) / 1000);
  const server = http.createServer((req, res) => {
    seen.push(`${req.url} ${String(req.headers['x-api-key'] ?? req.headers.authorization)}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url?.startsWith('/v1/organizations/cost_report')) {
      // Amounts in cents, as decimal strings; two pages.
      const second = req.url.includes('page=p2');
      res.end(JSON.stringify({ data: [{ starting_at: `${today}T00:00:00Z`, ending_at: 'x', results: [{ amount: second ? '25' : '100.5', currency: 'USD' }] }], has_more: !second, next_page: second ? null : 'p2' }));
    } else res.end(JSON.stringify({ object: 'page', data: [{ object: 'bucket', start_time: startSec, end_time: startSec + 86400, results: [{ object: 'organization.costs.result', amount: { value: 0.42, currency: 'usd' } }] }], has_more: false, next_page: null }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sc = await startSpendcap(null);
  try {
    assert.equal((await cli(sc.dataDir, ['provider-admin', 'add', 'anthropic', '--admin-key', 'sk-ant-admin01-test'])).code, 0);
    assert.equal((await cli(sc.dataDir, ['provider-admin', 'add', 'openai', '--admin-key', 'sk-admin-test'])).code, 0);
    const r = await cli(sc.dataDir, ['reconcile', '--json'], { SPENDCAP_ANTHROPIC_ADMIN_BASE_URL: base, SPENDCAP_OPENAI_ADMIN_BASE_URL: base });
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out) as Report;
    const a = report.lines.find((l) => l.source === 'anthropic' && l.day === today)!;
    assert.equal(a.providerNanos, usdToNanos(1.255));
    assert.equal(a.driftNanos, usdToNanos(1.255), 'nothing in the ledger: all of it was spent outside spendcap');
    const o = report.lines.find((l) => l.source === 'openai' && l.day === today)!;
    assert.equal(o.providerNanos, usdToNanos(0.42));
    assert.ok(seen.some((s) => s.includes('/v1/organizations/cost_report') && s.endsWith('sk-ant-admin01-test')));
    assert.ok(seen.some((s) => s.startsWith('/v1/organization/costs?start_time=') && s.endsWith('Bearer sk-admin-test')));
  } finally {
    await sc.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('a stream the client left mid-way keeps its generation id; reconcile sets it to the cancelled generation\'s cost', async () => {
  const fake = await startFakeOpenRouter({ costUsd: 0.002, streamPauseMs: 2_000 });
  const sc = await startSpendcap(null, { baseUrls: { openrouter: fake.base } });
  const env = { SPENDCAP_OPENROUTER_BASE_URL: fake.base };
  try {
    assert.equal((await cli(sc.dataDir, ['provider-admin', 'add', 'openrouter', '--management-key', fake.managementKey])).code, 0);
    const token = (JSON.parse((await cli(sc.dataDir, ['provider-key', 'openrouter', '1', '--name', 'router', '--json'], env)).out) as { token: string }).token;
    const abort = new AbortController();
    const r = await fetch(`${sc.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages, stream: true }), signal: abort.signal });
    const reader = r.body!.getReader();
    let seen = '';
    while (!seen.includes('hello')) seen += new TextDecoder().decode(((await reader.read()) as { value?: Uint8Array }).value);
    abort.abort();
    let rows: Array<Row & { outcome: string }> = [];
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      rows = await ledgerRows<Row & { outcome: string }>(sc);
    }
    const [gen] = [...fake.generations.keys()];
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.requestId, gen, 'the cut row keeps the generation id');
    assert.equal(rows[0]!.outcome, 'error');
    // OpenRouter bills the cancelled generation what it produced: less than spendcap's conservative estimate.
    await new Promise((res) => setTimeout(res, 2_100));
    assert.equal(fake.generations.get(gen!)!.cancelled, true);
    fake.options.generationCostUsd = () => 0.0001;
    const report = JSON.parse((await cli(sc.dataDir, ['reconcile', '--json'], env)).out) as Report;
    assert.deepEqual(report.corrections.map((c) => [c.requestId, c.toNanos, c.cancelled]), [[gen, usdToNanos(0.0001), true]]);
    assert.equal((await ledgerRows<Row>(sc))[0]!.costNanos, usdToNanos(0.0001));
  } finally {
    await sc.close();
    await fake.close();
  }
});
