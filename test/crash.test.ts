// kill -9 while streams run: no finished request is lost, holds left in flight are charged at the
// next start, and the cap still holds afterwards. The server runs as a real child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockPricePerMtok } from './helpers/mock-anthropic.js';
import { addKey, cli, startSpendcapProcess, tempDataDir } from './helpers/spendcap.js';
import type { SpendcapProcess } from './helpers/spendcap.js';

const MODEL = 'claude-sonnet-4-5';
const SONNET: MockPricePerMtok = { input: 3_000_000_000, output: 15_000_000_000, cacheRead: 300_000_000, cacheWrite5m: 3_750_000_000, cacheWrite1h: 6_000_000_000 };

function startProcess(dataDir: string, upstream: string): Promise<SpendcapProcess> {
  return startSpendcapProcess(dataDir, { SPENDCAP_ANTHROPIC_BASE_URL: upstream });
}

interface Row {
  outcome: string;
  requestId: string;
  costNanos: number;
  detail: string | null;
}

test('kill -9 during streams: finished requests keep their rows, open holds are charged on restart, the cap still holds', async () => {
  const mock = await startMockAnthropic({
    tokenIntervalMs: 2,
    perRequest: (r) =>
      r.body.includes('"long"') ? { outputTokens: 100_000 } : r.body.includes('"last"') ? { outputTokens: 100_000, tokenIntervalMs: 0 } : { outputTokens: 15, tokenIntervalMs: 0 },
  });
  const dataDir = tempDataDir();
  const capUsd = 0.5;
  const token = await addKey(dataDir, 'crash', capUsd);
  let server = await startProcess(dataDir, mock.url);
  try {
    const client = (url: string) => new Anthropic({ apiKey: token, baseURL: url, maxRetries: 0 });
    const ask = (url: string, what: string) => client(url).messages.stream({ model: MODEL, max_tokens: 200_000, messages: [{ role: 'user', content: what }] }).finalMessage();

    const long = Array.from({ length: 6 }, () => ask(server.url, 'long').catch((e: unknown) => e));
    // Short requests keep finishing right up to the kill.
    const finished: string[] = [];
    let stop = false;
    const shortLoop = (async () => {
      while (!stop) {
        try {
          const m = await ask(server.url, 'short');
          finished.push(m.id);
        } catch {
          return;
        }
      }
    })();
    while (mock.bills.filter((b) => b.usage.output_tokens > 50).length < 6) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    server.proc.kill('SIGKILL');
    await new Promise((r) => server.proc.once('exit', r));
    await shortLoop;
    await Promise.all(long);
    await mock.waitIdle();
    assert.ok(finished.length >= 3, `only ${finished.length} short requests finished before the kill`);

    server = await startProcess(dataDir, mock.url);
    // The 6 long streams, and the short request that was in flight at the kill, if one was.
    const charged = /Charged (\d+) request\(s\) left in flight/.exec(server.output());
    assert.ok(charged, server.output());
    const inFlight = Number(charged[1]);
    assert.ok(inFlight === 6 || inFlight === 7, `${inFlight} holds recovered`);
    const rows = JSON.parse((await cli(dataDir, ['log', '--json', '--limit', '10000'])).out) as Row[];
    const okIds = new Set(rows.filter((r) => r.outcome === 'ok').map((r) => r.requestId));
    const finishedBills = mock.bills.filter((b) => finished.includes(b.messageId));
    assert.equal(finishedBills.length, finished.length);
    for (const b of finishedBills) assert.ok(okIds.has(b.id), `finished request ${b.id} has no ledger row`);
    const recovered = rows.filter((r) => r.detail?.startsWith('spendcap stopped'));
    assert.equal(recovered.length, inFlight);

    const billedBefore = mock.bills.reduce((s, b) => s + Math.ceil((b.usage.input_tokens * SONNET.input + b.usage.output_tokens * SONNET.output) / 1e6), 0);
    const chargedNanos = rows.reduce((s, r) => s + r.costNanos, 0);
    assert.ok(chargedNanos >= billedBefore, `charged ${chargedNanos} n$ does not cover billed ${billedBefore} n$`);

    // After the restart the remaining room is used up by one more stream: the provider's total stays under the cap.
    const last = await ask(server.url, 'last');
    assert.equal(last.stop_reason, 'cap_reached');
    await mock.waitIdle();
    const billedAll = mock.bills.reduce((s, b) => s + Math.ceil((b.usage.input_tokens * SONNET.input + b.usage.output_tokens * SONNET.output) / 1e6), 0);
    assert.ok(billedAll <= capUsd * 1e9, `provider billed ${billedAll} n$ > cap`);
  } finally {
    server.proc.kill('SIGKILL');
    await mock.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
