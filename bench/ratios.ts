// `npm run bench`: spendcap against the floor (a bare node:http pipe proxy) in one run, as ratios,
// with spendcap's metering switched off as a third target to price metering and caps. A few minutes.
// Results: bench/results/ratios.{json,md}. The long comparison with Portkey and nginx: `npm run bench:full`.
//
// The scenario of issue 12: OpenAI Chat Completions, a 5-token JSON reply from a local mock; one
// client at a time, then 32 keep-alive clients (closed loop) at 0 ms and 20 ms upstream latency;
// Anthropic streams for first byte and 1000 concurrent streams.

import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FRAMING_EVENTS, freePort, median, percentile, round, sampleProcs, sleep } from './common.js';
import type { Endpoint } from './common.js';
import { LoadGen } from './loadgen-client.js';
import { chatEndpoint, DirectTarget, FloorTarget, forkHelper, liveChildren, PROVIDER_KEY, SpendcapTarget, stopChild } from './targets.js';
import type { Env, Target } from './targets.js';

interface Plan {
  seqRounds: number;
  seqCount: number;
  streamCount: number;
  closedMs: number;
  closedRounds: number;
  clients: number;
  streams: number;
}
const PLAN: Plan = { seqRounds: 6, seqCount: 300, streamCount: 60, closedMs: 3000, closedRounds: 3, clients: 32, streams: 1000 };
const SHORT: Plan = { seqRounds: 2, seqCount: 150, streamCount: 30, closedMs: 1500, closedRounds: 1, clients: 32, streams: 1000 };

interface Named {
  key: 'direct' | 'floor' | 'spendcap' | 'nometer';
  t: Target;
  chat: () => Endpoint;
}

function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

const CHAT_BODY = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'Say five words, please.' }] });
const STREAM_BODY = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 256, stream: true, messages: [{ role: 'user', content: 'Say a few words, please.' }] });

async function configureMock(port: number, cfg: Record<string, number>): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/__config`, { method: 'POST', body: JSON.stringify(cfg) });
  await res.text();
}

function cpuSecOf(t: Target): number {
  return sampleProcs(t.pids()).cpuSec;
}

async function main(): Promise<number> {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const short = process.argv.includes('--short');
  const plan = short ? SHORT : PLAN;
  const outDir = join(repo, 'bench', 'results');
  const t0 = performance.now();
  const workDir = mkdtempSync(join(tmpdir(), 'spendcap-ratios-'));
  const mockPort = await freePort();
  const env: Env = { repo, workDir, mockPort, spendcapNodeArgs: [] };
  const watchdog = setTimeout(() => {
    log('watchdog: over 8 minutes; stopping');
    for (const c of liveChildren) c.kill('SIGKILL');
    process.exit(2);
  }, 8 * 60_000);
  watchdog.unref();
  let mock: ChildProcess | null = null;
  let gen: LoadGen | null = null;
  const started: Target[] = [];
  try {
    mock = await forkHelper(env, 'mock.js', [String(mockPort)], 'mock');
    gen = await LoadGen.start(env);
    const direct = new DirectTarget(env);
    const floor = new FloorTarget(env);
    const sc = new SpendcapTarget(env, 'spendcap-data');
    const off = new SpendcapTarget(env, 'spendcap-data-off', true);
    const directChat = (): Endpoint => chatEndpoint(direct.endpoint().origin, PROVIDER_KEY);
    const targets: Named[] = [
      { key: 'direct', t: direct, chat: directChat },
      { key: 'floor', t: floor, chat: () => chatEndpoint(floor.endpoint().origin, PROVIDER_KEY) },
      { key: 'spendcap', t: sc, chat: () => sc.chatEndpoint() },
      { key: 'nometer', t: off, chat: () => off.chatEndpoint() },
    ];
    for (const n of targets) {
      await n.t.start();
      started.push(n.t);
    }
    const g = gen;
    await configureMock(mockPort, { delayMs: 0, chunks: 5, intervalMs: 0 });
    // Warm every target (JIT, connections) before anything is counted.
    for (const n of targets) await g.run({ kind: 'closed', ep: n.chat(), body: CHAT_BODY, concurrency: 8, durationMs: 800, warmupMs: 200, timeoutMs: 5000 });

    // 1. One client at a time: added latency (target minus direct), JSON to the last byte, streams to the first byte.
    log(`sequential: ${plan.seqRounds} rounds × (${plan.seqCount} JSON + ${plan.streamCount} streams) per target, interleaved`);
    const seq = new Map<string, { med: number[]; all: number[]; fbMed: number[]; fbAll: number[]; errors: number }>();
    for (const n of targets) seq.set(n.key, { med: [], all: [], fbMed: [], fbAll: [], errors: 0 });
    for (let r = 0; r < plan.seqRounds; r++) {
      for (const n of r % 2 === 0 ? targets : [...targets].reverse()) {
        const a = seq.get(n.key)!;
        await configureMock(mockPort, { delayMs: 0, chunks: 5, intervalMs: 0 });
        const j = await g.run({ kind: 'seq', ep: n.chat(), body: CHAT_BODY, stream: false, count: plan.seqCount, warmup: 10 });
        // First byte needs a stream still open after its first event: three deltas 1 ms apart.
        await configureMock(mockPort, { delayMs: 0, chunks: 3, intervalMs: 1 });
        const s = await g.run({ kind: 'seq', ep: n.t.endpoint(), body: STREAM_BODY, stream: true, count: plan.streamCount, warmup: 5 });
        a.med.push(median(j.samples));
        a.all.push(...j.samples);
        a.fbMed.push(median(s.samples));
        a.fbAll.push(...s.samples);
        a.errors += j.errors + s.errors;
      }
    }
    const p99 = (xs: number[]): number => percentile([...xs].sort((x, y) => x - y), 99);
    const lat = (k: string): { p50: number; p99: number; fb50: number; errors: number } => {
      const a = seq.get(k)!;
      return { p50: median(a.med), p99: p99(a.all), fb50: median(a.fbMed), errors: a.errors };
    };
    const d = lat('direct');
    const added = (k: string): { p50: number; p99: number; fb50: number; errors: number } => {
      const l = lat(k);
      return { p50: l.p50 - d.p50, p99: l.p99 - d.p99, fb50: l.fb50 - d.fb50, errors: l.errors };
    };

    // 2. 32 keep-alive clients, closed loop: throughput, and CPU per request read from /proc.
    const closed: Record<string, Record<number, { rps: number[]; cpuUs: number[]; p99: number[]; errors: number }>> = {};
    for (const delay of [0, 20]) {
      log(`closed loop: ${plan.clients} keep-alive clients, ${delay} ms upstream, ${plan.closedRounds} × ${plan.closedMs} ms per target`);
      await configureMock(mockPort, { delayMs: delay, chunks: 5, intervalMs: 0 });
      for (let r = 0; r < plan.closedRounds; r++) {
        for (const n of r % 2 === 0 ? targets : [...targets].reverse()) {
          if (n.key === 'direct') continue;
          const c0 = cpuSecOf(n.t);
          const res = await g.run({ kind: 'closed', ep: n.chat(), body: CHAT_BODY, concurrency: plan.clients, durationMs: plan.closedMs, warmupMs: 300, timeoutMs: 10_000 });
          const cpu = cpuSecOf(n.t) - c0;
          const sent = res.ok + res.errors;
          // CPU over the whole job (warm-up included) ÷ every request answered in it, estimated from the counted rate.
          const total = res.rps * (res.seconds + 0.3);
          const acc = ((closed[n.key] ??= {})[delay] ??= { rps: [], cpuUs: [], p99: [], errors: 0 });
          acc.rps.push(res.rps);
          acc.cpuUs.push(total > 0 ? (cpu * 1e6) / total : Number.NaN);
          acc.p99.push(res.p99);
          acc.errors += res.errors + (sent === 0 ? 1 : 0);
          await sleep(100);
        }
      }
    }
    const tp = (k: string, delay: number): { rps: number; cpuUs: number; p99: number; errors: number } => {
      const a = closed[k]![delay]!;
      return { rps: median(a.rps), cpuUs: median(a.cpuUs), p99: median(a.p99), errors: a.errors };
    };

    // 3. 1000 concurrent paced streams through spendcap: no stall, memory per stream.
    log(`concurrent: ${plan.streams} streams through spendcap (40 deltas 100 ms apart, starts over 1 s)`);
    await configureMock(mockPort, { delayMs: 0, chunks: 40, intervalMs: 100 });
    await sc.stop();
    await sc.start();
    await g.run({ kind: 'streams', ep: sc.endpoint(), body: STREAM_BODY, count: 20, concurrency: 20, rampMs: 100, expectedDeltas: 40, expectedEvents: 40 + FRAMING_EVENTS, intervalMs: 100, stallMs: 300, timeoutMs: 30_000 });
    const rss0 = sampleProcs(sc.pids()).rssBytes;
    let peak = rss0;
    const sampler = setInterval(() => {
      const s = sampleProcs(sc.pids()).rssBytes;
      if (s > peak) peak = s;
    }, 100);
    const st = await g.run({
      kind: 'streams',
      ep: sc.endpoint(),
      body: STREAM_BODY,
      count: plan.streams,
      concurrency: plan.streams,
      rampMs: 1000,
      expectedDeltas: 40,
      expectedEvents: 40 + FRAMING_EVENTS,
      intervalMs: 100,
      stallMs: 300,
      lateStartMs: 1000,
      timeoutMs: 60_000,
    });
    clearInterval(sampler);
    const kbPerStream = (peak - rss0) / 1024 / plan.streams;

    // Report.
    const f = added('floor');
    const s = added('spendcap');
    const o = added('nometer');
    const rows: { what: string; value: string; target: string; pass: boolean }[] = [];
    const r2 = (v: number): string => `${round(v, 2)}×`;
    rows.push({ what: 'added p50 latency, JSON (spendcap ÷ floor)', value: `${r2(s.p50 / f.p50)} (+${round(s.p50, 3)} vs +${round(f.p50, 3)} ms)`, target: '≤ 1.3× (goal 1.2×)', pass: s.p50 / f.p50 <= 1.3 });
    rows.push({ what: 'added p99 latency, JSON (spendcap ÷ floor)', value: `${r2(s.p99 / f.p99)} (+${round(s.p99, 3)} vs +${round(f.p99, 3)} ms)`, target: '≤ 1.5×', pass: s.p99 / f.p99 <= 1.5 });
    for (const delay of [0, 20]) {
      const a = tp('spendcap', delay);
      const b = tp('floor', delay);
      rows.push({ what: `throughput, ${plan.clients} clients, ${delay} ms upstream (spendcap ÷ floor)`, value: `${r2(a.rps / b.rps)} (${Math.round(a.rps)} vs ${Math.round(b.rps)} req/s)`, target: '≥ 0.8× (goal 0.85×)', pass: a.rps / b.rps >= 0.8 && a.errors === 0 });
    }
    rows.push({ what: 'stream first byte, added over the floor (p50)', value: `${s.fb50 - f.fb50 >= 0 ? '+' : ''}${round(s.fb50 - f.fb50, 3)} ms (+${round(s.fb50, 3)} vs +${round(f.fb50, 3)} ms over direct)`, target: '≤ +0.3 ms', pass: s.fb50 - f.fb50 <= 0.3 });
    rows.push({
      what: `${plan.streams} concurrent streams`,
      value: `${st.completed}/${st.started} complete, ${st.stalls} stalls, ${st.lostEvents} lost, ${st.corrupt} out of order, ${st.lateStarts} late starts, ${st.maxOpen} open at once, ${round(kbPerStream, 1)} KB per stream`,
      target: '≤ 50 KB each, no stall',
      pass: st.completed === st.started && st.stalls === 0 && st.lostEvents === 0 && st.corrupt === 0 && st.errors === 0 && kbPerStream <= 50,
    });
    const cpuRows = (['floor', 'nometer', 'spendcap'] as const).map((k) => ({ k, t0: tp(k, 0), t20: tp(k, 20) }));
    const label = { floor: 'floor (node:http pipe)', nometer: 'spendcap, metering off (SPENDCAP_BENCH_NO_METERING=1)', spendcap: 'spendcap, caps + metering' };
    const seqErrors = f.errors + s.errors + o.errors;
    const load = loadavg().map((v) => round(v, 2)).join(' ');
    const gitRev = (() => {
      try {
        return execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
      } catch {
        return 'unknown';
      }
    })();
    const seconds = round((performance.now() - t0) / 1000, 0);
    const md = [
      `# spendcap ÷ floor, one run (${short ? 'short' : 'standard'})`,
      '',
      `git ${gitRev}, Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average at the end ${load}, ${new Date().toISOString()}, ${seconds} s.`,
      `Sequential: ${plan.seqRounds} interleaved rounds × ${plan.seqCount} JSON + ${plan.streamCount} streams per target; closed loop: ${plan.closedRounds} × ${plan.closedMs} ms per target and delay, medians.`,
      '',
      '| reach | measured | target | met |',
      '| --- | --- | --- | --- |',
      ...rows.map((r) => `| ${r.what} | ${r.value} | ${r.target} | ${r.pass ? 'yes' : '**no**'} |`),
      '',
      '| process | added p50 | added p99 | first byte added | req/s 0 ms | CPU/req 0 ms | req/s 20 ms | CPU/req 20 ms |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...cpuRows.map(({ k, t0: a, t20: b }) => {
        const l = added(k);
        return `| ${label[k]} | ${round(l.p50, 3)} ms | ${round(l.p99, 3)} ms | ${round(l.fb50, 3)} ms | ${Math.round(a.rps)} | ${Math.round(a.cpuUs)} µs | ${Math.round(b.rps)} | ${Math.round(b.cpuUs)} µs |`;
      }),
      '',
      `Metering and caps cost ${Math.round(tp('spendcap', 0).cpuUs - tp('nometer', 0).cpuUs)} µs of CPU per request at 0 ms (${Math.round(tp('spendcap', 0).cpuUs)} with, ${Math.round(tp('nometer', 0).cpuUs)} without); the floor spends ${Math.round(tp('floor', 0).cpuUs)}.`,
      seqErrors > 0 ? `Errors in the sequential phase: ${seqErrors}.` : '',
      '',
    ].join('\n');
    mkdirSync(outDir, { recursive: true });
    const name = short ? 'ratios-short' : 'ratios';
    writeFileSync(join(outDir, `${name}.md`), md);
    writeFileSync(join(outDir, `${name}.json`), JSON.stringify({ gitRev, date: new Date().toISOString(), load, plan, rows, latency: { direct: d, floor: f, spendcap: s, nometer: o }, closed, concurrent: { ...st, kbPerStream } }, null, 2) + '\n');
    process.stdout.write(md);
    log(`wrote ${join(outDir, `${name}.md`)}`);
    return rows.every((r) => r.pass) ? 0 : 1;
  } finally {
    for (const t of started) await t.stop().catch(() => undefined);
    if (gen) await stopChild(gen.child);
    await stopChild(mock);
    clearTimeout(watchdog);
    rmSync(workDir, { recursive: true, force: true });
  }
}

process.on('exit', () => {
  for (const c of liveChildren) c.kill('SIGKILL');
});

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    log(`failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 2;
  },
);
