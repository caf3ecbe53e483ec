import { readSettings, timeZoneOf, writeSettings } from '../../budgets/index.js';
import type { SettingsChange } from '../../budgets/index.js';
import type { Store } from '../../store/index.js';
import { optionalUsd, parse, str } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { usd } from '../format.js';

/** The flags `settings` and `start` share; every one is persisted in the data dir. */
export const SETTINGS_OPTIONS = {
  tz: { type: 'string' },
  'default-session-cap': { type: 'string' },
  thresholds: { type: 'string' },
  'retain-days': { type: 'string' },
} as const;

/** Flags → a settings change ("none" clears the default session cap; "machine" the zone). */
export function settingsChange(values: Record<string, unknown>): SettingsChange {
  const change: SettingsChange = {};
  const tz = str(values.tz);
  if (tz !== undefined) change.timeZone = tz === 'machine' ? null : tz;
  const dsc = values['default-session-cap'];
  if (dsc !== undefined) change.defaultSessionCapNanos = dsc === 'none' ? null : optionalUsd(dsc, '--default-session-cap');
  const th = str(values.thresholds);
  if (th !== undefined) change.thresholds = th === 'none' || th === '' ? [] : th.split(',').map((p) => Number(p.trim().replace(/%$/, '')));
  const rd = values['retain-days'];
  if (rd !== undefined) {
    const n = Number(rd);
    if (!Number.isInteger(n)) throw new UsageError(`--retain-days must be a whole number of days; got "${typeof rd === 'string' ? rd : typeof rd}"`);
    change.retainDays = n;
  }
  return change;
}

/**
 * Persists settings given as flags (start and settings call this), so the server, status and every
 * CLI command agree. The one function `start` needs before startServer.
 */
export async function applySettingsFlags(store: Store, values: Record<string, unknown>): Promise<void> {
  const change = settingsChange(values);
  if (Object.keys(change).length > 0) await writeSettings(store, change, 'cli');
}

export async function settings(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, SETTINGS_OPTIONS, false);
  const { store } = openStore(values['data-dir'], io);
  try {
    await applySettingsFlags(store, values);
    const s = await readSettings(store);
    const shown = {
      timeZone: timeZoneOf(s),
      timeZoneSetting: s.timeZone ?? 'machine',
      defaultSessionCapUsd: s.defaultSessionCapNanos === null ? null : s.defaultSessionCapNanos / 1e9,
      thresholds: s.thresholds,
      retainDays: s.retainDays,
    };
    if (values.json) io.out(JSON.stringify(shown) + '\n');
    else {
      io.out(`time zone            ${shown.timeZone}${s.timeZone === null ? ' (the machine\'s)' : ''}\n`);
      io.out(`default session cap  ${s.defaultSessionCapNanos === null ? 'none' : usd(s.defaultSessionCapNanos)}\n`);
      io.out(`thresholds           ${s.thresholds.length === 0 ? 'none' : s.thresholds.map((t) => `${t}%`).join(', ')}\n`);
      io.out(`retain ledger rows   ${s.retainDays} days (older rows are kept as daily totals)\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}
