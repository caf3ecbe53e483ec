// Micro-benchmarks of spendcap's hot spots, in-process, to price the fixes that docs/performance.md
// proposes: the SQLite writes per request (and what group commit would save), request parsing of
// large bodies, and SSE parsing plus metering per event.
//
// spendcap's modules are loaded at run time from dist/src, so this file does not tie the
// project's typecheck to their exact signatures; the shapes below are what it relies on.

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, summarize } from './common.js';

interface StoreLike {
  db: { transaction<F extends (...args: never[]) => unknown>(fn: F): F; pragma(source: string): unknown };
  dataVersion(): number;
  insertHold(h: Record<string, unknown>): void;
  settleHold(id: string, row: Record<string, unknown>): number;
  insertLedger(row: Record<string, unknown>): void;
  close(): void;
}

interface SseParserLike {
  push(chunk: Uint8Array): { event: string | undefined; data: string }[];
}

interface MeterLike {
  onEvent(ev: { event: string | undefined; data: string }): void;
}

export interface MicroResult {
  what: string;
  /** Mean µs per operation. */
  usPerOp: number;
  /** Per-operation distribution, µs, where measured one by one. */
  p50?: number;
  p99?: number;
  max?: number;
  note: string;
}

/** Times each call on its own: mean, p50, p99 and max in µs. */
function distribution(n: number, fn: (i: number) => void): { usPerOp: number; p50: number; p99: number; max: number } {
  for (let i = 0; i < 200; i++) fn(i);
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn(i);
    t.push((performance.now() - t0) * 1000);
  }
  const s = summarize(t);
  return { usPerOp: s.mean, p50: s.p50, p99: s.p99, max: s.max };
}

/** Median over `repeats` runs of the mean µs per call of `fn` over `n` calls. */
function time(n: number, fn: (i: number) => void, repeats = 5): number {
  for (let i = 0; i < Math.min(n, 200); i++) fn(i); // warm-up
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    runs.push(((performance.now() - t0) * 1000) / n);
  }
  return median(runs);
}

/** What the relay passes to newStreamMeter (older adapters ignore it). */
const REQUEST_INFO = { model: 'claude-haiku-4-5', stream: true, maxTokens: 256, estimatedInputTokens: 30, cacheWriteTtl: 'none' };

const WORDS = 'the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing matches near the river bank'.split(' ');

function body(tokens: number): Buffer {
  const chars = tokens * 4;
  let text = '';
  for (let i = 0; text.length < chars; i++) text += WORDS[i % WORDS.length]! + ' ';
  return Buffer.from(JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 256, stream: false, messages: [{ role: 'user', content: text.slice(0, chars) }] }));
}

function sseEvents(n: number): Buffer[] {
  const ev = (name: string, data: unknown): Buffer => Buffer.from(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  const out: Buffer[] = [
    ev('message_start', {
      type: 'message_start',
      message: { id: 'msg_x', type: 'message', role: 'assistant', model: 'claude-haiku-4-5', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 25, output_tokens: 1 } },
    }),
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  ];
  for (let k = 1; k <= n; k++) out.push(ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `c${k} ` } }));
  out.push(ev('content_block_stop', { type: 'content_block_stop', index: 0 }));
  out.push(ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: n } }));
  out.push(ev('message_stop', { type: 'message_stop' }));
  return out;
}

export async function runMicro(repo: string): Promise<MicroResult[]> {
  const dist = (p: string): string => pathToFileURL(join(repo, 'dist', 'src', p)).href;
  const storeMod = (await import(dist('store/index.js'))) as { SqliteStore: new (dir: string) => StoreLike };
  const anthropic = (await import(dist('providers/anthropic/index.js'))) as {
    parseMessagesRequest(b: Buffer): unknown;
    anthropicAdapter: { newStreamMeter(info: Record<string, unknown>): MeterLike };
  };
  const sse = (await import(dist('proxy/sse.js'))) as { SseParser: new () => SseParserLike };

  const out: MicroResult[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-micro-'));
  const store = new storeMod.SqliteStore(dir);
  try {
    const hold = (id: string): Record<string, unknown> => ({ id, ts: Date.now(), keyId: 1, keyName: 'bench', session: null, provider: 'anthropic', model: 'claude-haiku-4-5', amountNanos: 1000 });
    const row = (id: string): Record<string, unknown> => ({
      ts: Date.now(),
      requestId: id,
      keyId: 1,
      keyName: 'bench',
      session: null,
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      pricedAs: 'claude-haiku-4-5',
      priceEstimated: false,
      inputTokens: 25,
      outputTokens: 10,
      cacheReadTokens: 0,
      cacheWrite5mTokens: 0,
      cacheWrite1hTokens: 0,
      costNanos: 75,
      outcome: 'ok',
      usageSource: 'provider',
      status: 200,
      durationMs: 1,
      detail: null,
    });
    const N = 2000;
    out.push({ what: 'store.dataVersion() (Bank.refresh, once per request)', usPerOp: time(N, () => store.dataVersion()), note: 'PRAGMA data_version' });
    const ids: string[] = [];
    out.push({
      what: 'store.insertHold (Bank.open): one commit',
      usPerOp: time(N, () => {
        const id = randomUUID();
        ids.push(id);
        store.insertHold(hold(id));
      }),
      note: 'autocommit INSERT into holds (TEXT primary key: table + index)',
    });
    let k = 0;
    out.push({
      what: 'store.settleHold (Bank.settle): one commit',
      usPerOp: time(Math.min(N, Math.floor(ids.length / 6)), () => {
        const id = ids[k++]!;
        store.settleHold(id, row(id));
      }),
      note: 'DELETE hold + INSERT ledger row (3 secondary indexes) in one transaction',
    });
    const request = (): void => {
      const id = randomUUID();
      store.insertHold(hold(id));
      store.settleHold(id, row(id));
    };
    const M = 5000;
    out.push({ what: 'hold + settle per request, as today (2 commits)', ...distribution(M, request), note: 'what every request pays on the event loop; the tail is the WAL auto-checkpoint (fsync) every ~1000 pages' });
    store.db.pragma('wal_autocheckpoint = 0');
    out.push({ what: 'same, auto-checkpoint off (checkpoint moved off the event loop)', ...distribution(M, request), note: 'PRAGMA wal_autocheckpoint=0 on the serving connection' });
    const t0 = performance.now();
    store.db.pragma('wal_checkpoint(PASSIVE)');
    out.push({
      what: `one checkpoint of the WAL those ${M + 200} requests left`,
      usPerOp: (performance.now() - t0) * 1000,
      note: 'what a background checkpointer (worker thread, own connection) would take off the event loop',
    });
    store.db.pragma('wal_autocheckpoint = 1000');
    const group = 16;
    const grouped = store.db.transaction((n: number) => {
      for (let i = 0; i < n; i++) request();
    });
    out.push({
      what: `hold + settle per request, ${group} requests per commit (group commit)`,
      usPerOp: time(N / group, () => grouped(group)) / group,
      note: 'upper bound of what batching the writes of one event-loop turn saves',
    });
    out.push({
      what: 'ledger row only, 1 commit (hold kept in memory)',
      usPerOp: time(N, () => store.insertLedger(row(randomUUID()))),
      note: 'if short requests skipped the persisted hold',
    });

    for (const tokens of [1_000, 10_000, 100_000]) {
      const b = body(tokens);
      const n = tokens >= 100_000 ? 50 : tokens >= 10_000 ? 300 : 2000;
      out.push({ what: `parseMessagesRequest, ${tokens / 1000}k-token body (${Math.round(b.length / 1024)} KB)`, usPerOp: time(n, () => anthropic.parseMessagesRequest(b)), note: 'JSON.parse + walk + byte scan' });
      if (tokens === 100_000) {
        out.push({ what: `  of which JSON.parse(body.toString()), ${tokens / 1000}k`, usPerOp: time(n, () => void JSON.parse(b.toString('utf8'))), note: 'the parse alone' });
        out.push({ what: `  of which body.toString('utf8'), ${tokens / 1000}k`, usPerOp: time(n, () => b.toString('utf8')), note: 'the decode alone' });
      }
    }

    const events = sseEvents(50);
    const parse = time(500, () => {
      const p = new sse.SseParser();
      for (const e of events) p.push(e);
    });
    out.push({ what: 'SseParser.push, per event (one event per chunk)', usPerOp: parse / events.length, note: `${events.length}-event stream` });
    const meter = time(500, () => {
      const p = new sse.SseParser();
      const m = anthropic.anthropicAdapter.newStreamMeter(REQUEST_INFO);
      for (const e of events) for (const ev of p.push(e)) m.onEvent(ev);
    });
    out.push({ what: 'SseParser.push + meter.onEvent, per event', usPerOp: meter / events.length, note: 'the meter JSON.parses every event' });
    const delta = events[2]!.toString('utf8').split('data: ')[1]!.trim();
    out.push({ what: '  of which JSON.parse of one text-delta event', usPerOp: time(20_000, () => void JSON.parse(delta)), note: `${delta.length} bytes` });
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
