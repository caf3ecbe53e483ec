// What `spendcap watch` draws, as a pure function of its state and the terminal size, so it can be
// tested without a terminal and redrawn whole on every change or resize.
import type { LiveBudget } from '../../admin/live.js';

export interface RecentRequest {
  ts: string;
  keyName: string;
  model: string;
  costUsd: number;
  outcome: string;
}

/** The one state object of a watch session. */
export interface WatchState {
  url: string;
  budgets: LiveBudget[];
  recent: RecentRequest[];
  selected: number;
  /** Spend samples per budget (ms, spentUsd), for the burn rate. */
  samples: Map<string, Array<[number, number]>>;
  message: string;
  connected: boolean;
}

const BURN_WINDOW_MS = 10 * 60_000;
const ESC = '\x1b[';

export function newState(url: string): WatchState {
  return { url, budgets: [], recent: [], selected: 0, samples: new Map(), message: '', connected: false };
}

/** Records a budget's spend, keeping the last ten minutes. */
export function sample(state: WatchState, b: LiveBudget, now: number): void {
  const s = state.samples.get(b.name) ?? [];
  s.push([now, b.spentUsd]);
  while (s.length > 2 && s[0]![0] < now - BURN_WINDOW_MS) s.shift();
  state.samples.set(b.name, s);
}

/** USD per hour over the samples (0 with fewer than two, or when spend went down at a period reset). */
export function burnPerHour(state: WatchState, name: string): number {
  const s = state.samples.get(name);
  if (!s || s.length < 2) return 0;
  const [t0, v0] = s[0]!;
  const [t1, v1] = s[s.length - 1]!;
  if (t1 <= t0 || v1 < v0) return 0;
  return ((v1 - v0) * 3600_000) / (t1 - t0);
}

const usd = (n: number) => `$${n.toFixed(n !== 0 && Math.abs(n) < 1 ? 4 : 2)}`;

function bar(spent: number, held: number, cap: number, width: number): string {
  if (width <= 0) return '';
  if (cap <= 0) return '█'.repeat(width);
  const s = Math.min(width, Math.round((spent / cap) * width));
  const h = Math.min(width - s, Math.round((held / cap) * width));
  return '█'.repeat(s) + '▒'.repeat(h) + '·'.repeat(width - s - h);
}

/** Cuts a line to the terminal width (by code points: the bars are single-width). */
function fit(line: string, cols: number): string {
  const cps = [...line];
  return cps.length <= cols ? line : cps.slice(0, Math.max(0, cols - 1)).join('') + '…';
}

export function renderLines(state: WatchState, cols: number, rows: number): string[] {
  const out: string[] = [];
  out.push(`spendcap watch · ${state.url} · ${state.connected ? 'live' : 'connecting…'}`);
  out.push('');
  const nameW = Math.min(20, Math.max(6, ...state.budgets.map((b) => b.name.length)));
  const barW = Math.max(10, Math.min(40, cols - nameW - 48));
  state.budgets.forEach((b, i) => {
    const mark = i === state.selected ? '>' : ' ';
    const rate = burnPerHour(state, b.name);
    const status = b.killed ? ' KILLED' : b.remainingUsd <= 0 ? ' AT CAP' : '';
    out.push(`${mark} ${b.name.padEnd(nameW).slice(0, nameW)} [${bar(b.spentUsd, b.heldUsd, b.capUsd, barW)}] ${usd(b.spentUsd)} of ${usd(b.capUsd)} ${b.period}${rate > 0 ? ` · ${usd(rate)}/h` : ''}${status}`);
  });
  if (state.budgets.length === 0) out.push('  no budgets yet (spendcap key add …)');
  out.push('');
  out.push('last requests:');
  const room = Math.max(0, rows - out.length - 3);
  for (const r of state.recent.slice(0, room)) out.push(`  ${r.ts.slice(11, 19)} ${r.keyName} ${r.model} ${usd(r.costUsd)} ${r.outcome}`);
  while (out.length < rows - 2) out.push('');
  out.push(state.message);
  out.push('↑/↓ select · + lift $5 · k kill · u unkill · q quit');
  return out.slice(0, rows).map((l) => fit(l, cols));
}

/** The whole screen: home, each line cleared to its end, the rest cleared; no scrolling, no flicker. */
export function renderScreen(state: WatchState, cols: number, rows: number): string {
  return `${ESC}H${renderLines(state, cols, rows).map((l) => `${l}${ESC}K`).join('\r\n')}${ESC}J`;
}
