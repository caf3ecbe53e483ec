import { parse } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { table, usd, when } from '../format.js';

export async function log(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { limit: { type: 'string' } }, false);
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive whole number; got "${String(values.limit)}"`);
  const { store } = openStore(values['data-dir'], io);
  try {
    const rows = store.listLedger(limit);
    if (values.json) {
      io.out(JSON.stringify(rows.map((r) => ({ ...r, ts: new Date(r.ts).toISOString(), costUsd: r.costMicros / 1e6 })), null, 2) + '\n');
      return 0;
    }
    if (rows.length === 0) {
      io.out('The ledger is empty.\n');
      return 0;
    }
    io.out(
      table([
        ['TIME', 'KEY', 'SESSION', 'MODEL', 'IN', 'OUT', 'CACHE R/W', 'COST', 'OUTCOME'],
        ...rows.map((r) => [
          when(r.ts),
          r.keyName,
          r.session?.slice(0, 8) ?? '',
          r.model + (r.priceEstimated ? '*' : ''),
          String(r.inputTokens),
          String(r.outputTokens),
          `${r.cacheReadTokens}/${r.cacheWrite5mTokens + r.cacheWrite1hTokens}`,
          usd(r.costMicros) + (r.usageSource === 'estimate' ? '~' : ''),
          r.outcome + (r.detail && r.outcome !== 'ok' ? `: ${r.detail.slice(0, 60)}` : ''),
        ]),
      ]) + '* priced at a fallback model   ~ estimated usage (cut or interrupted)\n',
    );
    return 0;
  } finally {
    store.close();
  }
}
