import { describeLine, runReconcile } from '../../reconcile/index.js';
import { parse, str } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { usd as fmt } from '../format.js';
import { parseSince } from './log.js';

const DAY_MS = 86_400_000;

/**
 * `spendcap reconcile [--since DATE] [--json]`: the ledger beside what providers report. Providers
 * bucket by UTC day, so a date means UTC midnight; the default is the last 7 UTC days.
 */
export async function reconcile(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { since: { type: 'string' } }, false);
  const now = Date.now();
  const sinceText = str(values.since);
  const sinceMs = sinceText === undefined ? Math.floor(now / DAY_MS) * DAY_MS - 6 * DAY_MS : parseSince(sinceText, now, 'UTC');
  const { store, masterKey } = openStore(values['data-dir'], io);
  try {
    const report = await runReconcile(store, masterKey, { sinceMs, env: io.env, channel: 'cli', now });
    if (values.json) {
      io.out(JSON.stringify(report, null, 2) + '\n');
      return 0;
    }
    io.out(`Reconciled since ${report.since.slice(0, 10)} (UTC days).\n`);
    if (report.lines.length === 0) io.out('Nothing to compare: no OpenRouter rows with a generation id, no provider keys, no admin keys.\n');
    for (const l of report.lines) io.out(describeLine(l) + '\n');
    if (report.corrections.length > 0) {
      const sign = report.correctedNanos > 0 ? '+' : '';
      io.out(`\nCorrected ${report.corrections.length} OpenRouter row(s) to OpenRouter's figure (${sign}${fmt(report.correctedNanos)}); budgets count the corrected figures. Audited: spendcap events\n`);
    } else io.out('\nNo ledger row needed a correction.\n');
    for (const n of report.notes) io.out(`note: ${n}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
