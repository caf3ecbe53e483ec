// One metered request's timeline, for finding where spendcap's added latency waits rather than works.
// `node dist/bench/timeline.js [count]`: spendcap runs in this process (so its prototypes can be
// marked), the mock and the load generator in their own; requests go one at a time (OpenAI chat, a
// 5-token JSON reply, the ratio run's scenario). Every mark is performance.now() when something
// happened; the report gives each mark's median offset from the request's arrival and the median of
// each step, plus the event-loop CPU spent between marks (what the step worked vs waited).
//
// Bench only: nothing of src/ knows about it; the marks are wrappers set on prototypes here.

import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Agent } from 'undici';
import { writeHeapSnapshot } from 'node:v8';
import { freePort, median, sampleProcs } from './common.js';
import { LoadGen } from './loadgen-client.js';
import { chatEndpoint, forkHelper, liveChildren, stopChild } from './targets.js';
import type { Env } from './targets.js';

const CHAT_BODY = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 16, messages: [{ role: 'user', content: 'Say five words, please.' }] });

interface Rec {
  marks: Array<[string, number, number]>;
  /** process.cpuUsage() at arrival, to split the request's time into work and waiting. */
  cpu0: NodeJS.CpuUsage;
  cpuUs: number;
}

const WITH_CPU = process.argv.includes('--cpu');

/** The request being timed (one at a time); null between requests. */
const state: { cur: Rec | null; done: Rec[] } = { cur: null, done: [] };

function mark(name: string): void {
  const c = state.cur;
  if (c === null) return;
  // process.cpuUsage() is ~5 µs a call here: only with --cpu (it moves the very figures it splits).
  const u = WITH_CPU ? process.cpuUsage(c.cpu0) : null;
  c.marks.push([name, performance.now(), u === null ? 0 : u.user + u.system]);
}

/** CPU seconds of this process's threads, from /proc: the main thread (tid = pid) and all of them. */
function threadCpu(): { main: number; all: number; byName: Record<string, number> } {
  const ticks = (stat: string): number => {
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const main = ticks(readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8'));
  const all = ticks(readFileSync('/proc/self/stat', 'utf8'));
  const byName: Record<string, number> = {};
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      const label = tid === String(process.pid) ? "main" : `${name}#${tid}`;
      byName[label] = (byName[label] ?? 0) + ticks(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'));
    } catch {
      // the thread ended
    }
  }
  return { main, all, byName };
}

type AnyFn = (...args: unknown[]) => unknown;

/** Wraps `obj[name]` so `before` runs first; the original is called as it was. */
function wrap(obj: object, name: string, before: (self: unknown, args: unknown[]) => void): void {
  const o = obj as Record<string, AnyFn>;
  const orig = o[name]!;
  o[name] = function (this: unknown, ...args: unknown[]) {
    before(this, args);
    return orig.apply(this, args);
  };
}

function instrument(GroupCommit: { prototype: object }): void {
  wrap(http.Server.prototype, 'emit', (_self, args) => {
    if (args[0] !== 'request') return;
    const req = args[1] as http.IncomingMessage;
    if (!(req.url ?? '').includes('/chat/completions')) return;
    state.cur = { marks: [['arrive', performance.now(), 0]], cpu0: process.cpuUsage(), cpuUs: 0 };
    const rec = state.cur;
    req.once('end', () => mark('body read'));
    const res = (args[2] as http.ServerResponse);
    res.once('finish', () => {
      mark('finish');
      rec.cpuUs = (() => {
        const c = process.cpuUsage(rec.cpu0);
        return c.user + c.system;
      })();
      state.done.push(rec);
      if (state.cur === rec) state.cur = null;
    });
  });
  wrap(GroupCommit.prototype, 'flushNow', (self) => {
    const n = (self as { pending: number }).pending;
    if (n > 0) mark(`flush(${n}) start`);
  });
  const dispatch0 = (Agent.prototype as unknown as Record<string, AnyFn>).dispatch!;
  (Agent.prototype as unknown as Record<string, AnyFn>).dispatch = function (this: unknown, ...args: unknown[]) {
    mark('undici.dispatch');
    const handler = args[1] as Record<string, AnyFn>;
    // On the handler itself: its methods share state through `this`.
    for (const [name, label] of [['onHeaders', 'upstream headers'], ['onComplete', 'upstream body end']] as const) {
      const orig = handler[name];
      if (orig === undefined) continue;
      handler[name] = function (this: unknown, ...a: unknown[]) {
        mark(label);
        return orig.apply(this, a);
      };
    }
    return dispatch0.apply(this, args);
  };
  wrap(Agent.prototype, 'request', () => mark('undici.request'));
  wrap(http.ServerResponse.prototype, 'writeHead', () => mark('res.writeHead'));
  wrap(http.ServerResponse.prototype, 'end', () => mark('res.end'));
}

async function main(): Promise<void> {
  const count = Number(process.argv.find((a, i) => i >= 2 && /^\d+$/.test(a)) ?? 2000);
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const workDir = mkdtempSync(join(tmpdir(), 'spendcap-timeline-'));
  const mockPort = await freePort();
  const env: Env = { repo, workDir, mockPort, spendcapNodeArgs: [] };
  const dataDir = join(workDir, 'data');
  const bin = join(repo, 'bin', 'spendcap.js');
  const out = execFileSync(process.execPath, [bin, 'key', 'add', 'bench-openai', '--provider', 'openai', '--provider-key', 'sk-bench-openai', '--cap', '1000000', '--period', 'total', '--json', '--data-dir', dataDir], { encoding: 'utf8' });
  const token = (JSON.parse(out) as { token: string }).token;
  const mod = (p: string): Promise<Record<string, unknown>> => import(pathToFileURL(join(repo, 'dist', 'src', p)).href) as Promise<Record<string, unknown>>;
  const { GroupCommit } = (await mod('store/group-commit.js')) as { GroupCommit: { prototype: object } };
  instrument(GroupCommit);
  const { startServer } = (await mod('server/server.js')) as { startServer: (o: Record<string, unknown>) => Promise<{ port: number; close(): Promise<void> }> };
  const mock = await forkHelper(env, 'mock.js', [String(mockPort)], 'mock');
  const gen = await LoadGen.start(env);
  const server = await startServer({ dataDir, port: 0, baseUrls: { openai: `http://127.0.0.1:${mockPort}/v1` } });
  const floorPort = await freePort();
  const floor = await forkHelper(env, 'floor.js', [String(floorPort), String(mockPort)], 'floor');
  try {
    await fetch(`http://127.0.0.1:${mockPort}/__config`, { method: 'POST', body: JSON.stringify({ delayMs: 0, chunks: 5, intervalMs: 0 }) }).then((r) => r.text());
    const ep = chatEndpoint(`http://127.0.0.1:${server.port}`, token);
    const direct = chatEndpoint(`http://127.0.0.1:${mockPort}`, 'sk-bench-openai');
    await gen.run({ kind: 'seq', ep, body: CHAT_BODY, stream: false, count: 500, warmup: 10 });
    state.done.length = 0;
    if (process.argv.includes('--heap')) process.stderr.write(`heap snapshot: ${writeHeapSnapshot()}\n`);
    const floorEp = chatEndpoint(`http://127.0.0.1:${floorPort}`, 'sk-bench-openai');
    await gen.run({ kind: 'seq', ep: floorEp, body: CHAT_BODY, stream: false, count: 500, warmup: 10 });
    const rounds: Array<{ direct: number; proxy: number; floor: number }> = [];
    const threads = { main: 0, all: 0, floor: 0 };
    const byThread: Record<string, number> = {};
    for (let r = 0; r < 4; r++) {
      const d = await gen.run({ kind: 'seq', ep: direct, body: CHAT_BODY, stream: false, count: count / 4, warmup: 5 });
      const c0 = threadCpu();
      const p = await gen.run({ kind: 'seq', ep, body: CHAT_BODY, stream: false, count: count / 4, warmup: 5 });
      const c1 = threadCpu();
      threads.main += c1.main - c0.main;
      threads.all += c1.all - c0.all;
      for (const [k, v] of Object.entries(c1.byName)) byThread[k] = (byThread[k] ?? 0) + v - (c0.byName[k] ?? 0);
      const f0 = sampleProcs([floor.pid!]).cpuSec;
      const f = await gen.run({ kind: 'seq', ep: floorEp, body: CHAT_BODY, stream: false, count: count / 4, warmup: 5 });
      threads.floor += sampleProcs([floor.pid!]).cpuSec - f0;
      rounds.push({ direct: median(d.samples), proxy: median(p.samples), floor: median(f.samples) });
    }
    if (process.argv.includes('--heap')) process.stderr.write(`heap snapshot: ${writeHeapSnapshot()}\n`);
    process.stdout.write(`CPU per request by thread name: ${Object.entries(byThread).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${Math.round((v * 1e6) / (count + 20))} µs`).join(', ')}\n`);
    report(rounds, { main: (threads.main * 1e6) / (count + 20), all: (threads.all * 1e6) / (count + 20), floor: (threads.floor * 1e6) / (count + 20) });
  } finally {
    await server.close();
    await stopChild(gen.child);
    await stopChild(mock);
    await stopChild(floor);
    rmSync(workDir, { recursive: true, force: true });
  }
}

function report(rounds: Array<{ direct: number; proxy: number; floor: number }>, perReq: { main: number; all: number; floor: number }): void {
  const recs = state.done;
  // The shape most requests had (same marks in the same order): the median is taken over those.
  const shapes = new Map<string, Rec[]>();
  for (const r of recs) {
    const k = r.marks.map((m) => m[0]).join('|');
    const list = shapes.get(k) ?? [];
    list.push(r);
    shapes.set(k, list);
  }
  const [shape, list] = [...shapes.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
  const names = shape.split('|');
  const us = (ms: number): string => `${Math.round(ms * 1000)} µs`;
  const lines: string[] = [];
  lines.push(`load ${loadavg().map((v) => v.toFixed(2)).join(' ')}, ${recs.length} requests timed, ${list.length} of the commonest shape`);
  lines.push(`client view, medians of 4 rounds: direct ${rounds.map((r) => us(r.direct)).join(' ')}; through spendcap ${rounds.map((r) => us(r.proxy)).join(' ')}`);
  lines.push(`floor ${rounds.map((r) => us(r.floor)).join(' ')}`);
  lines.push(`added (median of rounds): spendcap ${us(median(rounds.map((r) => r.proxy - r.direct)))}, floor ${us(median(rounds.map((r) => r.floor - r.direct)))}; floor CPU per request ${Math.round(perReq.floor)} µs`);
  lines.push(`CPU of the process from arrival to finish, median: ${Math.round(median(list.map((r) => r.cpuUs)))} µs; per request over the timed rounds (/proc): main thread ${Math.round(perReq.main)} µs, all threads ${Math.round(perReq.all)} µs`);
  lines.push('');
  lines.push('| mark | at (median, from arrival) | step (median) | CPU in the step (median) |');
  lines.push('| --- | --- | --- | --- |');
  for (let i = 0; i < names.length; i++) {
    const at = median(list.map((r) => r.marks[i]![1] - r.marks[0]![1]));
    const step = i === 0 ? 0 : median(list.map((r) => r.marks[i]![1] - r.marks[i - 1]![1]));
    const cpu = i === 0 ? 0 : median(list.map((r) => r.marks[i]![2] - r.marks[i - 1]![2]));
    lines.push(`| ${names[i]} | ${us(at)} | ${us(step)} | ${Math.round(cpu)} µs |`);
  }
  if (shapes.size > 1) lines.push(`\nother shapes: ${[...shapes.entries()].slice(0, 5).map(([k, v]) => `${v.length}× ${k}`).join('; ')}`);
  process.stdout.write(lines.join('\n') + '\n');
}

process.on('exit', () => {
  for (const c of liveChildren) c.kill('SIGKILL');
});

main().catch((err: unknown) => {
  process.stderr.write(`timeline failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 2;
});
