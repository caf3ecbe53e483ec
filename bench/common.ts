// Shared by the benchmark harness (run.ts), the load generator (loadgen.ts) and the helper
// processes: job/result shapes sent over IPC, statistics, and per-process CPU/memory readings.

import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

/** Where and how the load generator sends a request. */
export interface Endpoint {
  /** e.g. http://127.0.0.1:40001 */
  origin: string;
  path: string;
  headers: Record<string, string>;
}

/** One request at a time: latency of a JSON reply (whole body) or of a stream's first body byte. */
export interface SeqJob {
  kind: 'seq';
  ep: Endpoint;
  body: string;
  stream: boolean;
  count: number;
  warmup: number;
}

/** Open-loop load at a fixed rate; latency counts from the scheduled send, so queueing is not hidden. */
export interface RateJob {
  kind: 'rate';
  ep: Endpoint;
  body: string;
  rate: number;
  durationMs: number;
  /** Requests scheduled in this first stretch are sent but not counted (connections warm up). */
  warmupMs: number;
  connections: number;
  timeoutMs: number;
}

/** Paced streams, `concurrency` open at once: first byte, gaps between deltas, lost/out-of-order chunks. */
export interface StreamsJob {
  kind: 'streams';
  ep: Endpoint;
  body: string;
  count: number;
  concurrency: number;
  /** Stream starts are spread over this window (only when concurrency > 1). */
  rampMs: number;
  /** Text deltas the mock sends per stream. */
  expectedDeltas: number;
  /** SSE events the mock sends per stream (deltas plus framing events). */
  expectedEvents: number;
  intervalMs: number;
  /** A gap between two deltas longer than this is a stall. */
  stallMs: number;
  /** A first byte later than this (from the send) is a late start. */
  lateStartMs?: number;
  timeoutMs: number;
}

/** Closed loop: `concurrency` keep-alive clients, each sending its next request when its last one is answered. */
export interface ClosedJob {
  kind: 'closed';
  ep: Endpoint;
  body: string;
  concurrency: number;
  durationMs: number;
  /** Answers in this first stretch are not counted (connections and the target's JIT warm up). */
  warmupMs: number;
  timeoutMs: number;
}

export interface ClosedResult {
  kind: 'closed';
  /** Answered (status 200) requests counted, and the window they were counted in. */
  ok: number;
  seconds: number;
  rps: number;
  errors: number;
  firstError: string | null;
  p50: number;
  p99: number;
}

export type Job = SeqJob | RateJob | StreamsJob | ClosedJob;

export interface SeqResult {
  kind: 'seq';
  /** Milliseconds, one per counted request. */
  samples: number[];
  errors: number;
  firstError: string | null;
}

export interface RateResult {
  kind: 'rate';
  rate: number;
  counted: number;
  ok: number;
  errors: number;
  firstError: string | null;
  p50: number;
  p99: number;
  max: number;
  /** How late the generator itself sent requests (p99, ms): a check that the generator kept up. */
  sendLagP99: number;
}

export interface StreamsResult {
  kind: 'streams';
  started: number;
  completed: number;
  errors: number;
  firstError: string | null;
  /** Events expected minus events received, over all streams. */
  lostEvents: number;
  /** Deltas that arrived out of order or with wrong content. */
  corrupt: number;
  stalls: number;
  /** Streams whose first byte took longer than `lateStartMs` (queued somewhere). */
  lateStarts: number;
  maxOpen: number;
  ttfb: Summary;
  /** Gaps between consecutive deltas at the client. */
  gap: Summary;
  /** Per stream: worst lateness of a delta against its schedule, measured from the stream's first byte (buffering shows here). */
  lag: Summary;
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export interface JobMessage {
  id: number;
  job: Job;
}

export interface ResultMessage {
  id: number;
  result?: SeqResult | RateResult | StreamsResult | ClosedResult;
  error?: string;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { n: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of s) sum += v;
  const arr = Array.from(s);
  return { n: arr.length, p50: percentile(arr, 50), p99: percentile(arr, 99), max: arr[arr.length - 1]!, mean: sum / arr.length };
}

export function round(v: number, digits = 3): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** A free loopback TCP port (bound then released; good enough on a quiet machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const CLK_TCK = 100; // Linux USER_HZ on every mainstream kernel

export interface ProcSample {
  /** CPU seconds (user + system) summed over the processes. */
  cpuSec: number;
  /** Resident memory in bytes summed over the processes. */
  rssBytes: number;
}

/** The pid and all its descendants (nginx: master plus workers). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [root];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e));
      children.set(ppid, list);
    } catch {
      // the process went away while we read
    }
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    for (const c of children.get(p) ?? []) todo.push(c);
  }
  return out;
}

export function sampleProcs(pids: readonly number[]): ProcSample {
  let cpuSec = 0;
  let rssBytes = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name: state is field 3, utime 14, stime 15 (1-based).
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuSec += (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      if (m) rssBytes += Number(m[1]) * 1024;
    } catch {
      // gone
    }
  }
  return { cpuSec, rssBytes };
}

// ---- the mock upstream's knobs and counters (mock.ts)

export interface MockConfig {
  /** Delay before the status line (JSON and stream alike). */
  delayMs: number;
  /** Text deltas per stream; also the output tokens reported. */
  chunks: number;
  /** Interval between deltas. 0 = all written at once. */
  intervalMs: number;
}

export interface MockStats {
  messages: number;
  streams: number;
  open: number;
  /** x-api-key of the last /v1/messages request (to check the proxies put the provider key in). */
  lastApiKey: string | null;
  lastPath: string | null;
}

/** Events in one stream besides the deltas: message_start, content_block_start, content_block_stop, message_delta, message_stop. */
export const FRAMING_EVENTS = 5;
export const INPUT_TOKENS = 25;

