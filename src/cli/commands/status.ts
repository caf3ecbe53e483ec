import { budgetReport, formatLocal } from '../../budgets/index.js';
import type { BudgetStatus } from '../../budgets/index.js';
import { parse } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { bar, printable, table, usd } from '../format.js';

const orNull = (m: number | null): number | null => (m === null ? null : m / 1e6);

/** One budget as `status --json` and `budget list --json` print it. */
export function statusJson(b: BudgetStatus) {
  return {
    name: b.name,
    scope: b.scope,
    mode: b.mode,
    killed: b.killed,
    clamp: b.clamp,
    period: b.period,
    capUsd: b.capMicros / 1e6,
    spentUsd: b.spentMicros / 1e6,
    heldUsd: b.heldMicros / 1e6,
    remainingUsd: b.remainingMicros / 1e6,
    ceilingUsd: orNull(b.ceilingMicros),
    sessionCapUsd: orNull(b.sessionCapMicros),
    effectiveSessionCapUsd: orNull(b.effectiveSessionCapMicros),
    periodStart: new Date(b.periodStart).toISOString(),
    periodEnd: b.periodEnd === null ? null : new Date(b.periodEnd).toISOString(),
    resets: b.periodEnd === null ? 'never' : `${formatLocal(b.periodEnd, b.timeZone)} ${b.timeZone}`,
    timeZone: b.timeZone,
    thresholdFired: b.thresholdFired,
    autotune: b.autotune,
    suggestion: b.suggestion === null ? null : { capUsd: orNull(b.suggestion.suggestedMicros), reason: b.suggestion.reason },
    estimatedPriceRequests: b.estimatedPriceRequests,
    sessions: b.sessions.map((s) => ({ session: s.session, spentUsd: s.spentMicros / 1e6, capUsd: s.capMicros / 1e6, lastSeen: new Date(s.lastTs).toISOString() })),
  };
}

export async function status(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {}, false);
  const { store } = openStore(values['data-dir'], io);
  try {
    const report = budgetReport(store);
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
      const state = b.killed ? 'KILLED' : b.remainingMicros === 0 ? (b.mode === 'soft' ? 'OVER (soft)' : 'AT CAP') : b.mode === 'soft' ? 'soft' : 'ok';
      const notes = [
        b.scope === 'key' ? '' : b.scope,
        b.clamp ? 'clamp' : '',
        b.estimatedPriceRequests > 0 ? `${b.estimatedPriceRequests} estimated prices` : '',
        b.suggestion?.suggestedMicros != null ? `suggest ${usd(b.suggestion.suggestedMicros)}` : '',
      ].filter((n) => n !== '');
      rows.push([b.name, bar(b.spentMicros, b.heldMicros, b.capMicros), usd(b.spentMicros), usd(b.heldMicros), usd(b.capMicros), usd(b.remainingMicros), b.period, formatLocal(b.periodEnd, b.timeZone), state + (notes.length > 0 ? ` (${notes.join(', ')})` : '')]);
      for (const s of b.sessions) rows.push([`  └ ${s.session.slice(0, 12)}`, bar(s.spentMicros, 0, s.capMicros), usd(s.spentMicros), '', usd(s.capMicros), usd(Math.max(0, s.capMicros - s.spentMicros)), 'session', '', '']);
    }
    io.out(table(rows));
    const tz = report[0]!.timeZone;
    io.out(`Periods roll over at midnight ${tz}.\n`);
    for (const b of report) if (b.suggestion) io.out(`auto-tune ${printable(b.name)} (${b.autotune}): ${printable(b.suggestion.reason)}\n`);
    return 0;
  } finally {
    store.close();
  }
}
