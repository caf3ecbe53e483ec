import { parse, str } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { table, usd, when } from '../format.js';

/** The audit log: every action (with its channel and the cap before/after) and every block, cut and threshold. */
export async function events(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { limit: { type: 'string' }, budget: { type: 'string' } }, false);
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number; got "${String(values.limit)}"`);
  const { store } = openStore(values['data-dir'], io);
  try {
    const budget = str(values.budget);
    const list = (await store.events.list(limit, budget === undefined ? {} : { budget }));
    if (values.json) {
      io.out(
        JSON.stringify(
          list.map((e) => ({
            ...e,
            ts: new Date(e.ts).toISOString(),
            capBeforeUsd: e.capBeforeNanos === null ? null : e.capBeforeNanos / 1e9,
            capAfterUsd: e.capAfterNanos === null ? null : e.capAfterNanos / 1e9,
          })),
          null,
          2,
        ) + '\n',
      );
      return 0;
    }
    if (list.length === 0) {
      io.out('No events yet.\n');
      return 0;
    }
    const cap = (m: number | null) => (m === null ? '' : usd(m));
    io.out(table([['TIME', 'EVENT', 'BUDGET', 'BY', 'CAP BEFORE', 'CAP AFTER', 'DETAIL'], ...list.map((e) => [when(e.ts), e.kind, e.budget ?? '', e.channel, cap(e.capBeforeNanos), e.capBeforeNanos === e.capAfterNanos ? '' : cap(e.capAfterNanos), e.detail ?? ''])]));
    return 0;
  } finally {
    await store.close();
  }
}
