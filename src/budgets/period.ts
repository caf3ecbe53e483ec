import type { Period } from '../store/types.js';

export interface PeriodWindow {
  /** Epoch ms of the start (inclusive). */
  start: number;
  /** Epoch ms of the next reset, or null for 'total'. */
  end: number | null;
}

/**
 * Calendar periods in the machine's local time zone: day from midnight, week from Monday 00:00,
 * month from the 1st. `total` never resets.
 */
export function periodWindow(period: Period, nowMs: number): PeriodWindow {
  if (period === 'total') return { start: 0, end: null };
  const d = new Date(nowMs);
  const y = d.getFullYear();
  const m = d.getMonth();
  const day = d.getDate();
  switch (period) {
    case 'day':
      return { start: new Date(y, m, day).getTime(), end: new Date(y, m, day + 1).getTime() };
    case 'week': {
      const sinceMonday = (d.getDay() + 6) % 7;
      return { start: new Date(y, m, day - sinceMonday).getTime(), end: new Date(y, m, day - sinceMonday + 7).getTime() };
    }
    case 'month':
      return { start: new Date(y, m, 1).getTime(), end: new Date(y, m + 1, 1).getTime() };
  }
}
