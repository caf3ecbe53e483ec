import { badgePath } from '../../admin/badge.js';
import { runningServerUrl } from '../../dashboard/sessions.js';
import { loadOrCreateAdminToken } from '../../secrets/index.js';
import { DEFAULT_PORT } from '../../server/server.js';
import { budgetReport, createBudget, deleteBudget, setAutotune } from '../../budgets/index.js';
import type { BudgetStatus } from '../../budgets/index.js';
import { optionalUsd, parse, period, requireName, usd } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { printable, table, usd as fmt } from '../format.js';
import { autotuneMode, mode } from './budget-actions.js';
import { applyAsk, askChoice, ASK_OPTIONS } from './ask-mode.js';
import { statusJson } from './status.js';

const ADD_USAGE = 'spendcap budget add NAME --scope global|tag --cap USD [--period day|week|month|total] [--mode hard|soft|ask] [--ask-timeout S] [--ceiling USD] [--clamp] [--autotune off|suggest|creep]';

export async function budget(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'add':
      return add(rest, io);
    case 'list':
    case 'ls':
      return list(rest, io);
    case 'rm':
    case 'remove':
      return rm(rest, io);
    case 'autotune':
      return autotune(rest, io);
    case 'badge':
      return badge(rest, io);
    default:
      throw new UsageError('usage: spendcap budget add|list|rm|autotune|badge …  (see spendcap --help)');
  }
}

async function add(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {
    scope: { type: 'string' },
    cap: { type: 'string' },
    period: { type: 'string' },
    mode: { type: 'string' },
    ceiling: { type: 'string' },
    clamp: { type: 'boolean' },
    autotune: { type: 'string' },
    ...ASK_OPTIONS,
  });
  const ask = askChoice(values);
  const name = requireName(positionals, 'budget name', ADD_USAGE);
  const scope = values.scope;
  if (scope !== 'global' && scope !== 'tag') throw new UsageError(`--scope must be global or tag (a key's budget comes with key add). Usage: ${ADD_USAGE}`);
  const capNanos = usd(values.cap, '--cap');
  const { store } = openStore(values['data-dir'], io);
  try {
    const { after, event } = await createBudget(
      store,
      {
        name,
        scope,
        capNanos,
        period: period(values.period),
        mode: ask.mode === undefined ? 'hard' : mode(ask.mode),
        ceilingNanos: optionalUsd(values.ceiling, '--ceiling'),
        clamp: values.clamp === true,
        autotune: values.autotune === undefined ? 'off' : autotuneMode(values.autotune),
      },
      'cli',
    );
    const b = after!;
    await applyAsk(store, b.name, ask);
    if (values.json) io.out(JSON.stringify({ name: b.name, scope: b.scope, capUsd: b.capNanos / 1e9, period: b.period, mode: b.mode, clamp: b.clamp, ceilingUsd: b.ceilingNanos === null ? null : b.ceilingNanos / 1e9, autotune: b.autotune, eventId: event.id }) + '\n');
    else {
      io.out(`Created ${b.scope} budget "${printable(b.name)}": ${fmt(b.capNanos)} per ${b.period}, ${b.mode}.\n`);
      io.out(b.scope === 'global' ? 'Every request through this proxy now counts against it.\n' : `Requests opt in with the header  x-spendcap-budget: ${printable(b.name)}  (or X-Budget-Id: ${printable(b.name)}).\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

async function list(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {}, false);
  const { store } = openStore(values['data-dir'], io);
  try {
    const report = await budgetReport(store);
    if (values.json) {
      io.out(JSON.stringify(report.map(statusJson), null, 2) + '\n');
      return 0;
    }
    if (report.length === 0) {
      io.out('No budgets yet. Add one: spendcap budget add team --scope global --cap 50, or a key: spendcap key add …\n');
      return 0;
    }
    io.out(table([['NAME', 'SCOPE', 'CAP', 'PERIOD', 'MODE', 'CEILING', 'CLAMP', 'AUTOTUNE'], ...report.map((b) => [b.name, b.scope, fmt(b.capNanos), b.period, b.mode, b.ceilingNanos === null ? '' : fmt(b.ceilingNanos), b.clamp ? 'on' : '', autotuneText(b)])]));
    return 0;
  } finally {
    await store.close();
  }
}

export function autotuneText(b: BudgetStatus): string {
  if (b.autotune === 'off') return 'off';
  const s = b.suggestion;
  if (!s || s.suggestedNanos === null) return `${b.autotune} (no suggestion)`;
  return `${b.autotune}: ${fmt(s.suggestedNanos)}`;
}

async function rm(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const name = requireName(positionals, 'budget name', 'spendcap budget rm NAME');
  const { store } = openStore(values['data-dir'], io);
  try {
    await deleteBudget(store, name, 'cli');
    io.out(values.json ? JSON.stringify({ name, removed: true }) + '\n' : `Removed budget "${printable(name)}". Its ledger rows stay; requests naming it in x-spendcap-budget are now refused.\n`);
    return 0;
  } finally {
    await store.close();
  }
}

async function autotune(argv: string[], io: Io): Promise<number> {
  const usage = 'spendcap budget autotune NAME off|suggest|creep';
  const { values, positionals } = parse(argv, {});
  const name = requireName(positionals, 'key or budget name', usage);
  if (positionals[1] === undefined) throw new UsageError(`missing mode. Usage: ${usage}`);
  const m = autotuneMode(positionals[1]);
  const { store } = openStore(values['data-dir'], io);
  try {
    const { after } = await setAutotune(store, name, m, 'cli');
    const report = (await budgetReport(store)).find((b) => b.name === name);
    if (values.json) io.out(JSON.stringify({ name, autotune: after!.autotune, suggestion: report?.suggestion ?? null }) + '\n');
    else {
      io.out(`Auto-tune of "${printable(name)}" is ${m}.\n`);
      if (report?.suggestion) io.out(`  ${printable(report.suggestion.reason)}\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

/** The URL of a budget's badge with its read-only badge token (never the admin token). */
async function badge(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const name = requireName(positionals, 'budget name', 'spendcap budget badge NAME [--json]');
  const { store, dataDir } = openStore(values['data-dir'], io);
  try {
    const record = (await store.budgets.byName(name)) ?? (/^\d+$/.test(name) ? (await store.budgets.list()).find((b) => b.id === Number(name)) : undefined);
    if (record === undefined) throw new UsageError(`no budget named "${name}" (spendcap budget list shows them)`);
    const base = await runningServerUrl(dataDir, store) ?? `http://127.0.0.1:${DEFAULT_PORT}`;
    const url = base + badgePath(loadOrCreateAdminToken(dataDir), record.id);
    if (values.json) io.out(JSON.stringify({ name: record.name, id: record.id, url }) + '\n');
    else io.out(`${url}\n\nRead-only: this URL shows "${printable(record.name)}"'s badge and can do nothing else. Markdown: ![spend](${url})\n`);
    return 0;
  } finally {
    await store.close();
  }
}
