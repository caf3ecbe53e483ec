// The load generator: a separate process from every target, driven by the harness over IPC.
// One lean keep-alive pool (http1.ts) per job, nothing shared between jobs.
//
// Run by the harness with child_process.fork(); answers each JobMessage with a ResultMessage.

import { summarize } from './common.js';
import type { ClosedJob, ClosedResult, Endpoint, Job, JobMessage, RateJob, RateResult, ResultMessage, SeqJob, SeqResult, StreamsJob, StreamsResult } from './common.js';
import { encodeRequest, Http1Pool } from './http1.js';

function errText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return `${e.code ?? ''} ${e.message ?? String(err)}`.trim();
}

function portOf(ep: Endpoint): number {
  return Number(new URL(ep.origin).port);
}

function bytesOf(job: { ep: Endpoint; body: string }): Buffer {
  return encodeRequest(new URL(job.ep.origin).host, job.ep.path, job.ep.headers, job.body);
}

async function runSeq(job: SeqJob): Promise<SeqResult> {
  const pool = new Http1Pool(portOf(job.ep), 1, 10_000);
  const bytes = bytesOf(job);
  const samples: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  try {
    for (let i = 0; i < job.warmup + job.count; i++) {
      const t0 = performance.now();
      let t: number;
      try {
        const r = await pool.request(bytes);
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        t = (job.stream ? r.firstByteAt : r.doneAt) - t0;
      } catch (err) {
        errors++;
        firstError ??= errText(err);
        continue;
      }
      if (i >= job.warmup) samples.push(t);
    }
  } finally {
    pool.close();
  }
  return { kind: 'seq', samples, errors, firstError };
}

async function runRate(job: RateJob): Promise<RateResult> {
  const pool = new Http1Pool(portOf(job.ep), job.connections, job.timeoutMs);
  const bytes = bytesOf(job);
  const total = Math.max(1, Math.floor((job.rate * (job.durationMs + job.warmupMs)) / 1000));
  const spacing = 1000 / job.rate;
  const warmCount = Math.floor((job.rate * job.warmupMs) / 1000);
  const lat: number[] = [];
  const sendLag: number[] = [];
  let ok = 0;
  let errors = 0;
  let firstError: string | null = null;
  let inflight = 0;
  let sent = 0;
  const start = performance.now() + 20;

  const fire = (i: number, scheduled: number): void => {
    inflight++;
    const counted = i >= warmCount;
    if (counted) sendLag.push(performance.now() - scheduled);
    pool.request(bytes).then(
      (r) => {
        inflight--;
        if (!counted) return;
        if (r.status === 200) {
          ok++;
          lat.push(r.doneAt - scheduled);
        } else {
          errors++;
          firstError ??= `status ${r.status}`;
        }
      },
      (err: unknown) => {
        inflight--;
        if (!counted) return;
        errors++;
        firstError ??= errText(err);
      },
    );
  };

  await new Promise<void>((resolve) => {
    // A 1 ms tick sends everything due; latency is taken from the schedule, not from the tick.
    const tick = (): void => {
      const now = performance.now();
      while (sent < total && start + sent * spacing <= now) {
        fire(sent, start + sent * spacing);
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    setTimeout(tick, 1);
  });
  // Drain, bounded by the request timeout.
  const deadline = performance.now() + job.timeoutMs + 1000;
  while (inflight > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  pool.close();
  const s = summarize(lat);
  const counted = total - warmCount;
  const lost = counted - ok - errors;
  if (lost > 0) {
    errors += lost;
    firstError ??= 'no answer before the deadline';
  }
  return { kind: 'rate', rate: job.rate, counted, ok, errors, firstError, p50: s.p50, p99: s.p99, max: s.max, sendLagP99: summarize(sendLag).p99 };
}

const DELTA_RE = /"text":\s*"c(\d+) "/;

async function runStreams(job: StreamsJob): Promise<StreamsResult> {
  const pool = new Http1Pool(portOf(job.ep), job.concurrency, job.timeoutMs);
  const bytes = bytesOf(job);
  const ttfb: number[] = [];
  const gaps: number[] = [];
  const lags: number[] = [];
  let started = 0;
  let completed = 0;
  let errors = 0;
  let firstError: string | null = null;
  let lostEvents = 0;
  let corrupt = 0;
  let stalls = 0;
  let lateStarts = 0;
  const lateStartMs = job.lateStartMs ?? Number.POSITIVE_INFINITY;
  let open = 0;
  let maxOpen = 0;

  const one = async (): Promise<void> => {
    started++;
    const t0 = performance.now();
    let events = 0;
    let expectedNext = 1;
    let firstAt = -1;
    let lastDeltaAt = -1;
    let maxLag = 0;
    let carry = '';
    let isOpen = false;
    const onBody = (chunk: Buffer, t: number): void => {
      if (firstAt < 0) {
        firstAt = t;
        ttfb.push(t - t0);
        if (t - t0 > lateStartMs) lateStarts++;
        isOpen = true;
        open++;
        if (open > maxOpen) maxOpen = open;
      }
      carry += chunk.toString('utf8');
      const lastNl = carry.lastIndexOf('\n');
      if (lastNl === -1) return;
      const lines = carry.slice(0, lastNl).split('\n');
      carry = carry.slice(lastNl + 1);
      for (const line of lines) {
        if (!line.startsWith('data:')) continue;
        events++;
        if (!line.includes('content_block_delta')) continue;
        const m = DELTA_RE.exec(line);
        const n = m ? Number(m[1]) : -1;
        if (n !== expectedNext) corrupt++;
        expectedNext = n + 1;
        if (lastDeltaAt >= 0) {
          const gap = t - lastDeltaAt;
          gaps.push(gap);
          if (gap > job.stallMs) stalls++;
        }
        lastDeltaAt = t;
        const lag = t - firstAt - n * job.intervalMs;
        if (lag > maxLag) maxLag = lag;
      }
    };
    try {
      const r = await pool.request(bytes, onBody);
      if (r.status !== 200) throw new Error(`status ${r.status}`);
      completed++;
      lags.push(maxLag);
    } catch (err) {
      errors++;
      firstError ??= errText(err);
    } finally {
      if (isOpen) open--;
      if (events < job.expectedEvents) lostEvents += job.expectedEvents - events;
    }
  };

  let next = 0;
  const worker = async (w: number): Promise<void> => {
    if (job.concurrency > 1 && job.rampMs > 0) await new Promise((r) => setTimeout(r, (w * job.rampMs) / job.concurrency));
    while (next < job.count) {
      next++;
      await one();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(job.concurrency, job.count) }, (_, w) => worker(w)));
  } finally {
    pool.close();
  }
  return {
    kind: 'streams',
    started,
    completed,
    errors,
    firstError,
    lostEvents,
    corrupt,
    stalls,
    lateStarts,
    maxOpen,
    ttfb: summarize(ttfb),
    gap: summarize(gaps),
    lag: summarize(lags),
  };
}

async function runClosed(job: ClosedJob): Promise<ClosedResult> {
  const pool = new Http1Pool(portOf(job.ep), job.concurrency, job.timeoutMs);
  const bytes = bytesOf(job);
  const t0 = performance.now();
  const countFrom = t0 + job.warmupMs;
  const end = countFrom + job.durationMs;
  const lat: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const client = async (): Promise<void> => {
    while (performance.now() < end) {
      const sent = performance.now();
      try {
        const r = await pool.request(bytes);
        if (sent < countFrom) continue;
        if (r.status === 200) lat.push(r.doneAt - sent);
        else {
          errors++;
          firstError ??= `status ${r.status}`;
        }
      } catch (err) {
        errors++;
        firstError ??= errText(err);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: job.concurrency }, client));
  } finally {
    pool.close();
  }
  const seconds = (performance.now() - countFrom) / 1000;
  const s = summarize(lat);
  return { kind: 'closed', ok: lat.length, seconds, rps: lat.length / seconds, errors, firstError, p50: s.p50, p99: s.p99 };
}

async function run(job: Job): Promise<SeqResult | RateResult | StreamsResult | ClosedResult> {
  switch (job.kind) {
    case 'closed':
      return runClosed(job);
    case 'seq':
      return runSeq(job);
    case 'rate':
      return runRate(job);
    case 'streams':
      return runStreams(job);
  }
}

process.on('message', (msg: JobMessage) => {
  run(msg.job).then(
    (result) => process.send?.({ id: msg.id, result } satisfies ResultMessage),
    (err: unknown) => process.send?.({ id: msg.id, error: errText(err) } satisfies ResultMessage),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
