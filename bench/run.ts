// The long benchmark: `npm run bench:full` (~8 min) or `npm run bench:full -- --quick` (< 1 min); `npm run bench` is the ratio run (ratios.ts).
// `npm run bench:full -- --profile` instead runs spendcap alone under `node --cpu-prof` and sums up hot spots.
//
// One local mock upstream; every target is its own child process; the load generator is another.
// Results: bench/results/latest.json and latest.md (with --quick: quick.json / quick.md as well).

import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, release, tmpdir, totalmem, type as osType } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FRAMING_EVENTS, freePort, median, percentile, round, sampleProcs, sleep } from './common.js';
import type { MockConfig, MockStats } from './common.js';
import { LoadGen } from './loadgen-client.js';
import { runMicro } from './micro.js';
import { summarizeProfile } from './profile.js';
import type { ProfileSummary } from './profile.js';
import { renderMarkdown, renderProfileMarkdown } from './report.js';
import type { BenchResults, BodyRow, Check, ConcurrentRow, LatencyRow, StreamRow, TargetInfo, ThroughputRow, ThroughputStep } from './report.js';
import {
  DirectTarget,
  FloorTarget,
  findNginx,
  forkHelper,
  liveChildren,
  NginxTarget,
  PortkeyTarget,
  portkeyInstalled,
  PROVIDER_KEY,
  SpendcapTarget,
  stopChild,
} from './targets.js';
import type { Env, Target, TargetName } from './targets.js';

// ---------------------------------------------------------------------------
// Plan

interface Plan {
  latency: { rounds: number; json: number; stream: number; warmup: number };
  streaming: { count: number; chunks: number; intervalMs: number };
  /** Rates climb from `start` up the ladder; a target that fails the start rate walks down it instead. */
  throughput: { delays: number[]; stepMs: number; warmupMs: number; levels: number[]; start: number; targets: TargetName[] | null };
  concurrent: { levels: number[]; chunks: number; intervalMs: number; rampMs: number };
  bodies: { rounds: number; sizes: { tokens: number; count: number }[] };
  watchdogMs: number;
}

const FULL: Plan = {
  latency: { rounds: 8, json: 150, stream: 60, warmup: 10 },
  streaming: { count: 20, chunks: 50, intervalMs: 10 },
  throughput: { delays: [0, 20], stepMs: 1500, warmupMs: 300, levels: [50, 100, 175, 250, 375, 500, 750, 1000, 1250, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10_000, 12_000, 16_000], start: 250, targets: null },
  concurrent: { levels: [100, 500, 1000], chunks: 40, intervalMs: 100, rampMs: 1000 },
  bodies: { rounds: 4, sizes: [{ tokens: 1_000, count: 40 }, { tokens: 10_000, count: 40 }, { tokens: 100_000, count: 20 }] },
  watchdogMs: 15 * 60_000,
};

const QUICK: Plan = {
  latency: { rounds: 3, json: 50, stream: 20, warmup: 5 },
  streaming: { count: 4, chunks: 30, intervalMs: 10 },
  throughput: { delays: [0], stepMs: 500, warmupMs: 150, levels: [50, 100, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000, 8000], start: 250, targets: ['spendcap', 'floor', 'portkey'] },
  concurrent: { levels: [1000], chunks: 15, intervalMs: 100, rampMs: 800 },
  bodies: { rounds: 1, sizes: [{ tokens: 1_000, count: 15 }, { tokens: 10_000, count: 15 }, { tokens: 100_000, count: 8 }] },
  watchdogMs: 3 * 60_000,
};

const P99_LIMIT_MS = 10;
/** A paced stream whose first byte takes longer than this was queued, not served: counted as a stall. */
const LATE_START_MS = 1000;
/** Client connections of the fixed-rate load: enough for 5000 req/s at 20 ms, few enough that no connection storm hits the target. */
const CLIENT_CONNECTIONS = 256;

type PhaseName = 'latency' | 'streaming' | 'throughput' | 'concurrent' | 'bodies';
const PHASES: PhaseName[] = ['latency', 'streaming', 'throughput', 'concurrent', 'bodies'];
const TARGETS: TargetName[] = ['direct', 'spendcap', 'floor', 'portkey', 'nginx'];
const WHATIFS = ['checkpoint', 'connections', 'diag'];

interface Options {
  quick: boolean;
  profile: boolean;
  phases: Set<PhaseName>;
  /** Targets to run (direct is always run: it is the baseline). */
  targets: Set<TargetName> | null;
  /** What-if flags for the spendcap process (bench/whatif.ts); results go to whatif-*.json/md. */
  whatif: string[];
  /** Re-render the checks and Markdown of an existing results JSON instead of running. */
  render: string | null;
  outDir: string;
}

function parseArgs(argv: string[], repo: string): Options {
  const opts: Options = { quick: false, profile: false, phases: new Set(PHASES), targets: null, whatif: [], render: null, outDir: join(repo, 'bench', 'results') };
  for (const a of argv) {
    if (a === '--quick') opts.quick = true;
    else if (a === '--profile') opts.profile = true;
    else if (a.startsWith('--phases=')) {
      const names = a.slice('--phases='.length).split(',');
      for (const n of names) if (!PHASES.includes(n as PhaseName)) throw new Error(`unknown phase "${n}"; phases: ${PHASES.join(', ')}`);
      opts.phases = new Set(names as PhaseName[]);
    } else if (a.startsWith('--targets=')) {
      const names = a.slice('--targets='.length).split(',');
      for (const n of names) if (!TARGETS.includes(n as TargetName)) throw new Error(`unknown target "${n}"; targets: ${TARGETS.join(', ')}`);
      opts.targets = new Set(['direct', ...names] as TargetName[]);
    } else if (a.startsWith('--whatif=')) {
      opts.whatif = a.slice('--whatif='.length).split(',');
      for (const w of opts.whatif) if (!WHATIFS.includes(w)) throw new Error(`unknown what-if "${w}"; known: ${WHATIFS.join(', ')}`);
    } else if (a.startsWith('--render=')) opts.render = resolve(a.slice('--render='.length));
    else if (a.startsWith('--out=')) opts.outDir = resolve(a.slice('--out='.length));
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: npm run bench:full [-- --quick] [-- --profile] [-- --phases=latency,streaming,throughput,concurrent,bodies] [-- --targets=spendcap,floor,portkey,nginx] [-- --whatif=checkpoint,connections,diag] [-- --render=RESULTS.json] [-- --out=DIR]\n');
      process.exit(0);
    } else throw new Error(`unknown argument "${a}" (try --help)`);
  }
  return opts;
}

// ---------------------------------------------------------------------------
// Plumbing: the load generator, the mock's knobs, request bodies

async function configureMock(port: number, cfg: Partial<MockConfig>): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/__config`, { method: 'POST', body: JSON.stringify(cfg) });
  await res.text();
  if (!res.ok) throw new Error(`mock config failed: ${res.status}`);
}

async function mockStats(port: number): Promise<MockStats> {
  const res = await fetch(`http://127.0.0.1:${port}/__stats`);
  return (await res.json()) as MockStats;
}

const WORDS = 'the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing matches near the river bank'.split(' ');

/** An Anthropic Messages body; `promptTokens` sizes the user text at ~4 characters per token. */
function messageBody(stream: boolean, promptTokens = 20): string {
  const chars = promptTokens * 4;
  let text = '';
  for (let i = 0; text.length < chars; i++) text += WORDS[i % WORDS.length]! + ' ';
  return JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 256, stream, messages: [{ role: 'user', content: text.slice(0, chars) }] });
}

/** Deterministic shuffle (mulberry32), so a run's visiting order can be reproduced. */
function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rng = makeRng(20_260_101);
function shuffled<T>(xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** Runs `fn` while sampling the processes' CPU and RSS every `everyMs`. */
async function sampled<T>(pids: number[], fn: () => Promise<T>, everyMs = 100): Promise<{ result: T; cpuSec: number; wallSec: number; startRss: number; peakRss: number }> {
  const s0 = sampleProcs(pids);
  let peakRss = s0.rssBytes;
  const t0 = performance.now();
  const timer = setInterval(() => {
    const s = sampleProcs(pids);
    if (s.rssBytes > peakRss) peakRss = s.rssBytes;
  }, everyMs);
  try {
    const result = await fn();
    const s1 = sampleProcs(pids);
    if (s1.rssBytes > peakRss) peakRss = s1.rssBytes;
    return { result, cpuSec: s1.cpuSec - s0.cpuSec, wallSec: (performance.now() - t0) / 1000, startRss: s0.rssBytes, peakRss };
  } finally {
    clearInterval(timer);
  }
}

// ---------------------------------------------------------------------------
// Setup and checks

interface Ctx {
  env: Env;
  plan: Plan;
  gen: LoadGen;
  targets: Target[];
  direct: Target;
  spendcap: SpendcapTarget;
  notes: string[];
}

/** One JSON and one stream request through the target; checks that it reached the mock with the provider key. */
async function verifyTarget(ctx: Ctx, t: Target): Promise<string | null> {
  const before = await mockStats(ctx.env.mockPort);
  await configureMock(ctx.env.mockPort, { delayMs: 0, chunks: 5, intervalMs: 1 });
  const json = await ctx.gen.run({ kind: 'seq', ep: t.endpoint(), body: messageBody(false), stream: false, count: 1, warmup: 0 });
  const stream = await ctx.gen.run({
    kind: 'streams',
    ep: t.endpoint(),
    body: messageBody(true),
    count: 1,
    concurrency: 1,
    rampMs: 0,
    expectedDeltas: 5,
    expectedEvents: 5 + FRAMING_EVENTS,
    intervalMs: 1,
    stallMs: 1000,
    timeoutMs: 10_000,
  });
  const after = await mockStats(ctx.env.mockPort);
  if (json.errors > 0) return `JSON request failed: ${json.firstError}`;
  if (stream.errors > 0 || stream.completed !== 1) return `stream request failed: ${stream.firstError}`;
  if (stream.lostEvents > 0 || stream.corrupt > 0) return `stream arrived damaged (${stream.lostEvents} events lost, ${stream.corrupt} out of order)`;
  if (after.messages - before.messages !== 2) return `expected 2 requests at the mock, saw ${after.messages - before.messages}`;
  if (after.lastApiKey !== PROVIDER_KEY) return `the mock got x-api-key ${JSON.stringify(after.lastApiKey)}, not the provider key`;
  return null;
}

// ---------------------------------------------------------------------------
// Phase 1: added latency, one request at a time

async function phaseLatency(ctx: Ctx): Promise<LatencyRow[]> {
  const p = ctx.plan.latency;
  log(`phase 1: latency, ${p.rounds} rounds × (${p.json} JSON + ${p.stream} streams) per target, shuffled`);
  const jsonBody = messageBody(false);
  const streamBody = messageBody(true);
  const per = new Map<TargetName, { jsonMed: number[]; jsonAll: number[]; ttfbMed: number[]; ttfbAll: number[]; errors: number; firstError: string | null }>();
  for (const t of ctx.targets) per.set(t.name, { jsonMed: [], jsonAll: [], ttfbMed: [], ttfbAll: [], errors: 0, firstError: null });
  // First-byte needs a stream that is still open after its first event: three deltas 1 ms apart.
  await configureMock(ctx.env.mockPort, { delayMs: 0, chunks: 3, intervalMs: 1 });
  for (let r = 0; r < p.rounds; r++) {
    for (const t of shuffled(ctx.targets)) {
      const acc = per.get(t.name)!;
      const j = await ctx.gen.run({ kind: 'seq', ep: t.endpoint(), body: jsonBody, stream: false, count: p.json, warmup: p.warmup });
      const s = await ctx.gen.run({ kind: 'seq', ep: t.endpoint(), body: streamBody, stream: true, count: p.stream, warmup: p.warmup });
      acc.jsonMed.push(median(j.samples));
      acc.jsonAll.push(...j.samples);
      acc.ttfbMed.push(median(s.samples));
      acc.ttfbAll.push(...s.samples);
      acc.errors += j.errors + s.errors;
      acc.firstError ??= j.firstError ?? s.firstError;
    }
  }
  const stat = (name: TargetName): { jp50: number; jp99: number; sp50: number; sp99: number } => {
    const a = per.get(name)!;
    const js = [...a.jsonAll].sort((x, y) => x - y);
    const ss = [...a.ttfbAll].sort((x, y) => x - y);
    return { jp50: median(a.jsonMed), jp99: percentile(js, 99), sp50: median(a.ttfbMed), sp99: percentile(ss, 99) };
  };
  const d = stat('direct');
  return ctx.targets.map((t) => {
    const s = stat(t.name);
    const a = per.get(t.name)!;
    return {
      target: t.name,
      json: { p50: s.jp50, p99: s.jp99, addedP50: s.jp50 - d.jp50, addedP99: s.jp99 - d.jp99, n: a.jsonAll.length },
      streamFirstByte: { p50: s.sp50, p99: s.sp99, addedP50: s.sp50 - d.sp50, addedP99: s.sp99 - d.sp99, n: a.ttfbAll.length },
      errors: a.errors,
      firstError: a.firstError,
    };
  });
}

// ---------------------------------------------------------------------------
// Phase 2: streaming fidelity

async function phaseStreaming(ctx: Ctx): Promise<StreamRow[]> {
  const p = ctx.plan.streaming;
  log(`phase 2: streaming, ${p.count} streams of ${p.chunks} deltas every ${p.intervalMs} ms per target`);
  await configureMock(ctx.env.mockPort, { delayMs: 0, chunks: p.chunks, intervalMs: p.intervalMs });
  const body = messageBody(true);
  const rows = new Map<TargetName, StreamRow>();
  for (const t of shuffled(ctx.targets)) {
    const ledgerBefore = t === ctx.spendcap ? ctx.spendcap.ledger() : null;
    const r = await ctx.gen.run({
      kind: 'streams',
      ep: t.endpoint(),
      body,
      count: p.count,
      concurrency: 1,
      rampMs: 0,
      expectedDeltas: p.chunks,
      expectedEvents: p.chunks + FRAMING_EVENTS,
      intervalMs: p.intervalMs,
      stallMs: Math.max(3 * p.intervalMs, p.intervalMs + 100),
      timeoutMs: 10_000,
    });
    let metered: string = 'n/a (no metering)';
    if (ledgerBefore) {
      await sleep(50);
      const after = ctx.spendcap.ledger();
      const okRows = after.ok - ledgerBefore.ok;
      const tokens = after.okOutputTokens - ledgerBefore.okOutputTokens;
      metered = okRows === r.completed && tokens === r.completed * p.chunks ? `yes (${okRows} ledger rows, ${tokens} output tokens)` : `NO: ${okRows} ok rows, ${tokens} output tokens for ${r.completed} streams`;
    }
    rows.set(t.name, {
      target: t.name,
      streams: r.started,
      completed: r.completed,
      errors: r.errors,
      firstError: r.firstError,
      lostEvents: r.lostEvents,
      corrupt: r.corrupt,
      stalls: r.stalls,
      ttfbP50: r.ttfb.p50,
      ttfbP99: r.ttfb.p99,
      gapP50: r.gap.p50,
      gapP99: r.gap.p99,
      gapMax: r.gap.max,
      lagP99: r.lag.p99,
      lagMax: r.lag.max,
      addedTtfbP50: 0,
      addedGapP99: 0,
      addedLagMax: 0,
      metered,
    });
  }
  const d = rows.get('direct')!;
  return ctx.targets.map((t) => {
    const row = rows.get(t.name)!;
    row.addedTtfbP50 = row.ttfbP50 - d.ttfbP50;
    row.addedGapP99 = row.gapP99 - d.gapP99;
    row.addedLagMax = row.lagMax - d.lagMax;
    return row;
  });
}

// ---------------------------------------------------------------------------
// Phase 3: throughput at p99 < 10 ms

/** The p99 a step must stay under: 10 ms of its own on top of what the upstream takes. */
const p99Limit = (delayMs: number): number => P99_LIMIT_MS + delayMs;

async function rateStep(ctx: Ctx, t: Target, rate: number, body: string, delayMs: number): Promise<ThroughputStep> {
  const p = ctx.plan.throughput;
  const s = await sampled(t.pids(), () =>
    ctx.gen.run({ kind: 'rate', ep: t.endpoint(), body, rate, durationMs: p.stepMs, warmupMs: p.warmupMs, connections: CLIENT_CONNECTIONS, timeoutMs: 5000 }),
  );
  const r = s.result;
  const total = r.counted + Math.floor((rate * p.warmupMs) / 1000);
  return {
    rate,
    p50: r.p50,
    p99: r.p99,
    max: r.max,
    errors: r.errors,
    firstError: r.firstError,
    pass: r.errors === 0 && r.p99 < p99Limit(delayMs),
    cpuUsPerReq: t.pids().length > 0 && total > 0 ? (s.cpuSec * 1e6) / total : Number.NaN,
    cpuCores: s.wallSec > 0 ? s.cpuSec / s.wallSec : Number.NaN,
    sendLagP99: r.sendLagP99,
  };
}

async function phaseThroughput(ctx: Ctx): Promise<ThroughputRow[]> {
  const p = ctx.plan.throughput;
  const targets = ctx.targets.filter((t) => p.targets === null || p.targets.includes(t.name));
  log(
    `phase 3: throughput, highest fixed rate with p99 < upstream delay + ${P99_LIMIT_MS} ms and no errors; upstream delay ${p.delays.join(' and ')} ms; ` +
      `targets climb a ladder of rates together, in shuffled order, so this machine's noisy spells hit them alike`,
  );
  const body = messageBody(false);
  const rows: ThroughputRow[] = [];
  for (const delay of p.delays) {
    await configureMock(ctx.env.mockPort, { delayMs: delay, chunks: 10, intervalMs: 0 });
    const state = new Map<TargetName, { level: number; best: number; failedOnce: boolean; down: boolean; done: boolean; steps: ThroughputStep[] }>();
    const first = Math.max(0, p.levels.indexOf(p.start));
    for (const t of targets) state.set(t.name, { level: first, best: 0, failedOnce: false, down: false, done: false, steps: [] });
    for (let pass = 0; pass < 3 * p.levels.length; pass++) {
      const active = targets.filter((t) => !state.get(t.name)!.done);
      if (active.length === 0) break;
      for (const t of shuffled(active)) {
        const st = state.get(t.name)!;
        const rate = p.levels[st.level]!;
        const step = await rateStep(ctx, t, rate, body, delay);
        await sleep(200);
        if (step.pass) {
          st.best = rate;
          st.failedOnce = false;
          st.level++;
          if (st.down || st.level >= p.levels.length) st.done = true;
        } else if (!st.failedOnce && step.errors === 0) {
          // A rate fails only if it fails twice: the second try comes after the other targets' turns.
          st.failedOnce = true;
          step.retried = true;
        } else if (st.best === 0 && st.level > 0) {
          // Failed the starting rate: walk down the ladder until a rate passes.
          st.down = true;
          st.failedOnce = false;
          st.level--;
        } else st.done = true;
        st.steps.push(step);
      }
    }
    for (const t of targets) {
      const st = state.get(t.name)!;
      const at = st.steps.filter((s) => s.pass && s.rate === st.best).pop();
      log(`  ${t.name} @ ${delay} ms: ${st.best} req/s (${st.steps.map((s) => `${s.rate}${s.pass ? '✓' : s.retried ? '?' : '✗'}`).join(' ')})`);
      rows.push({ target: t.name, delayMs: delay, maxRate: st.best, p99AtMax: at?.p99 ?? Number.NaN, cpuUsPerReqAtMax: at?.cpuUsPerReq ?? Number.NaN, steps: st.steps });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------
// Phase 4: many concurrent paced streams

async function phaseConcurrent(ctx: Ctx): Promise<ConcurrentRow[]> {
  const p = ctx.plan.concurrent;
  log(`phase 4: concurrent streams ${p.levels.join(', ')}; ${p.chunks} deltas every ${p.intervalMs} ms; each target restarted before each level`);
  const body = messageBody(true);
  const rows: ConcurrentRow[] = [];
  for (const n of p.levels) {
    for (const t of shuffled(ctx.targets)) {
      // A fresh process, warmed with a few streams, so the baseline is not another phase's heap.
      await t.stop();
      await t.start();
      await configureMock(ctx.env.mockPort, { delayMs: 0, chunks: 5, intervalMs: 1 });
      await ctx.gen.run({ kind: 'streams', ep: t.endpoint(), body, count: 50, concurrency: 10, rampMs: 0, expectedDeltas: 5, expectedEvents: 5 + FRAMING_EVENTS, intervalMs: 1, stallMs: 5000, timeoutMs: 10_000 });
      await configureMock(ctx.env.mockPort, { delayMs: 0, chunks: p.chunks, intervalMs: p.intervalMs });
      await sleep(300);
      const ledgerBefore = t === ctx.spendcap ? ctx.spendcap.ledger() : null;
      const s = await sampled(
        t.pids(),
        () =>
          ctx.gen.run({
            kind: 'streams',
            ep: t.endpoint(),
            body,
            count: n,
            concurrency: n,
            rampMs: p.rampMs,
            expectedDeltas: p.chunks,
            expectedEvents: p.chunks + FRAMING_EVENTS,
            intervalMs: p.intervalMs,
            stallMs: Math.max(3 * p.intervalMs, p.intervalMs + 200),
            lateStartMs: LATE_START_MS,
            timeoutMs: 30_000,
          }),
        50,
      );
      const r = s.result;
      let metered = 'n/a';
      if (ledgerBefore) {
        await sleep(100);
        const after = ctx.spendcap.ledger();
        const okRows = after.ok - ledgerBefore.ok;
        const tokens = after.okOutputTokens - ledgerBefore.okOutputTokens;
        metered = okRows === r.completed && tokens === r.completed * p.chunks ? `yes (${okRows} rows)` : `NO: ${okRows} ok rows, ${tokens} tokens for ${r.completed} streams`;
      }
      const hasProc = t.pids().length > 0;
      const row: ConcurrentRow = {
        target: t.name,
        streams: n,
        completed: r.completed,
        errors: r.errors,
        firstError: r.firstError,
        maxOpen: r.maxOpen,
        lostEvents: r.lostEvents,
        corrupt: r.corrupt,
        stalls: r.stalls,
        lateStarts: r.lateStarts,
        ttfbP99: r.ttfb.p99,
        gapP99: r.gap.p99,
        gapMax: r.gap.max,
        lagP99: r.lag.p99,
        baselineRssMB: hasProc ? s.startRss / 2 ** 20 : Number.NaN,
        peakRssMB: hasProc ? s.peakRss / 2 ** 20 : Number.NaN,
        kbPerStream: hasProc ? (s.peakRss - s.startRss) / 1024 / n : Number.NaN,
        cpuCores: hasProc ? s.cpuSec / s.wallSec : Number.NaN,
        cpuUsPerChunk: hasProc ? (s.cpuSec * 1e6) / (n * (p.chunks + FRAMING_EVENTS)) : Number.NaN,
        metered,
      };
      log(
        `  ${t.name} ×${n}: ${r.completed}/${n} done, max open ${r.maxOpen}, lost ${r.lostEvents}, stalls ${r.stalls}, late starts ${r.lateStarts}, gap p99 ${round(r.gap.p99, 1)} ms` +
          (hasProc ? `, ${round(row.kbPerStream, 1)} KB/stream, ${round(row.cpuCores * 100, 0)}% CPU` : ''),
      );
      rows.push(row);
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------
// Phase 5: request bodies of 1k, 10k, 100k tokens

async function phaseBodies(ctx: Ctx): Promise<BodyRow[]> {
  const p = ctx.plan.bodies;
  log(`phase 5: request bodies ${p.sizes.map((s) => `${s.tokens / 1000}k`).join(', ')} tokens, ${p.rounds} rounds`);
  await configureMock(ctx.env.mockPort, { delayMs: 0, chunks: 10, intervalMs: 0 });
  const samples = new Map<string, { med: number[]; all: number[]; errors: number; cpuSec: number }>();
  const key = (t: TargetName, tokens: number): string => `${t}:${tokens}`;
  for (let r = 0; r < p.rounds; r++) {
    for (const size of p.sizes) {
      const body = messageBody(false, size.tokens);
      for (const t of shuffled(ctx.targets)) {
        const s = await sampled(t.pids(), () => ctx.gen.run({ kind: 'seq', ep: t.endpoint(), body, stream: false, count: size.count, warmup: 3 }), 1000);
        const acc = samples.get(key(t.name, size.tokens)) ?? { med: [], all: [], errors: 0, cpuSec: 0 };
        acc.med.push(median(s.result.samples));
        acc.all.push(...s.result.samples);
        acc.errors += s.result.errors;
        acc.cpuSec += s.cpuSec;
        samples.set(key(t.name, size.tokens), acc);
      }
    }
  }
  const rows: BodyRow[] = [];
  for (const size of p.sizes) {
    const d = samples.get(key('direct', size.tokens))!;
    const dp50 = median(d.med);
    const dp99 = percentile([...d.all].sort((a, b) => a - b), 99);
    for (const t of ctx.targets) {
      const a = samples.get(key(t.name, size.tokens))!;
      const p50 = median(a.med);
      const p99 = percentile([...a.all].sort((x, y) => x - y), 99);
      rows.push({
        target: t.name,
        tokens: size.tokens,
        bytes: Buffer.byteLength(messageBody(false, size.tokens)),
        p50,
        p99,
        addedP50: p50 - dp50,
        addedP99: p99 - dp99,
        errors: a.errors,
        cpuMsPerReq: t.pids().length > 0 ? (a.cpuSec * 1000) / ((size.count + 3) * p.rounds) : Number.NaN,
      });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------
// Checks against the issue's targets

function checks(res: BenchResults): Check[] {
  const out: Check[] = [];
  const lat = res.phases.latency;
  const sc = lat?.find((r) => r.target === 'spendcap');
  const fl = lat?.find((r) => r.target === 'floor');
  if (sc) {
    out.push({ what: 'added latency p50 (JSON) ≤ 0.5 ms', value: `${round(sc.json.addedP50, 3)} ms`, pass: sc.json.addedP50 <= 0.5 });
    out.push({ what: 'added latency p99 (JSON) ≤ 1 ms', value: `${round(sc.json.addedP99, 3)} ms`, pass: sc.json.addedP99 <= 1 });
    if (fl) {
      const ratio = sc.json.p50 / fl.json.p50;
      out.push({ what: 'end-to-end p50 (JSON) within 1.3× of the floor', value: `${round(ratio, 2)}× (added: ${round(sc.json.addedP50, 3)} vs ${round(fl.json.addedP50, 3)} ms)`, pass: ratio <= 1.3 });
    }
    out.push({ what: 'stream first byte adds ≤ 1 ms (p50)', value: `${round(sc.streamFirstByte.addedP50, 3)} ms (p99 +${round(sc.streamFirstByte.addedP99, 3)} ms)`, pass: sc.streamFirstByte.addedP50 <= 1 });
  }
  const conc = res.phases.concurrent;
  const top = conc ? Math.max(...conc.map((r) => r.streams)) : 0;
  const c = conc?.find((r) => r.target === 'spendcap' && r.streams === top);
  if (c) {
    out.push({
      what: `no lost or stalled chunks at ${top} concurrent streams (all open at once, first byte within 1 s)`,
      value: `${c.completed}/${c.streams} completed, ${c.lostEvents} lost, ${c.corrupt} out of order, ${c.stalls} stalls between deltas, ${c.lateStarts} late starts (first byte p99 ${round(c.ttfbP99, 0)} ms, at most ${c.maxOpen} open at once), ${c.errors} errors`,
      pass: c.completed === c.streams && c.lostEvents === 0 && c.corrupt === 0 && c.stalls === 0 && c.lateStarts === 0 && c.errors === 0,
    });
    const perOpen = c.maxOpen > 0 ? (c.kbPerStream * c.streams) / c.maxOpen : Number.NaN;
    out.push({
      what: 'memory ≤ 50 KB per extra open stream',
      value:
        c.maxOpen < c.streams
          ? `${round(c.kbPerStream, 1)} KB per requested stream at ${top}, but only ${c.maxOpen} were open at once: ${round(perOpen, 1)} KB per open stream`
          : `${round(c.kbPerStream, 1)} KB at ${top} streams`,
      pass: c.kbPerStream <= 50 && c.maxOpen === c.streams,
    });
  }
  const tp = res.phases.throughput;
  for (const delay of new Set(tp?.map((r) => r.delayMs) ?? [])) {
    const get = (n: TargetName): number | undefined => tp?.find((r) => r.target === n && r.delayMs === delay)?.maxRate;
    const s = get('spendcap');
    const f = get('floor');
    const pk = get('portkey');
    if (s !== undefined && f !== undefined) out.push({ what: `throughput ≥ 0.8× the floor (${delay} ms upstream)`, value: `${s} vs ${f} req/s = ${round(s / f, 2)}×`, pass: s >= 0.8 * f });
    if (s !== undefined && pk !== undefined) {
      const lowest = tp?.find((r) => r.target === 'portkey' && r.delayMs === delay)?.steps.reduce((m, st) => Math.min(m, st.rate), Number.POSITIVE_INFINITY) ?? 0;
      out.push({
        what: `throughput ≥ 3× Portkey (${delay} ms upstream)`,
        value: pk > 0 ? `${s} vs ${pk} req/s = ${round(s / pk, 2)}×` : `${s} req/s vs Portkey: no rate passed (not even ${lowest} req/s)`,
        pass: s >= 3 * pk && s > 0,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Profile mode

interface ProfiledTarget extends Target {
  readonly profileDir: string;
}

async function runProfile(env: Env, gen: LoadGen, opts: Options, repo: string): Promise<void> {
  const profDir = join(env.workDir, 'prof');
  const spendcap = (name: string): ProfiledTarget => {
    const dir = join(profDir, name);
    return Object.assign(new SpendcapTarget({ ...env, spendcapNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] }, `spendcap-data-${name}`), { profileDir: dir });
  };
  const floor = (name: string): ProfiledTarget => {
    const dir = join(profDir, name);
    return Object.assign(new FloorTarget({ ...env, floorNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] }), { profileDir: dir });
  };
  const json = async (t: Target): Promise<number> => {
    await configureMock(env.mockPort, { delayMs: 0, chunks: 10, intervalMs: 0 });
    const r = await gen.run({ kind: 'rate', ep: t.endpoint(), body: messageBody(false), rate: 1000, durationMs: 8000, warmupMs: 0, connections: 256, timeoutMs: 5000 });
    return r.ok;
  };
  const streams = async (t: Target): Promise<number> => {
    await configureMock(env.mockPort, { delayMs: 0, chunks: 50, intervalMs: 5 });
    const r = await gen.run({ kind: 'streams', ep: t.endpoint(), body: messageBody(true), count: 2000, concurrency: 200, rampMs: 500, expectedDeltas: 50, expectedEvents: 50 + FRAMING_EVENTS, intervalMs: 5, stallMs: 5000, timeoutMs: 30_000 });
    return r.completed;
  };
  const big = async (t: Target): Promise<number> => {
    await configureMock(env.mockPort, { delayMs: 0, chunks: 10, intervalMs: 0 });
    const r = await gen.run({ kind: 'seq', ep: t.endpoint(), body: messageBody(false, 100_000), stream: false, count: 300, warmup: 0 });
    return r.samples.length;
  };
  // Issue 12's scenario: OpenAI chat, a 5-token JSON reply, 32 keep-alive clients in a closed loop.
  const chat = async (t: Target): Promise<number> => {
    await configureMock(env.mockPort, { delayMs: 0, chunks: 10, intervalMs: 0 });
    const ep = (t as SpendcapTarget).chatEndpoint();
    const body = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'Say five words, please.' }] });
    const r = await gen.run({ kind: 'closed', ep, body, concurrency: 32, durationMs: 6000, warmupMs: 0, timeoutMs: 10_000 });
    return r.ok;
  };
  const workloads: { name: string; what: string; target: ProfiledTarget; run: (t: Target) => Promise<number> }[] = [
    { name: 'spendcap-chat', what: 'spendcap: OpenAI chat JSON, 32 clients in a closed loop for 6 s (issue 12)', target: spendcap('chat'), run: chat },
    { name: 'spendcap-json', what: 'spendcap: JSON requests at a fixed 1000 req/s for 8 s (prompt ~20 tokens, 0 ms upstream)', target: spendcap('json'), run: json },
    { name: 'floor-json', what: 'the floor (raw Node pipe), same JSON load: the cost of the HTTP hop itself', target: floor('floor-json'), run: json },
    { name: 'spendcap-stream', what: 'spendcap: 2000 streams, 200 open at a time, 50 deltas 5 ms apart', target: spendcap('stream'), run: streams },
    { name: 'floor-stream', what: 'the floor, same streams', target: floor('floor-stream'), run: streams },
    { name: 'spendcap-body100k', what: 'spendcap: 300 JSON requests one at a time with a 100k-token (~400 KB) prompt', target: spendcap('body100k'), run: big },
  ];
  const summaries: { name: string; what: string; summary: ProfileSummary }[] = [];
  // BENCH_PROFILE_ONLY=spendcap-json,floor-json profiles just those workloads (a quicker loop while tuning).
  const only = process.env.BENCH_PROFILE_ONLY?.split(',');
  for (const w of workloads) {
    if (only !== undefined && !only.includes(w.name)) continue;
    mkdirSync(w.target.profileDir, { recursive: true });
    await w.target.start();
    const requests = await w.run(w.target);
    await w.target.stop();
    const files = readdirSync(w.target.profileDir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length === 0) throw new Error(`no .cpuprofile written in ${w.target.profileDir}`);
    const summary = summarizeProfile(join(w.target.profileDir, files[0]!), requests);
    summaries.push({ name: w.name, what: w.what, summary });
    log(`profile ${w.name}: ${requests} requests, ${round(summary.usPerReq, 1)} µs CPU (main thread, sampled) per request`);
  }
  log('micro-benchmarks of the hot spots (in-process)');
  const micro = only === undefined ? await runMicro(repo) : [];
  mkdirSync(opts.outDir, { recursive: true });
  const meta = machineMeta(repo);
  writeFileSync(join(opts.outDir, 'profile-latest.json'), JSON.stringify({ meta, profiles: summaries, micro }, null, 2) + '\n');
  writeFileSync(join(opts.outDir, 'profile-latest.md'), renderProfileMarkdown(meta, summaries, micro));
  log(`wrote ${join(opts.outDir, 'profile-latest.md')}`);
}

// ---------------------------------------------------------------------------
// Main

function git(repo: string, args: string[]): string {
  try {
    return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function machineMeta(repo: string): BenchResults['meta'] {
  const c = cpus();
  return {
    date: new Date().toISOString(),
    mode: 'full',
    machine: { host: hostname(), os: `${osType()} ${release()}`, cpu: c[0]?.model ?? 'unknown', cores: c.length, memGB: round(totalmem() / 2 ** 30, 1) },
    node: process.version,
    gitRev: git(repo, ['rev-parse', '--short', 'HEAD']),
    gitDirty: git(repo, ['status', '--porcelain', '--', 'src']) !== '',
    durationSec: 0,
  };
}

async function main(): Promise<number> {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const opts = parseArgs(process.argv.slice(2), repo);
  if (opts.render !== null) {
    const res = JSON.parse(readFileSync(opts.render, 'utf8')) as BenchResults;
    res.checks = checks(res);
    writeFileSync(opts.render, JSON.stringify(res, null, 2) + '\n');
    writeFileSync(opts.render.replace(/\.json$/, '.md'), renderMarkdown(res));
    log(`re-rendered ${opts.render} and its .md`);
    return res.checks.every((c) => c.pass) ? 0 : 1;
  }
  const plan = opts.quick ? QUICK : FULL;
  const t0 = performance.now();
  const workDir = mkdtempSync(join(tmpdir(), 'spendcap-bench-'));
  const mockPort = await freePort();
  const env: Env = { repo, workDir, mockPort, spendcapNodeArgs: [] };
  if (opts.whatif.length > 0) {
    env.spendcapNodeArgs = ['--import', join(repo, 'dist', 'bench', 'whatif.js')];
    env.spendcapEnv = { SPENDCAP_BENCH_WHATIF: opts.whatif.join(',') };
    env.spendcapLabel = `, what-if: ${opts.whatif.join(' + ')}`;
  }
  const notes: string[] = [];

  // Everything stops by itself: a watchdog ends the run (and every child) if it overruns.
  const watchdog = setTimeout(() => {
    log(`watchdog: run exceeded ${plan.watchdogMs / 1000} s; stopping`);
    killAll();
    process.exit(2);
  }, plan.watchdogMs);
  watchdog.unref();

  const started: Target[] = [];
  let mock: ChildProcess | null = null;
  let gen: LoadGen | null = null;
  try {
    mock = await forkHelper(env, 'mock.js', [String(mockPort)], 'mock');
    gen = await LoadGen.start(env);
    if (opts.profile) {
      await runProfile(env, gen, opts, repo);
      return 0;
    }

    const direct = new DirectTarget(env);
    const spendcap = new SpendcapTarget(env);
    const candidates: Target[] = [direct, spendcap, new FloorTarget(env)];
    if (!opts.targets || opts.targets.has('portkey')) ensurePeers(repo, notes);
    if (portkeyInstalled(repo)) candidates.push(new PortkeyTarget(env));
    else notes.push('Portkey gateway skipped: bench/node_modules has no @portkey-ai/gateway (npm --prefix bench ci).');
    const nginx = findNginx();
    if (nginx) candidates.push(new NginxTarget(env, nginx));
    else notes.push('nginx skipped: no nginx binary found (as root: apt-get install -y nginx).');
    notes.push('spendcap with metering off: skipped, spendcap has no switch to turn metering off.');
    if (opts.whatif.length > 0) notes.push(`WHAT-IF RUN: spendcap ran with bench/whatif.ts (${opts.whatif.join(', ')}), an in-memory patch that previews a proposed fix; these are not spendcap's own numbers.`);

    const targets: Target[] = [];
    const info: TargetInfo[] = [];
    for (const t of candidates) {
      if (opts.targets && !opts.targets.has(t.name)) continue;
      try {
        await t.start();
        started.push(t);
      } catch (err) {
        if (t === spendcap || t === direct) throw err;
        notes.push(`${t.label} skipped: could not start (${(err as Error).message}).`);
        info.push({ name: t.name, label: t.label, included: false, note: (err as Error).message });
        continue;
      }
      const problem = await verifyTarget({ env, plan, gen, targets, direct, spendcap, notes }, t);
      if (problem) {
        if (t === spendcap || t === direct) throw new Error(`${t.label} failed its check: ${problem}`);
        notes.push(`${t.label} skipped: ${problem}.`);
        info.push({ name: t.name, label: t.label, included: false, note: problem });
        await t.stop();
        continue;
      }
      targets.push(t);
      info.push({ name: t.name, label: t.label, included: true, note: null });
      log(`target ready: ${t.label}`);
    }

    const ctx: Ctx = { env, plan, gen, targets, direct, spendcap, notes };
    const res: BenchResults = { meta: { ...machineMeta(repo), mode: opts.quick ? 'quick' : 'full' }, targets: info, notes, phases: {}, checks: [] };
    if (opts.phases.has('latency')) res.phases.latency = await phaseLatency(ctx);
    if (opts.phases.has('streaming')) res.phases.streaming = await phaseStreaming(ctx);
    if (opts.phases.has('throughput')) res.phases.throughput = await phaseThroughput(ctx);
    if (opts.phases.has('bodies')) res.phases.bodies = await phaseBodies(ctx);
    if (opts.phases.has('concurrent')) res.phases.concurrent = await phaseConcurrent(ctx);
    res.plan = plan;
    res.checks = checks(res);
    res.meta.durationSec = round((performance.now() - t0) / 1000, 1);

    mkdirSync(opts.outDir, { recursive: true });
    const base = opts.whatif.length > 0 ? `whatif-${opts.whatif.join('+')}${opts.quick ? '-quick' : ''}` : opts.quick ? 'quick' : 'latest';
    const md = renderMarkdown(res);
    writeFileSync(join(opts.outDir, `${base}.json`), JSON.stringify(res, null, 2) + '\n');
    writeFileSync(join(opts.outDir, `${base}.md`), md);
    // The everyday run also refreshes latest.* only when asked for the full set; --quick keeps its own files.
    process.stdout.write(md);
    log(`wrote ${join(opts.outDir, `${base}.json`)} and .md in ${res.meta.durationSec} s`);
    return res.checks.every((c) => c.pass) ? 0 : 1;
  } finally {
    for (const t of started) await t.stop().catch(() => undefined);
    if (gen) await stopChild(gen.child);
    await stopChild(mock);
    clearTimeout(watchdog);
    if (opts.whatif.includes('diag')) {
      // The preload prints its findings into spendcap's log, which goes away with the work dir.
      try {
        for (const line of readFileSync(join(workDir, 'spendcap.log'), 'utf8').split('\n')) if (line.includes('[whatif diag]')) log(line);
      } catch {
        // no log
      }
    }
    rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * The peers (Portkey and its pinned Hono packages) live in the bench's own package, so spendcap's
 * `npm install` never fetches them: installed here, from bench/package-lock.json, on first use.
 */
function ensurePeers(repo: string, notes: string[]): void {
  const bench = join(repo, 'bench');
  if (portkeyInstalled(repo) || !existsSync(join(bench, 'package-lock.json'))) return;
  log('installing the bench peers into bench/node_modules (npm --prefix bench ci)');
  try {
    execFileSync('npm', ['--prefix', bench, 'ci', '--no-audit', '--no-fund'], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    notes.push(`bench peers not installed: ${(err as Error).message.split('\n')[0]}`);
  }
}

function killAll(): void {
  for (const c of liveChildren) c.kill('SIGKILL');
}

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    log(`failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 2;
  },
);
