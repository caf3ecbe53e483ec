import { formatUsd } from '../pricing/index.js';

export const usd = formatUsd;

export function when(ms: number | null): string {
  if (ms === null) return 'never';
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A terminal bar: spent solid, held shaded, the rest empty. */
export function bar(spent: number, held: number, cap: number, width = 24): string {
  if (cap <= 0) return `[${'█'.repeat(width)}]`;
  const s = Math.min(width, Math.round((spent / cap) * width));
  const h = Math.min(width - s, Math.round((held / cap) * width));
  return `[${'█'.repeat(s)}${'▒'.repeat(h)}${'·'.repeat(width - s - h)}]`;
}

export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - [...c].length))).join('  ')).join('\n') + '\n';
}
