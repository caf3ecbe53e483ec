// A cut on a plain-HTTP upstream waits for the rest of the socket read that brought it: the provider
// wrote (and bills) those events before any cut could reach it. Read, they are counted exactly, and
// passed on to the client, who paid for them; dropped unread, the charge would have to guess them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import Anthropic from '@anthropic-ai/sdk';
import { startRawUpstream } from './helpers/raw-upstream.js';
import type { RawUpstream } from './helpers/raw-upstream.js';
import { addKey, budgetStatus, ledgerRows, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

const SONNET_INPUT = 3000; // n$ per token
const SONNET_OUTPUT = 15000;
const INPUT_TOKENS = 10;
/** Deltas the provider writes at once (one socket write, so one read at spendcap), one token each. */
const BATCH = 40;
const WORD = ' budget';

const sse = (type: string, data: object): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const delta = (): string => sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: WORD } });

interface Row {
  keyName: string;
  outcome: string;
  outputTokens: number;
  costUsd: number;
}

describe('a cut reads the rest of its socket read', () => {
  let up: RawUpstream;
  let sc: TestSpendcap;
  /** Output tokens the upstream wrote before it saw the connection close: its bill. */
  let written = 0;
  /** Deltas in the one write after the message's start. */
  let batch = BATCH;

  before(async () => {
    up = await startRawUpstream((_q, res: ServerResponse) => {
      written = 0;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse('message_start', { message: { id: 'msg_cut_read', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, usage: { input_tokens: INPUT_TOKENS, output_tokens: 1 } } }));
      res.write(sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
      // Each delta its own HTTP chunk, all of them in one socket write.
      res.cork();
      for (let i = 0; i < batch; i++) res.write(delta());
      written = batch;
      process.nextTick(() => res.uncork());
      // Then slowly, until the cut closes the connection.
      const more = setInterval(() => {
        if (res.destroyed) return clearInterval(more);
        res.write(delta());
        written++;
      }, 20);
      res.once('close', () => clearInterval(more));
    });
    sc = await startSpendcap(up.url);
  });
  after(async () => {
    await sc.close();
    await up.close();
  });

  test('the events read with the refusal reach the client and are counted; the charge covers the bill and stays under the cap', async () => {
    // $0.0009 pays for 58 output tokens: the cap is reached within the batch, which it could pay for.
    const capUsd = 0.0009;
    const token = await addKey(sc.dataDir, 'burst', capUsd);
    const client = new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0 });
    const stream = client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    await stream.finalMessage().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));

    const received = text.split(WORD).length - 1;
    assert.ok(received >= BATCH, `the client got ${received} of the ${BATCH} deltas the provider wrote at once`);
    assert.match(text, /reached its cap/);
    const row = (await ledgerRows<Row>(sc)).find((r) => r.keyName === 'burst')!;
    assert.equal(row.outcome, 'cut');
    assert.ok(row.outputTokens >= BATCH, `the row counts ${row.outputTokens} output tokens, the provider wrote ${BATCH} at once`);
    const billed = INPUT_TOKENS * SONNET_INPUT + written * SONNET_OUTPUT;
    const charged = Math.round(row.costUsd * 1e9);
    assert.ok(billed <= capUsd * 1e9, `the provider billed ${billed} n$ past the cap`);
    assert.ok(charged >= billed, `charged ${charged} n$ for a bill of ${billed} n$`);
    const s = await budgetStatus(sc, 'burst');
    assert.ok(s.spentUsd <= capUsd, `spent ${s.spentUsd} > cap ${capUsd}`);
  });

  test('a burst read past the hold (a loop that stalled longer than its margin planned) is booked as billed, and the row says it went past the cap', async () => {
    // $0.0009 pays for 58 output tokens; the provider writes 150 before spendcap reads any: what a
    // stall of 150 ms at 1 token/ms leaves in the socket. Nothing can stop what is already written,
    // but the ledger must not hide it: the charge was the hold (58 tokens' worth) before.
    const capUsd = 0.0009;
    batch = 150;
    const token = await addKey(sc.dataDir, 'stalled', capUsd);
    const client = new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0 });
    await client.messages
      .stream({ model: 'claude-sonnet-4-5', max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage()
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    batch = BATCH;

    const row = (await ledgerRows<Row & { detail: string | null }>(sc)).find((r) => r.keyName === 'stalled')!;
    assert.equal(row.outcome, 'cut');
    const billed = INPUT_TOKENS * SONNET_INPUT + written * SONNET_OUTPUT;
    const charged = Math.round(row.costUsd * 1e9);
    assert.ok(billed > capUsd * 1e9, 'the burst is billed past the cap: the case under test');
    assert.ok(charged >= billed, `charged ${charged} n$ for a bill of ${billed} n$`);
    assert.match(row.detail ?? '', /past the cap/);
    const s = await budgetStatus(sc, 'stalled');
    assert.ok(s.spentUsd * 1e9 >= billed - 1, `the budget shows ${s.spentUsd} spent, the provider billed ${billed / 1e9}`);
  });
});
