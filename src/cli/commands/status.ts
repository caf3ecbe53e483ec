import { budgetReport, formatLocal } from '../../budgets/index.js';
import type { BudgetStatus } from '../../budgets/index.js';
import { parse } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { bar, printable, table, usd } from '../format.js';

const orNull = (m: number | null): number | null => (m === null ? null : m / 1e9);

/** One budget as `status --json` and `budget list --json` print it. */
export function statusJson(b: BudgetStatus) {
  return {
    name: b.name,
    scope: b.scope,
    mode: b.mode,
    killed: b.killed,
    clamp: b.clamp,
    period: b.period,
    capUsd: b.capNanos / 1e9,
    spentUsd: b.spentNanos / 1e9,
    heldUsd: b.heldNanos / 1e9,
    remainingUsd: b.remainingNanos / 1e9,
    ceilingUsd: orNull(b.ceilingNanos),
    sessionCapUsd: orNull(b.sessionCapNanos),
    effectiveSessionCapUsd: orNull(b.effectiveSessionCapNanos),
    periodStart: new Date(b.periodStart).toISOString(),
    periodEnd: b.periodEnd === null ? null : new Date(b.periodEnd).toISOString(),
    resets: b.periodEnd === null ? 'never' : `${formatLocal(b.periodEnd, b.timeZone)} ${b.timeZone}`,
    timeZone: b.timeZone,
    thresholdFired: b.thresholdFired,
    autotune: b.autotune,
    suggestion: b.suggestion === null ? null : { capUsd: orNull(b.suggestion.suggestedNanos), reason: b.suggestion.reason },
    estimatedPriceRequests: b.estimatedPriceRequests,
    sessions: b.sessions.map((s) => ({ session: s.session, spentUsd: s.spentNanos / 1e9, capUsd: s.capNanos / 1e9, lastSeen: new Date(s.lastTs).toISOString() })),
  };
}

export async function status(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {}, false);
  const { store } = openStore(values['data-dir'], io);
  try {
    const report = await budgetReport(store);
    if (values.json) {
      io.out(JSON.stringify(report.map(statusJson), null, 2) + '\n');
      return 0;
    }
    if (report.length === 0) {
      io.out('No budgets yet. Create a key with a cap: spendcap key add NAME --provider anthropic --provider-key sk-ant-… --cap 15\n');
      return 0;
    }
    const rows = [['BUDGET', '', 'SPENT', 'HELD', 'CAP', 'LEFT', 'PERIOD', 'RESETS', 'STATE']];
    for (const b of report) {
      const state = b.killed ? 'KILLED' : b.remainingNanos === 0 ? (b.mode === 'soft' ? 'OVER (soft)' : 'AT CAP') : b.mode === 'soft' ? 'soft' : 'ok';
      const notes = [
        b.scope === 'key' ? '' : b.scope,
        b.clamp ? 'clamp' : '',
        b.estimatedPriceRequests > 0 ? `${b.estimatedPriceRequests} estimated prices` : '',
        b.suggestion?.suggestedNanos != null ? `suggest ${usd(b.suggestion.suggestedNanos)}` : '',
      ].filter((n) => n !== '');
      rows.push([b.name, bar(b.spentNanos, b.heldNanos, b.capNanos), usd(b.spentNanos), usd(b.heldNanos), usd(b.capNanos), usd(b.remainingNanos), b.period, formatLocal(b.periodEnd, b.timeZone), state + (notes.length > 0 ? ` (${notes.join(', ')})` : '')]);
      for (const s of b.sessions) rows.push([`  └ ${s.session.slice(0, 12)}`, bar(s.spentNanos, 0, s.capNanos), usd(s.spentNanos), '', usd(s.capNanos), usd(Math.max(0, s.capNanos - s.spentNanos)), 'session', '', '']);
    }
    io.out(table(rows));
    const tz = report[0]!.timeZone;
    io.out(`Periods roll over at midnight ${tz}.\n`);
    for (const b of report) if (b.suggestion) io.out(`auto-tune ${printable(b.name)} (${b.autotune}): ${printable(b.suggestion.reason)}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
