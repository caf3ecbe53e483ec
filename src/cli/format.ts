import { formatUsd } from '../pricing/index.js';

export const usd = formatUsd;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from outside (a model name a client sent, a session id, an event's detail) as the terminal
 * should show it: control characters (newline, carriage return, ESC of an ANSI sequence, C1 codes)
 * and the bidi overrides that reorder a line become visible escapes, so no value can forge a line,
 * move the cursor or recolour the output. Everything the CLI prints for a person goes through it.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

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

/** Aligned columns; every cell is made printable first. */
export function table(cells: string[][]): string {
  const rows = cells.map((r) => r.map(printable));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, [...c].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - [...c].length))).join('  ')).join('\n') + '\n';
}
