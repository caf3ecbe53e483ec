// Prometheus text exposition (format 0.0.4): HELP and TYPE lines, then samples.

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface Sample {
  /** Appended to the family name: "_bucket", "_sum", "_count" for histograms. */
  suffix?: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

export function renderMetrics(families: readonly MetricFamily[]): string {
  let out = '';
  for (const f of families) {
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) {
      const labels = Object.entries(s.labels);
      const l = labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
      out += `${f.name}${s.suffix ?? ''}${l} ${formatValue(s.value)}\n`;
    }
  }
  return out;
}

/** Request duration buckets, seconds: agents' requests run from a fraction of a second to minutes. */
export const DURATION_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600] as const;

export interface MetricsInput {
  budgets: ReadonlyArray<{ name: string; scope: string; period: string; capNanos: number; spentNanos: number; heldNanos: number; remainingNanos: number; killed: boolean }>;
  /** Ledger totals per key and outcome (all time, or since the oldest row kept). */
  requests: ReadonlyArray<{ key: string; provider: string; outcome: string; count: number; costNanos: number }>;
  /** Cumulative counts of durations ≤ each DURATION_BUCKETS_S bound, then the total count and sum (ms), over requests that went upstream. */
  duration: { buckets: readonly number[]; count: number; sumMs: number };
  openRequests: number;
  heldNanos: number;
}

const usd = (nanos: number): number => nanos / 1e9;

export function buildMetrics(m: MetricsInput): MetricFamily[] {
  const b = (name: string, help: string, pick: (x: MetricsInput['budgets'][number]) => number): MetricFamily => ({
    name,
    help,
    type: 'gauge',
    samples: m.budgets.map((x) => ({ labels: { budget: x.name, scope: x.scope, period: x.period }, value: pick(x) })),
  });
  const byOutcome = (outcome: string): Sample[] => {
    const perKey = new Map<string, number>();
    for (const r of m.requests) if (r.outcome === outcome) perKey.set(r.key, (perKey.get(r.key) ?? 0) + r.count);
    return [...perKey].map(([key, value]) => ({ labels: { key }, value }));
  };
  const costByKey = new Map<string, { provider: string; nanos: number }>();
  for (const r of m.requests) {
    const k = `${r.key}\u0000${r.provider}`;
    const c = costByKey.get(k) ?? { provider: r.provider, nanos: 0 };
    c.nanos += r.costNanos;
    costByKey.set(k, c);
  }
  return [
    b('spendcap_budget_spent_usd', 'Dollars charged to the budget in its current period.', (x) => usd(x.spentNanos)),
    b('spendcap_budget_held_usd', 'Dollars held by requests in flight on the budget.', (x) => usd(x.heldNanos)),
    b('spendcap_budget_cap_usd', 'The budget\'s cap per period.', (x) => usd(x.capNanos)),
    b('spendcap_budget_remaining_usd', 'Cap minus spent minus held, never below 0.', (x) => usd(x.remainingNanos)),
    b('spendcap_budget_killed', '1 when the budget is killed.', (x) => (x.killed ? 1 : 0)),
    { name: 'spendcap_held_usd', help: 'Dollars held by all requests in flight.', type: 'gauge', samples: [{ labels: {}, value: usd(m.heldNanos) }] },
    { name: 'spendcap_open_requests', help: 'Metered requests in flight (each holds money).', type: 'gauge', samples: [{ labels: {}, value: m.openRequests }] },
    {
      name: 'spendcap_spend_usd_total',
      help: 'Dollars charged, per key and provider, over the ledger.',
      type: 'counter',
      samples: [...costByKey].map(([k, c]) => ({ labels: { key: k.split('\u0000')[0]!, provider: c.provider }, value: usd(c.nanos) })),
    },
    {
      name: 'spendcap_requests_total',
      help: 'Requests by key and outcome (ok, cut, blocked, error).',
      type: 'counter',
      samples: m.requests.map((r) => ({ labels: { key: r.key, provider: r.provider, outcome: r.outcome }, value: r.count })),
    },
    { name: 'spendcap_blocks_total', help: 'Requests refused before the provider (cap reached or killed).', type: 'counter', samples: byOutcome('blocked') },
    { name: 'spendcap_cuts_total', help: 'Responses cut mid-stream at the cap.', type: 'counter', samples: byOutcome('cut') },
    {
      name: 'spendcap_request_duration_seconds',
      help: 'Duration of requests that went upstream, from the ledger.',
      type: 'histogram',
      samples: [
        ...DURATION_BUCKETS_S.map((le, i) => ({ suffix: '_bucket', labels: { le: String(le) }, value: m.duration.buckets[i] ?? 0 })),
        { suffix: '_bucket', labels: { le: '+Inf' }, value: m.duration.count },
        { suffix: '_sum', labels: {}, value: m.duration.sumMs / 1000 },
        { suffix: '_count', labels: {}, value: m.duration.count },
      ],
    },
  ];
}
