// Reads a V8 .cpuprofile (node --cpu-prof) and sums it up: self time by function, inclusive time
// of spendcap's own functions, and time by area (spendcap, undici, node http, sqlite, GC, ...).

import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FnCost {
  fn: string;
  ms: number;
  /** NANOSECONDS_KEEP per request served during the profile. */
  usPerReq: number;
  pct: number;
}

export interface ProfileSummary {
  file: string;
  requests: number;
  /** Sampled time that was not idle, ms. */
  busyMs: number;
  usPerReq: number;
  byArea: FnCost[];
  self: FnCost[];
  /** Inclusive time of spendcap's own functions (dist/src). */
  spendcapInclusive: FnCost[];
}

const maps = new Map<string, SourceMap | null>();

/** src/….ts:line for a frame in dist/src (through tsc's source map), else a short form of the URL. */
function location(cf: CallFrame): string {
  const u = cf.url;
  if (u === '') return '';
  const src = u.indexOf('/dist/src/');
  if (src !== -1) {
    let map = maps.get(u);
    if (map === undefined) {
      map = null;
      try {
        const file = fileURLToPath(u) + '.map';
        if (existsSync(file)) map = new SourceMap(JSON.parse(readFileSync(file, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
      } catch {
        map = null;
      }
      maps.set(u, map);
    }
    const entry = map?.findEntry(cf.lineNumber, cf.columnNumber);
    const rel = 'src/' + u.slice(src + '/dist/src/'.length).replace(/\.js$/, '.ts');
    if (entry && 'originalLine' in entry) return `${rel}:${entry.originalLine + 1}`;
    return `${rel.replace(/\.ts$/, '.js')}:${cf.lineNumber + 1}`;
  }
  const nm = u.lastIndexOf('/node_modules/');
  const short = nm !== -1 ? u.slice(nm + '/node_modules/'.length) : u.replace(/^file:\/\//, '');
  return `${short}:${cf.lineNumber + 1}`;
}

function frameKey(cf: CallFrame): string {
  const loc = location(cf);
  const name = cf.functionName || '(anonymous)';
  return loc ? `${name} ${loc}` : name;
}

export function areaOf(cf: CallFrame): string {
  const u = cf.url;
  const n = cf.functionName;
  if (n === '(idle)') return 'idle';
  if (n === '(garbage collector)') return 'GC';
  if (n === '(program)') return 'V8/native (unattributed)';
  if (u.includes('/dist/src/')) return 'spendcap (src/)';
  if (u.includes('better-sqlite3')) return 'better-sqlite3 (JS side)';
  if (u.includes('undici')) return 'undici';
  if (/node:_http|node:internal\/http|node:http/.test(u)) return 'node:http';
  if (/node:internal\/streams|node:stream/.test(u)) return 'node streams';
  if (/node:net|node:internal\/stream_base|node:internal\/net/.test(u)) return 'node:net / sockets';
  if (/node:internal\/crypto|node:crypto/.test(u)) return 'node:crypto';
  if (/node:internal\/(timers|process\/task_queues|async_hooks)|node:events/.test(u)) return 'timers / events / ticks';
  if (u === '') return 'native functions (incl. SQLite, JSON, Buffer)';
  if (u.startsWith('node:')) return 'node (other)';
  return 'other JS';
}

export function summarizeProfile(file: string, requests: number, top = 25): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const area = new Map<string, number>();
  const incl = new Map<string, number>();
  let busyUs = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const node = byId.get(prof.samples[i]!);
    const dt = prof.timeDeltas[i] ?? 0;
    if (!node || dt <= 0) continue;
    const a = areaOf(node.callFrame);
    area.set(a, (area.get(a) ?? 0) + dt);
    if (a === 'idle') continue;
    busyUs += dt;
    const k = frameKey(node.callFrame);
    self.set(k, (self.get(k) ?? 0) + dt);
    // Inclusive: every distinct spendcap frame on the stack.
    const seen = new Set<string>();
    let id: number | undefined = node.id;
    while (id !== undefined) {
      const n = byId.get(id);
      if (!n) break;
      if (n.callFrame.url.includes('/dist/src/')) {
        const fk = frameKey(n.callFrame);
        if (!seen.has(fk)) {
          seen.add(fk);
          incl.set(fk, (incl.get(fk) ?? 0) + dt);
        }
      }
      id = parent.get(id);
    }
  }
  const busyMs = busyUs / 1000;
  const toCosts = (m: Map<string, number>, n: number): FnCost[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([fn, us]) => ({ fn, ms: us / 1000, usPerReq: requests > 0 ? us / requests : Number.NaN, pct: busyUs > 0 ? (100 * us) / busyUs : 0 }));
  area.delete('idle');
  return {
    file,
    requests,
    busyMs,
    usPerReq: requests > 0 ? busyUs / requests : Number.NaN,
    byArea: toCosts(area, 20),
    self: toCosts(self, top),
    spendcapInclusive: toCosts(incl, top),
  };
}
