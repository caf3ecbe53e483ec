import type { Nanos } from '../pricing/index.js';
import { StoreError } from '../store/index.js';
import type { EventChannel, EventRecord, Store } from '../store/index.js';
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

export async function readSettings(store: Store): Promise<Settings> {
  return settingsFrom(await store.settings.all());
}

/** Settings from their stored strings (absent: the default). */
export function settingsFrom(values: Readonly<Record<string, string>>): Settings {
  const tz = values.tz ?? null;
  const session = values.default_session_cap_nanos ?? null;
  const thresholds = values.thresholds ?? null;
  const retain = values.retain_days ?? null;
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
export async function writeSettings(store: Store, change: SettingsChange, channel: EventChannel, now: number = Date.now()): Promise<{ before: Settings; after: Settings; event: EventRecord | null }> {
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
  // Read, compare, write: the values and their one event land together; a CLI and the dashboard racing
  // on the same setting both win in turn, as they did with a transaction around the read.
  const before = await readSettings(store);
  const parts: string[] = [];
  const values: Record<string, string | null> = {};
  if (change.timeZone !== undefined && change.timeZone !== before.timeZone) {
    values.tz = change.timeZone;
    parts.push(`tz ${before.timeZone ?? 'machine'} → ${change.timeZone ?? 'machine'}`);
  }
  if (change.defaultSessionCapNanos !== undefined && change.defaultSessionCapNanos !== before.defaultSessionCapNanos) {
    values.default_session_cap_nanos = change.defaultSessionCapNanos === null ? null : String(change.defaultSessionCapNanos);
    parts.push(`default session cap ${usdText(before.defaultSessionCapNanos)} → ${usdText(change.defaultSessionCapNanos)}`);
  }
  if (change.thresholds !== undefined && change.thresholds.join(',') !== before.thresholds.join(',')) {
    values.thresholds = change.thresholds.length === 0 ? 'none' : change.thresholds.join(',');
    parts.push(`thresholds ${before.thresholds.join(',') || 'none'} → ${change.thresholds.join(',') || 'none'}`);
  }
  if (change.retainDays !== undefined && change.retainDays !== before.retainDays) {
    values.retain_days = String(change.retainDays);
    parts.push(`retain days ${before.retainDays} → ${change.retainDays}`);
  }
  if (parts.length === 0) return { before, after: before, event: null };
  const event = await store.settings.set(values, { ts: now, kind: 'settings', budget: null, channel, capBeforeNanos: null, capAfterNanos: null, detail: parts.join('; ') });
  return { before, after: await readSettings(store), event };
}

const usdText = (m: Nanos | null): string => (m === null ? 'none' : `$${(m / 1e9).toFixed(2)}`);
