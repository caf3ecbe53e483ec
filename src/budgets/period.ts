import type { Period } from '../store/types.js';

export interface PeriodWindow {
  /** Epoch ms of the start (inclusive). */
  start: number;
  /** Epoch ms of the next reset, or null for 'total'. */
  end: number | null;
}

/** The machine's IANA time zone (what `--tz` defaults to). */
export function machineTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
    formatters.set(tz, f);
  }
  return f;
}

/** True for a zone Intl knows (e.g. "Europe/Paris", "UTC"). */
export function isValidTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

export interface LocalTime {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  /** 0 = Monday … 6 = Sunday */
  weekdayFromMonday: number;
}

const WEEKDAYS: Record<string, number> = { Mon: 0, Tue: 1, Wed: 2, Thu: 3, Fri: 4, Sat: 5, Sun: 6 };

/** The wall-clock date and time of `ms` in `tz`. */
export function localTime(ms: number, tz: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(tz).formatToParts(ms)) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekdayFromMonday: WEEKDAYS[parts.weekday ?? 'Mon'] ?? 0,
  };
}

const dayNumber = (y: number, m: number, d: number): number => Date.UTC(y, m - 1, d) / 86_400_000;

/**
 * The first instant of the calendar day y-m-d (month 1–12; out-of-range days roll over, as with Date)
 * in `tz`. Usually local midnight; where a DST jump skips midnight, the first instant that exists.
 * Found by bisection on "local date ≥ target", which needs no knowledge of the zone's rules.
 */
export function startOfLocalDay(year: number, month: number, day: number, tz: string): number {
  const target = Math.floor(Date.UTC(year, month - 1, day) / 86_400_000);
  const localDay = (ms: number): number => {
    const t = localTime(ms, tz);
    return dayNumber(t.year, t.month, t.day);
  };
  // Every zone is within ±14 h of UTC (plus a DST hour): local midnight lies in this bracket.
  let lo = target * 86_400_000 - 16 * 3600_000;
  let hi = target * 86_400_000 + 16 * 3600_000;
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2000) * 1000;
    if (localDay(mid) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Calendar periods in time zone `tz` (default: the machine's): day from midnight, week from Monday
 * 00:00, month from the 1st. `total` never resets. A day across a DST change is 23 or 25 hours long.
 */
export function periodWindow(period: Period, nowMs: number, tz: string = machineTimeZone()): PeriodWindow {
  if (period === 'total') return { start: 0, end: null };
  const t = localTime(nowMs, tz);
  switch (period) {
    case 'day':
      return { start: startOfLocalDay(t.year, t.month, t.day, tz), end: startOfLocalDay(t.year, t.month, t.day + 1, tz) };
    case 'week': {
      const monday = t.day - t.weekdayFromMonday;
      return { start: startOfLocalDay(t.year, t.month, monday, tz), end: startOfLocalDay(t.year, t.month, monday + 7, tz) };
    }
    case 'month':
      return { start: startOfLocalDay(t.year, t.month, 1, tz), end: startOfLocalDay(t.year, t.month + 1, 1, tz) };
  }
}

/** The local calendar day of `ms` in `tz`: its name (YYYY-MM-DD) and first instant. */
export function localDay(ms: number, tz: string): { day: string; dayStart: number } {
  const t = localTime(ms, tz);
  const pad = (n: number) => String(n).padStart(2, '0');
  return { day: `${t.year}-${pad(t.month)}-${pad(t.day)}`, dayStart: startOfLocalDay(t.year, t.month, t.day, tz) };
}

/** "2026-03-29 00:00 Europe/Paris" style, for status and messages. */
export function formatLocal(ms: number | null, tz: string): string {
  if (ms === null) return 'never';
  const t = localTime(ms, tz);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${t.year}-${pad(t.month)}-${pad(t.day)} ${pad(t.hour)}:${pad(t.minute)}`;
}
