import { readSettings, startOfLocalDay, timeZoneOf } from '../../budgets/index.js';
import type { StoredLedgerRow } from '../../store/index.js';
import { parse, str } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { printable, table, usd, when } from '../format.js';

/** Columns of `log --csv` (and the keys of every JSON row), in order. */
export const LEDGER_COLUMNS = [
  'ts',
  'requestId',
  'keyName',
  'session',
  'tag',
  'provider',
  'model',
  'pricedAs',
  'priceEstimated',
  'inputTokens',
  'outputTokens',
  'cacheReadTokens',
  'cacheWrite5mTokens',
  'cacheWrite1hTokens',
  'costUsd',
  'costNanos',
  'providerCostNanos',
  'meteredCostNanos',
  'outcome',
  'usageSource',
  'status',
  'durationMs',
  'detail',
] as const;

function exportRow(r: StoredLedgerRow): Record<(typeof LEDGER_COLUMNS)[number], string | number | boolean | null> & { id: number; keyId: number } {
  return {
    id: r.id,
    ts: new Date(r.ts).toISOString(),
    requestId: r.requestId,
    keyId: r.keyId,
    keyName: r.keyName,
    session: r.session,
    tag: r.tag ?? null,
    provider: r.provider,
    model: r.model,
    pricedAs: r.pricedAs,
    priceEstimated: r.priceEstimated,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    cacheReadTokens: r.cacheReadTokens,
    cacheWrite5mTokens: r.cacheWrite5mTokens,
    cacheWrite1hTokens: r.cacheWrite1hTokens,
    costUsd: r.costNanos / 1e9,
    costNanos: r.costNanos,
    providerCostNanos: r.providerCostNanos ?? null,
    meteredCostNanos: r.meteredCostNanos ?? null,
    outcome: r.outcome,
    usageSource: r.usageSource,
    status: r.status,
    durationMs: r.durationMs,
    detail: r.detail,
  };
}

/** RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled. */
export function csvField(v: string | number | boolean | null): string {
  if (v === null) return '';
  const s = printable(String(v));
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * --since: "2026-03-01" (local midnight in the configured zone), an ISO date-time, or a span back
 * from now: "7d", "12h", "30m".
 */
export function parseSince(text: string, now: number, tz: string): number {
  const span = /^(\d+)([dhm])$/.exec(text);
  if (span) return now - Number(span[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[span[2] as 'd' | 'h' | 'm'];
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) return startOfLocalDay(Number(day[1]), Number(day[2]), Number(day[3]), tz);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new UsageError(`--since must be a date (2026-03-01), a date-time (2026-03-01T09:00:00Z) or a span (7d, 12h, 30m); got "${text}"`);
  return ms;
}

export async function log(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { limit: { type: 'string' }, since: { type: 'string' }, csv: { type: 'boolean' }, jsonl: { type: 'boolean' } }, false);
  const formats = [values.json === true, values.csv === true, values.jsonl === true].filter(Boolean).length;
  if (formats > 1) throw new UsageError('choose one of --json, --csv, --jsonl');
  const exporting = values.csv === true || values.jsonl === true;
  const limit = values.limit === undefined ? null : Number(values.limit);
  if (limit !== null && (!Number.isInteger(limit) || limit < 1)) throw new UsageError(`--limit must be a positive whole number; got "${String(values.limit)}"`);
  const { store } = openStore(values['data-dir'], io);
  try {
    const sinceText = str(values.since);
    let rows: StoredLedgerRow[];
    if (sinceText !== undefined || exporting) {
      // Exports run oldest first, so appending a later export continues the file.
      const since = sinceText === undefined ? 0 : parseSince(sinceText, Date.now(), timeZoneOf((await readSettings(store))));
      rows = [];
      rows = await store.ledger.since(since);
      if (limit !== null) rows = rows.slice(-limit);
      if (!exporting) rows.reverse();
    } else rows = (await store.ledger.page(limit ?? 50));

    if (values.csv) {
      io.out(LEDGER_COLUMNS.join(',') + '\n');
      for (const r of rows) {
        const e = exportRow(r);
        io.out(LEDGER_COLUMNS.map((c) => csvField(e[c])).join(',') + '\n');
      }
      return 0;
    }
    if (values.jsonl) {
      for (const r of rows) io.out(JSON.stringify(exportRow(r)) + '\n');
      return 0;
    }
    if (values.json) {
      io.out(JSON.stringify(rows.map((r) => ({ ...r, ts: new Date(r.ts).toISOString(), costUsd: r.costNanos / 1e9 })), null, 2) + '\n');
      return 0;
    }
    if (rows.length === 0) {
      io.out('The ledger is empty.\n');
      return 0;
    }
    io.out(
      table([
        ['TIME', 'KEY', 'SESSION', 'BUDGET', 'MODEL', 'IN', 'OUT', 'CACHE R/W', 'COST', 'OUTCOME'],
        ...rows.map((r) => [
          when(r.ts),
          r.keyName,
          r.session?.slice(0, 8) ?? '',
          r.tag ?? '',
          r.model + (r.priceEstimated ? '*' : ''),
          String(r.inputTokens),
          String(r.outputTokens),
          `${r.cacheReadTokens}/${r.cacheWrite5mTokens + r.cacheWrite1hTokens}`,
          usd(r.costNanos) + (r.usageSource === 'estimate' ? '~' : '') + (r.usageSource === 'estimate' && r.meteredCostNanos != null ? ` (billed ~${usd(r.meteredCostNanos)})` : ''),
          r.outcome + (r.detail && r.outcome !== 'ok' ? `: ${r.detail.slice(0, 60)}` : ''),
        ]),
      ]) + '* priced at a fallback model   ~ estimated usage (cut or interrupted): counted against the cap, (billed ~) spendcap\'s best estimate of the bill\n',
    );
    return 0;
  } finally {
    await store.close();
  }
}

