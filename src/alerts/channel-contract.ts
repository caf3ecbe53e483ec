// The one contract every alert channel keeps, as a node:test suite. Each channel's test calls
// channelContract with a factory for the channel pointed at a local far end (a webhook receiver,
// an SMTP server, a fake notify-send, a fake Slack or Telegram) and a way to read what arrived.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUsd, usdToNanos } from '../pricing/index.js';
import { buildAlert } from './render.js';
import type { AlertFacts } from './render.js';
import type { Alert, AlertChannel } from './types.js';

export interface ContractHarness {
  channel: AlertChannel;
  /** Everything the far end received so far, one string per message (its visible text, any format). */
  delivered(): Promise<string[]> | string[];
  close(): Promise<void>;
}

export interface ContractOptions {
  /** The same channel pointed at a far end that fails (500, refused connection, exit 1): delivery must say so, retryably. */
  failing?: () => Promise<ContractHarness>;
  /** Kinds whose far end can show buttons; the contract then checks the labels arrive. */
  showsButtons?: boolean;
}

const SAMPLE_BUDGET = 'team-alpha';

const FACTS: AlertFacts = {
  kind: 'block',
  budget: SAMPLE_BUDGET,
  scope: 'key',
  spentNanos: usdToNanos(15),
  capNanos: usdToNanos(15),
  periodStart: Date.UTC(2026, 2, 1),
  periodEnd: Date.UTC(2026, 2, 2),
  count: 1,
};

/** A realistic alert: key "team-alpha" reached $15.00 of $15.00, with +$1/+$5/+$10/Kill. */
export function sampleAlert(overrides: Partial<AlertFacts> = {}, id = 'contract-1'): Alert {
  return buildAlert({ ...FACTS, ...overrides }, { id, dashboardUrl: 'http://127.0.0.1:8787/dashboard', tz: 'UTC', now: Date.UTC(2026, 2, 1, 14) });
}

async function waitForCount(h: ContractHarness, n: number, ms = 5000): Promise<string[]> {
  const until = Date.now() + ms;
  for (;;) {
    const got = await h.delivered();
    if (got.length >= n || Date.now() > until) return got;
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function channelContract(name: string, setup: () => Promise<ContractHarness>, opts: ContractOptions = {}): void {
  describe(`alert channel contract: ${name}`, () => {
    test('an alert arrives, naming the budget, what it spent and its cap', async () => {
      const h = await setup();
      try {
        const r = await h.channel.send(sampleAlert());
        assert.equal(r.ok, true, r.error);
        const got = await waitForCount(h, 1);
        assert.equal(got.length, 1, 'exactly one message arrived');
        assert.ok(got[0]!.includes(SAMPLE_BUDGET), `the message names the budget: ${got[0]}`);
        assert.ok(got[0]!.includes(formatUsd(usdToNanos(15))), `the message shows ${formatUsd(usdToNanos(15))}: ${got[0]}`);
        if (opts.showsButtons) for (const label of ['+$1', '+$5', '+$10', 'Kill']) assert.ok(got[0]!.includes(label), `button ${label} arrives`);
      } finally {
        await h.channel.stop();
        await h.close();
      }
    });

    test('it says which fields it sends, and its kind and name', async () => {
      const h = await setup();
      try {
        assert.ok(h.channel.fieldsSent.length > 0);
        assert.ok(['webhook', 'slack', 'telegram', 'email', 'desktop'].includes(h.channel.kind));
        assert.ok(h.channel.name.length > 0);
      } finally {
        await h.channel.stop();
        await h.close();
      }
    });

    test('an update (where the channel offers one) carries the new count', async () => {
      const h = await setup();
      try {
        const first = await h.channel.send(sampleAlert());
        assert.equal(first.ok, true, first.error);
        if (h.channel.update === undefined) return;
        const r = await h.channel.update(first.ref ?? {}, sampleAlert({ count: 7 }));
        assert.equal(r.ok, true, r.error);
        const got = await waitForCount(h, 2, 2000);
        assert.ok(got.some((m) => m.includes('7 requests')), `the count 7 arrives: ${JSON.stringify(got)}`);
      } finally {
        await h.channel.stop();
        await h.close();
      }
    });

    if (opts.failing) {
      const failing = opts.failing;
      test('a failing far end is reported as a failed, retryable delivery, not a throw', async () => {
        const h = await failing();
        try {
          const r = await h.channel.send(sampleAlert());
          assert.equal(r.ok, false);
          assert.equal(r.retryable, true);
          assert.ok((r.error ?? '').length > 0);
        } finally {
          await h.channel.stop();
          await h.close();
        }
      });
    }
  });
}
