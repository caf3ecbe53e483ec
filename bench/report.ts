// Result shapes of a benchmark run and their Markdown rendering (bench/results/*.md).

import { round } from './common.js';
import type { MicroResult } from './micro.js';
import type { ProfileSummary } from './profile.js';
import type { TargetName } from './targets.js';

export interface TargetInfo {
  name: TargetName;
  label: string;
  included: boolean;
  note: string | null;
}

export interface LatencyStat {
  p50: number;
  p99: number;
  addedP50: number;
  addedP99: number;
  n: number;
}

export interface LatencyRow {
  target: TargetName;
  json: LatencyStat;
  streamFirstByte: LatencyStat;
  errors: number;
  firstError: string | null;
}

export interface StreamRow {
  target: TargetName;
  streams: number;
  completed: number;
  errors: number;
  firstError: string | null;
  lostEvents: number;
  corrupt: number;
  stalls: number;
  ttfbP50: number;
  ttfbP99: number;
  gapP50: number;
  gapP99: number;
  gapMax: number;
  lagP99: number;
  lagMax: number;
  addedTtfbP50: number;
  addedGapP99: number;
  addedLagMax: number;
  metered: string;
}

export interface ThroughputStep {
  rate: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  firstError: string | null;
  pass: boolean;
  cpuUsPerReq: number;
  cpuCores: number;
  sendLagP99: number;
  /** A failed try that was run again (a rate fails only if it fails twice). */
  retried?: boolean;
}

export interface ThroughputRow {
  target: TargetName;
  delayMs: number;
  maxRate: number;
  p99AtMax: number;
  cpuUsPerReqAtMax: number;
  steps: ThroughputStep[];
}

export interface ConcurrentRow {
  target: TargetName;
  streams: number;
  completed: number;
  errors: number;
  firstError: string | null;
  maxOpen: number;
  lostEvents: number;
  corrupt: number;
  stalls: number;
  /** Streams whose first byte came more than 1 s after the send. */
  lateStarts: number;
  ttfbP99: number;
  gapP99: number;
  gapMax: number;
  lagP99: number;
  baselineRssMB: number;
  peakRssMB: number;
  kbPerStream: number;
  cpuCores: number;
  cpuUsPerChunk: number;
  metered: string;
}

export interface BodyRow {
  target: TargetName;
  tokens: number;
  bytes: number;
  p50: number;
  p99: number;
  addedP50: number;
  addedP99: number;
  errors: number;
  cpuMsPerReq: number;
}

export interface Check {
  what: string;
  value: string;
  pass: boolean;
}

export interface BenchResults {
  meta: {
    date: string;
    mode: 'full' | 'quick';
    machine: { host: string; os: string; cpu: string; cores: number; memGB: number };
    node: string;
    gitRev: string;
    /** src/ had uncommitted changes when the run started. */
    gitDirty: boolean;
    durationSec: number;
  };
  targets: TargetInfo[];
  notes: string[];
  phases: {
    latency?: LatencyRow[];
    streaming?: StreamRow[];
    throughput?: ThroughputRow[];
    concurrent?: ConcurrentRow[];
    bodies?: BodyRow[];
  };
  checks: Check[];
  plan?: unknown;
}

const f = (v: number, d = 3): string => (Number.isFinite(v) ? String(round(v, d)) : '–');
const signed = (v: number, d = 3): string => (Number.isFinite(v) ? (v >= 0 ? '+' : '') + String(round(v, d)) : '–');
const ratio = (a: number | undefined, b: number | undefined, d = 2): string =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? '–' : `${round(a / b, d)}×`;

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n';
}

/** The headline: spendcap against the floor and the peer, with absolute figures. */
export function ratioTable(res: BenchResults): string {
  const L = res.phases.latency ?? [];
  const T = res.phases.throughput ?? [];
  const C = res.phases.concurrent ?? [];
  const B = res.phases.bodies ?? [];
  const lat = (n: TargetName): LatencyRow | undefined => L.find((r) => r.target === n);
  const rows: string[][] = [];
  const add = (metric: string, get: (n: TargetName) => number | undefined, unit: string, d = 3, lowerBetter = true): void => {
    const s = get('spendcap');
    const fl = get('floor');
    const pk = get('portkey');
    const ng = get('nginx');
    const dir = get('direct');
    const cell = (v: number | undefined): string => (v === undefined ? '–' : `${f(v, d)}${unit}`);
    rows.push([metric, cell(s), cell(fl), cell(pk), cell(ng), cell(dir), ratio(s, fl), ratio(s, pk), lowerBetter ? 'lower' : 'higher']);
  };
  add('JSON latency p50 (end to end)', (n) => lat(n)?.json.p50, ' ms');
  add('JSON added p50 over direct', (n) => (n === 'direct' ? undefined : lat(n)?.json.addedP50), ' ms');
  add('JSON added p99 over direct', (n) => (n === 'direct' ? undefined : lat(n)?.json.addedP99), ' ms');
  add('stream first byte p50', (n) => lat(n)?.streamFirstByte.p50, ' ms');
  add('stream first byte added p50', (n) => (n === 'direct' ? undefined : lat(n)?.streamFirstByte.addedP50), ' ms');
  for (const delay of [...new Set(T.map((r) => r.delayMs))]) {
    add(`max req/s, p99 < 10 ms, ${delay} ms upstream`, (n) => T.find((r) => r.target === n && r.delayMs === delay)?.maxRate, '', 0, false);
  }
  const t0 = T.filter((r) => r.delayMs === 0);
  if (t0.length > 0) add('CPU per request at max rate (0 ms)', (n) => (n === 'direct' ? undefined : t0.find((r) => r.target === n)?.cpuUsPerReqAtMax), ' µs', 0);
  const top = C.length > 0 ? Math.max(...C.map((r) => r.streams)) : 0;
  if (top > 0) {
    const c = (n: TargetName): ConcurrentRow | undefined => C.find((r) => r.target === n && r.streams === top);
    add(`memory per open stream (${top} streams)`, (n) => (n === 'direct' ? undefined : c(n)?.kbPerStream), ' KB', 1);
    add(`CPU with ${top} paced streams`, (n) => (n === 'direct' ? undefined : (c(n)?.cpuCores ?? Number.NaN) * 100), '%', 0);
    add(`delta gap p99 at ${top} streams (paced 100 ms)`, (n) => c(n)?.gapP99, ' ms', 1);
  }
  const big = B.length > 0 ? Math.max(...B.map((r) => r.tokens)) : 0;
  if (big > 0) add(`added p50, ${big / 1000}k-token body`, (n) => (n === 'direct' ? undefined : B.find((r) => r.target === n && r.tokens === big)?.addedP50), ' ms');
  return table(['metric', 'spendcap', 'floor (Node pipe)', 'Portkey', 'nginx', 'direct', 'spendcap ÷ floor', 'spendcap ÷ Portkey', 'better'], rows);
}

export function renderMarkdown(res: BenchResults): string {
  const m = res.meta;
  const out: string[] = [];
  out.push(`# spendcap benchmark (${m.mode})\n`);
  out.push(
    `${m.date} · ${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.memGB} GB · ${m.machine.os} · Node ${m.node} · git ${m.gitRev}${m.gitDirty ? ' (src/ had uncommitted changes)' : ''} · run took ${m.durationSec} s\n`,
  );
  out.push(`Targets: ${res.targets.map((t) => `${t.label}${t.included ? '' : ' (skipped)'}`).join('; ')}.\n`);
  if (res.notes.length > 0) out.push(res.notes.map((n) => `- ${n}`).join('\n') + '\n');

  out.push('## Targets from issue 6\n');
  out.push(table(['target', 'measured', 'met'], res.checks.map((c) => [c.what, c.value, c.pass ? 'yes' : '**no**'])));

  out.push('## spendcap vs floor and peer\n');
  out.push('Ratios are spendcap ÷ other: below 1× is better for latency, memory and CPU; above 1× is better for throughput.\n');
  out.push(ratioTable(res));

  const L = res.phases.latency;
  if (L) {
    out.push('## 1. Added latency, one request at a time\n');
    out.push('p50 = median of the per-round medians (targets visited in shuffled order each round); p99 over all samples; "added" = minus direct.\n');
    out.push(
      table(
        ['target', 'JSON p50', 'JSON p99', 'added p50', 'added p99', 'stream 1st byte p50', 'p99', 'added p50', 'added p99', 'errors'],
        L.map((r) => [r.target, f(r.json.p50), f(r.json.p99), signed(r.json.addedP50), signed(r.json.addedP99), f(r.streamFirstByte.p50), f(r.streamFirstByte.p99), signed(r.streamFirstByte.addedP50), signed(r.streamFirstByte.addedP99), String(r.errors)]),
      ),
    );
    out.push('All times in ms.\n');
  }
  const S = res.phases.streaming;
  if (S) {
    out.push('## 2. Streaming fidelity\n');
    out.push('Sequential paced streams. Gap = time between consecutive text deltas at the client; lag = how late a delta arrives against its schedule counted from the stream\'s first byte (buffering shows as lag).\n');
    out.push(
      table(
        ['target', 'done', 'lost events', 'out of order', 'stalls', '1st byte p50', 'added', 'gap p50', 'gap p99', 'added gap p99', 'gap max', 'lag max', 'metered'],
        S.map((r) => [r.target, `${r.completed}/${r.streams}`, String(r.lostEvents), String(r.corrupt), String(r.stalls), f(r.ttfbP50), signed(r.addedTtfbP50), f(r.gapP50), f(r.gapP99), signed(r.addedGapP99), f(r.gapMax), f(r.lagMax), r.metered]),
      ),
    );
  }
  const T = res.phases.throughput;
  if (T) {
    out.push('## 3. Throughput: highest fixed request rate with p99 under 10 ms (over the upstream delay) and no errors\n');
    out.push('Open-loop load (latency timed from the scheduled send), JSON replies, 256 client connections at most. With 20 ms upstream delay the limit is p99 < 30 ms. A rate fails only if it fails twice in a row (? = first try failed).\n');
    out.push(
      table(
        ['target', 'upstream delay', 'max req/s', 'p99 at max', 'CPU µs/req at max', 'rates tried (✓ pass, ✗ fail)'],
        T.map((r) => [r.target, `${r.delayMs} ms`, String(r.maxRate), f(r.p99AtMax, 2), f(r.cpuUsPerReqAtMax, 0), r.steps.map((s) => `${s.rate}${s.pass ? '✓' : s.retried ? '?' : '✗'}`).join(' ')]),
      ),
    );
  }
  const C = res.phases.concurrent;
  if (C) {
    out.push('## 4. Concurrent paced streams\n');
    out.push(
      'Each target restarted and warmed before each level; streams start over ~1 s. KB/stream = (peak RSS − RSS before) ÷ streams requested; "max open" = streams receiving at the same moment (if it is below the level, the rest waited: see late starts = first byte more than 1 s after the send); CPU = share of one core over the run.\n',
    );
    out.push(
      table(
        ['target', 'streams', 'done', 'max open', 'lost', 'out of order', 'stalls', 'late starts', 'errors', '1st byte p99', 'gap p99', 'gap max', 'RSS before MB', 'peak MB', 'KB/stream', 'CPU', 'metered'],
        C.map((r) => [
          r.target,
          String(r.streams),
          String(r.completed),
          String(r.maxOpen),
          String(r.lostEvents),
          String(r.corrupt),
          String(r.stalls),
          String(r.lateStarts),
          String(r.errors),
          f(r.ttfbP99, 1),
          f(r.gapP99, 1),
          f(r.gapMax, 1),
          f(r.baselineRssMB, 1),
          f(r.peakRssMB, 1),
          f(r.kbPerStream, 1),
          Number.isFinite(r.cpuCores) ? `${f(r.cpuCores * 100, 0)}%` : '–',
          r.metered,
        ]),
      ),
    );
  }
  const B = res.phases.bodies;
  if (B) {
    out.push('## 5. Request body size\n');
    out.push(
      table(
        ['target', 'prompt tokens', 'body KB', 'p50', 'p99', 'added p50', 'added p99', 'CPU ms/req', 'errors'],
        B.map((r) => [r.target, String(r.tokens), f(r.bytes / 1024, 0), f(r.p50), f(r.p99), signed(r.addedP50), signed(r.addedP99), f(r.cpuMsPerReq, 3), String(r.errors)]),
      ),
    );
  }
  return out.join('\n');
}

export function renderProfileMarkdown(meta: BenchResults['meta'], profiles: { name: string; what: string; summary: ProfileSummary }[], micro: MicroResult[]): string {
  const out: string[] = [];
  out.push('# spendcap CPU profile (node --cpu-prof)\n');
  out.push(`${meta.date} · ${meta.machine.cpu}, ${meta.machine.cores} cores · Node ${meta.node} · git ${meta.gitRev}${meta.gitDirty ? ' (src/ had uncommitted changes)' : ''}\n`);
  out.push('Main-thread samples of one proxy process per workload. µs/req = sampled time ÷ requests served in the workload (profiling itself adds some overhead).\n');
  out.push('## Micro-benchmarks of the hot spots (in-process, no network)\n');
  out.push(table(['operation', 'µs per op (mean)', 'p50', 'p99', 'max', 'note'], micro.map((m) => [m.what, f(m.usPerOp, 1), f(m.p50 ?? Number.NaN, 1), f(m.p99 ?? Number.NaN, 1), f(m.max ?? Number.NaN, 0), m.note])));
  out.push('## Profiles\n');
  for (const p of profiles) {
    const s = p.summary;
    out.push(`## ${p.name}: ${p.what}\n`);
    out.push(`${s.requests} requests, ${f(s.busyMs, 0)} ms busy, **${f(s.usPerReq, 1)} µs per request**.\n`);
    out.push('### By area (self time)\n');
    out.push(table(['area', 'ms', 'µs/req', '%'], s.byArea.map((c) => [c.fn, f(c.ms, 0), f(c.usPerReq, 1), f(c.pct, 1)])));
    out.push('### spendcap functions, inclusive\n');
    out.push(table(['function', 'ms', 'µs/req', '%'], s.spendcapInclusive.map((c) => [`\`${c.fn}\``, f(c.ms, 0), f(c.usPerReq, 1), f(c.pct, 1)])));
    out.push('### Top self time\n');
    out.push(table(['function', 'ms', 'µs/req', '%'], s.self.map((c) => [`\`${c.fn}\``, f(c.ms, 0), f(c.usPerReq, 1), f(c.pct, 1)])));
  }
  return out.join('\n');
}
