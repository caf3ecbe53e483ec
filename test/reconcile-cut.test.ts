// A stream on an OpenRouter key that ends without OpenRouter's usage (cut, or left by the client) is
// charged spendcap's safe upper bound; the running server then asks GET /generation for the cancelled
// generation's cost by itself, sets the row to it and refunds the budget the difference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usdToNanos } from '../src/pricing/index.js';
import { startFakeOpenRouter } from './helpers/fake-openrouter-admin.js';
import { cli, ledgerRows, startSpendcap } from './helpers/spendcap.js';

interface Row {
  requestId: string;
  costNanos: number;
  outcome: string;
  providerCostNanos: number | null;
  meteredCostNanos: number | null;
}

test('a cancelled OpenRouter generation: the server sets its row to OpenRouter\'s figure and the budget gets the difference back', async () => {
  const fake = await startFakeOpenRouter({ costUsd: 0.002, streamPauseMs: 1_500 });
  const sc = await startSpendcap(null, { baseUrls: { openrouter: fake.base }, cutReconcileDelaysMs: [1_500, 1_500, 3_000] });
  const env = { SPENDCAP_OPENROUTER_BASE_URL: fake.base };
  try {
    assert.equal((await cli(sc.dataDir, ['provider-admin', 'add', 'openrouter', '--management-key', fake.managementKey])).code, 0);
    const token = (JSON.parse((await cli(sc.dataDir, ['provider-key', 'openrouter', '1', '--name', 'router', '--json'], env)).out) as { token: string }).token;
    // OpenRouter bills the cancelled generation for what it produced: less than spendcap's conservative charge.
    fake.options.generationCostUsd = () => 0.000002;
    const abort = new AbortController();
    const r = await fetch(`${sc.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true }), signal: abort.signal });
    const reader = r.body!.getReader();
    let seen = '';
    while (!seen.includes('hello')) seen += new TextDecoder().decode(((await reader.read()) as { value?: Uint8Array }).value);
    abort.abort();
    let rows: Row[] = [];
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      rows = await ledgerRows<Row>(sc);
    }
    const [gen] = [...fake.generations.keys()];
    assert.equal(rows.length, 1);
    const charged = rows[0]!.costNanos;
    assert.ok(charged > usdToNanos(0.000002), `the cut is charged spendcap's upper bound first (${charged} n$)`);
    await sc.server.bank.refresh();
    const account = sc.server.bank.keyByName('router')!.account;
    assert.equal(account.spentNanos, charged);

    let row = rows[0]!;
    for (let i = 0; i < 160 && row.costNanos === charged; i++) {
      await new Promise((res) => setTimeout(res, 50));
      row = (await ledgerRows<Row>(sc))[0]!;
    }
    assert.equal(row.requestId, gen);
    assert.equal(row.costNanos, usdToNanos(0.000002), "the row carries OpenRouter's figure");
    assert.equal(row.meteredCostNanos, charged, "spendcap's own figure stays beside it");
    await sc.server.bank.refresh();
    assert.equal(sc.server.bank.keyByName('router')!.account.spentNanos, usdToNanos(0.000002), 'the budget got the difference back');
  } finally {
    await sc.close();
    await fake.close();
  }
});
