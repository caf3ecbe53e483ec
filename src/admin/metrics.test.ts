import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMetrics, DURATION_BUCKETS_S, renderMetrics } from './metrics.js';

test('families render with HELP and TYPE, labels escaped', () => {
  const text = renderMetrics([{ name: 'x_total', help: 'a\nb', type: 'counter', samples: [{ labels: { k: 'q"\\\n' }, value: 2 }, { labels: {}, value: Number.POSITIVE_INFINITY }] }]);
  assert.equal(text, '# HELP x_total a\\nb\n# TYPE x_total counter\nx_total{k="q\\"\\\\\\n"} 2\nx_total +Inf\n');
});

test('buildMetrics: budgets as gauges in USD, blocks and cuts per key, a cumulative duration histogram', () => {
  const buckets = DURATION_BUCKETS_S.map((_, i) => (i < 3 ? 1 : 2));
  const fams = buildMetrics({
    budgets: [{ name: 'w', scope: 'key', period: 'day', capNanos: 15_000_000_000, spentNanos: 3_200_000_000, heldNanos: 100_000_000, remainingNanos: 11_700_000_000, killed: false }],
    requests: [
      { key: 'w', provider: 'anthropic', outcome: 'ok', count: 3, costNanos: 3_000_000_000 },
      { key: 'w', provider: 'anthropic', outcome: 'blocked', count: 2, costNanos: 0 },
      { key: 'w', provider: 'anthropic', outcome: 'cut', count: 1, costNanos: 200_000_000 },
    ],
    duration: { buckets, count: 2, sumMs: 1500 },
    openRequests: 1,
    heldNanos: 100_000_000,
  });
  const text = renderMetrics(fams);
  assert.match(text, /^spendcap_budget_spent_usd\{budget="w",scope="key",period="day"\} 3\.2$/m);
  assert.match(text, /^spendcap_spend_usd_total\{key="w",provider="anthropic"\} 3\.2$/m);
  assert.match(text, /^spendcap_blocks_total\{key="w"\} 2$/m);
  assert.match(text, /^spendcap_cuts_total\{key="w"\} 1$/m);
  assert.match(text, /^spendcap_requests_total\{key="w",provider="anthropic",outcome="ok"\} 3$/m);
  assert.match(text, /^spendcap_request_duration_seconds_bucket\{le="\+Inf"\} 2$/m);
  assert.match(text, /^spendcap_request_duration_seconds_sum 1\.5$/m);
  assert.match(text, /^# TYPE spendcap_request_duration_seconds histogram$/m);
  for (const f of fams) assert.ok(text.includes(`# TYPE ${f.name} ${f.type}\n`));
});
