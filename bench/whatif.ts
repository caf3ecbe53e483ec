// What-if preload for the spendcap process (`node --import dist/bench/whatif.js bin/spendcap.js start`),
// used by `npm run bench -- --whatif=…` to measure a proposed fix before anyone writes it in src/.
// It changes nothing on disk and nothing in src/: it patches two libraries in memory.
//
// SPENDCAP_BENCH_WHATIF, comma-separated:
//   checkpoint   — the serving connection stops auto-checkpointing its WAL (PRAGMA wal_autocheckpoint=0);
//                  a worker thread with its own connection checkpoints every 250 ms instead, off the event loop.
//   connections  — undici Agents get no per-origin connection limit (spendcap asks for 256).
//   diag         — no change; records event-loop delay and GC pauses, printed to stderr at exit.

import { createRequire } from 'node:module';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { PerformanceEntry } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);
const flags = new Set((process.env.SPENDCAP_BENCH_WHATIF ?? '').split(',').filter((f) => f !== ''));

const CHECKPOINTER = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.mod);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 100');
setInterval(() => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {} }, 250);
`;

if (flags.has('checkpoint')) {
  const Database = require('better-sqlite3') as typeof BetterSqlite3;
  const proto = Database.prototype;
  type Pragma = (this: BetterSqlite3.Database, source: string, options?: BetterSqlite3.PragmaOptions) => unknown;
  const original = Object.getOwnPropertyDescriptor(proto, 'pragma')?.value as Pragma;
  const pragma = (db: BetterSqlite3.Database, source: string, options?: BetterSqlite3.PragmaOptions): unknown => Reflect.apply(original, db, [source, options]);
  const started = new Set<string>();
  proto.pragma = function (this: BetterSqlite3.Database, source: string, options?: BetterSqlite3.PragmaOptions): unknown {
    const result = pragma(this, source, options);
    if (/^\s*journal_mode\s*=\s*wal/i.test(source) && !this.readonly && !this.memory && !started.has(this.name)) {
      started.add(this.name);
      pragma(this, 'wal_autocheckpoint = 0');
      const w = new Worker(CHECKPOINTER, { eval: true, workerData: { mod: require.resolve('better-sqlite3'), file: this.name } });
      w.unref();
    }
    return result;
  };
}

if (flags.has('connections')) {
  const undici = require('undici') as typeof Undici & { Agent: typeof Undici.Agent };
  const Agent = undici.Agent;
  undici.Agent = class extends Agent {
    constructor(opts?: Undici.Agent.Options) {
      super({ ...opts, connections: null });
    }
  };
}

if (flags.has('diag')) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const gc = new Map<number, { n: number; ms: number; over2: number; max: number }>();
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
      const g = gc.get(kind) ?? { n: 0, ms: 0, over2: 0, max: 0 };
      g.n++;
      g.ms += e.duration;
      if (e.duration > 2) g.over2++;
      g.max = Math.max(g.max, e.duration);
      gc.set(kind, g);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  process.on('exit', () => {
    const ms = (ns: number): string => (ns / 1e6).toFixed(2);
    process.stderr.write(`[whatif diag] event-loop delay p50 ${ms(h.percentile(50))} p99 ${ms(h.percentile(99))} p99.9 ${ms(h.percentile(99.9))} max ${ms(h.max)} ms\n`);
    // kinds: 1 scavenge (minor), 2 mark-compact (major), 4 incremental marking, 8 weak callbacks
    for (const [k, g] of gc) process.stderr.write(`[whatif diag] gc kind ${k}: ${g.n} pauses, ${g.ms.toFixed(0)} ms total, ${g.over2} over 2 ms, max ${g.max.toFixed(1)} ms\n`);
  });
}
