import type { Nanos } from '../pricing/index.js';
import { StoreError } from '../store/index.js';
import type { EventChannel, EventRecord, SqliteStore } from '../store/index.js';
import { isValidTimeZone, machineTimeZone } from './period.js';

/**
 * Data-dir-wide settings, kept in the store's meta table so the server and every CLI command agree
 * (periods roll over in the same zone; status and the proxy see the same default session cap).
 */
export interface Settings {
  /** IANA zone periods roll over in; null = the machine's zone at the time of reading. */
  timeZone: string | null;
  /** Cap of every session of a key without its own --session-cap; null = none. */
  defaultSessionCapNanos: Nanos | null;
  /** Percentages of a budget's cap at which a threshold event fires, ascending. */
  thresholds: number[];
  /** Ledger rows older than this many days are folded into daily totals. */
  retainDays: number;
}

export const DEFAULT_THRESHOLDS: readonly number[] = [50, 80, 100];
export const DEFAULT_RETAIN_DAYS = 90;
/** Auto-tune reads 14 days of spend: retention never prunes closer than that. */
export const MIN_RETAIN_DAYS = 14;

export function readSettings(store: SqliteStore): Settings {
  const tz = store.getSetting('tz');
  const session = store.getSetting('default_session_cap_nanos');
  const thresholds = store.getSetting('thresholds');
  const retain = store.getSetting('retain_days');
  return {
    timeZone: tz,
    defaultSessionCapNanos: session === null ? null : Number(session),
    thresholds: thresholds === null ? [...DEFAULT_THRESHOLDS] : parseThresholds(thresholds),
    retainDays: retain === null ? DEFAULT_RETAIN_DAYS : Number(retain),
  };
}

/** The zone to compute periods in. */
export function timeZoneOf(settings: Settings): string {
  return settings.timeZone ?? machineTimeZone();
}

/** "50,80,100" → [50, 80, 100]; each 1–1000 (a soft budget can pass 100%), sorted, no repeats. "" or "none" → []. */
export function parseThresholds(text: string): number[] {
  if (text.trim() === '' || text.trim() === 'none') return [];
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const n = Number(part.trim().replace(/%$/, ''));
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new StoreError('E_INVALID', `thresholds must be whole percentages 1–1000 separated by commas, e.g. 50,80,100; got "${text}"`);
    out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

export interface SettingsChange {
  timeZone?: string | null;
  defaultSessionCapNanos?: Nanos | null;
  thresholds?: number[];
  retainDays?: number;
}

/** Validates and stores settings; one `settings` event per call that changed something. */
export function writeSettings(store: SqliteStore, change: SettingsChange, channel: EventChannel, now: number = Date.now()): { before: Settings; after: Settings; event: EventRecord | null } {
  if (change.timeZone != null && !isValidTimeZone(change.timeZone)) {
    throw new StoreError('E_INVALID', `unknown time zone "${change.timeZone}"; use an IANA name such as Europe/Paris, America/New_York or UTC`);
  }
  if (change.defaultSessionCapNanos != null && (!Number.isInteger(change.defaultSessionCapNanos) || change.defaultSessionCapNanos < 0)) {
    throw new StoreError('E_INVALID', 'the default session cap must be a dollar amount ≥ 0');
  }
  if (change.retainDays !== undefined && (!Number.isInteger(change.retainDays) || change.retainDays < MIN_RETAIN_DAYS)) {
    throw new StoreError('E_INVALID', `retain days must be a whole number ≥ ${MIN_RETAIN_DAYS} (auto-tune reads the last 14 days); got ${change.retainDays}`);
  }
  if (change.thresholds !== undefined) change = { ...change, thresholds: parseThresholds(change.thresholds.join(',')) };
  return store.db.transaction(() => {
    const before = readSettings(store);
    const parts: string[] = [];
    if (change.timeZone !== undefined && change.timeZone !== before.timeZone) {
      store.setSetting('tz', change.timeZone);
      parts.push(`tz ${before.timeZone ?? 'machine'} → ${change.timeZone ?? 'machine'}`);
    }
    if (change.defaultSessionCapNanos !== undefined && change.defaultSessionCapNanos !== before.defaultSessionCapNanos) {
      store.setSetting('default_session_cap_nanos', change.defaultSessionCapNanos === null ? null : String(change.defaultSessionCapNanos));
      parts.push(`default session cap ${usdText(before.defaultSessionCapNanos)} → ${usdText(change.defaultSessionCapNanos)}`);
    }
    if (change.thresholds !== undefined && change.thresholds.join(',') !== before.thresholds.join(',')) {
      store.setSetting('thresholds', change.thresholds.length === 0 ? 'none' : change.thresholds.join(','));
      parts.push(`thresholds ${before.thresholds.join(',') || 'none'} → ${change.thresholds.join(',') || 'none'}`);
    }
    if (change.retainDays !== undefined && change.retainDays !== before.retainDays) {
      store.setSetting('retain_days', String(change.retainDays));
      parts.push(`retain days ${before.retainDays} → ${change.retainDays}`);
    }
    const after = readSettings(store);
    const event = parts.length === 0 ? null : store.insertEvent({ ts: now, kind: 'settings', budget: null, channel, capBeforeNanos: null, capAfterNanos: null, detail: parts.join('; ') });
    return { before, after, event };
  })();
}

const usdText = (m: Nanos | null): string => (m === null ? 'none' : `$${(m / 1e9).toFixed(2)}`);
