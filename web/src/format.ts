// Formatting money, tokens and times the same way everywhere on the page.

export function usd(n: number | null | undefined, opts: { precise?: boolean } = {}): string {
  if (n === null || n === undefined) return '—';
  const abs = Math.abs(n);
  // Cents for money people think about; more digits for per-request costs that are fractions of a cent.
  const digits = opts.precise && abs > 0 && abs < 0.01 ? 4 : 2;
  return `${n < 0 ? '−' : ''}$${abs.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}

export function int(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  return n.toLocaleString('en-US');
}

export function pct(part: number, whole: number): number {
  if (whole <= 0) return part > 0 ? 100 : 0;
  return (part / whole) * 100;
}

/** "3h 12m", "2d 4h", "45s": how long until a period resets. */
export function duration(ms: number): string {
  if (ms <= 0) return 'now';
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${String(hr).padStart(2, '0')}h`;
  if (hr > 0) return `${hr}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

export function dateTime(iso: string | null): string {
  if (iso === null) return '—';
  const d = new Date(iso);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return sameDay ? time : `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}

export function ago(iso: string | null): string {
  if (iso === null) return '—';
  const ms = Date.now() - new Date(iso).getTime();
  if (ms < 60_000) return 'just now';
  return `${duration(ms).split(' ')[0]!} ago`;
}

export function short(s: string, n = 12): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
