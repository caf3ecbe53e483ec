import { budgetReport } from '../../budgets/index.js';
import { parse } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { bar, table, usd, when } from '../format.js';

export async function status(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {}, false);
  const { store } = openStore(values['data-dir'], io);
  try {
    const report = budgetReport(store);
    if (values.json) {
      io.out(
        JSON.stringify(
          report.map((b) => ({
            name: b.name,
            scope: b.scope,
            mode: b.mode,
            killed: b.killed,
            period: b.period,
            capUsd: b.capMicros / 1e6,
            spentUsd: b.spentMicros / 1e6,
            heldUsd: b.heldMicros / 1e6,
            remainingUsd: b.remainingMicros / 1e6,
            ceilingUsd: b.ceilingMicros === null ? null : b.ceilingMicros / 1e6,
            sessionCapUsd: b.sessionCapMicros === null ? null : b.sessionCapMicros / 1e6,
            periodStart: new Date(b.periodStart).toISOString(),
            periodEnd: b.periodEnd === null ? null : new Date(b.periodEnd).toISOString(),
            estimatedPriceRequests: b.estimatedPriceRequests,
            sessions: b.sessions.map((s) => ({ session: s.session, spentUsd: s.spentMicros / 1e6, capUsd: s.capMicros / 1e6, lastSeen: new Date(s.lastTs).toISOString() })),
          })),
          null,
          2,
        ) + '\n',
      );
      return 0;
    }
    if (report.length === 0) {
      io.out('No budgets yet. Create a key with a cap: spendcap key add NAME --provider anthropic --provider-key sk-ant-… --cap 15\n');
      return 0;
    }
    const rows = [['BUDGET', '', 'SPENT', 'HELD', 'CAP', 'LEFT', 'PERIOD', 'RESETS', 'STATE']];
    for (const b of report) {
      const state = b.killed ? 'KILLED' : b.remainingMicros === 0 ? 'AT CAP' : b.mode === 'soft' ? 'soft' : 'ok';
      rows.push([b.name, bar(b.spentMicros, b.heldMicros, b.capMicros), usd(b.spentMicros), usd(b.heldMicros), usd(b.capMicros), usd(b.remainingMicros), b.period, when(b.periodEnd), state + (b.estimatedPriceRequests > 0 ? ` (${b.estimatedPriceRequests} estimated prices)` : '')]);
      for (const s of b.sessions) rows.push([`  └ ${s.session.slice(0, 12)}`, bar(s.spentMicros, 0, s.capMicros), usd(s.spentMicros), '', usd(s.capMicros), usd(Math.max(0, s.capMicros - s.spentMicros)), 'session', '', '']);
    }
    io.out(table(rows));
    return 0;
  } finally {
    store.close();
  }
}
