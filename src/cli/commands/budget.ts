import { budgetReport, createBudget, deleteBudget, setAutotune } from '../../budgets/index.js';
import type { BudgetStatus } from '../../budgets/index.js';
import { optionalUsd, parse, period, requireName, usd } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { table, usd as fmt } from '../format.js';
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
    default:
      throw new UsageError('usage: spendcap budget add|list|rm|autotune …  (see spendcap --help)');
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
  const capMicros = usd(values.cap, '--cap');
  const { store } = openStore(values['data-dir'], io);
  try {
    const { after, event } = createBudget(
      store,
      {
        name,
        scope,
        capMicros,
        period: period(values.period),
        mode: ask.mode === undefined ? 'hard' : mode(ask.mode),
        ceilingMicros: optionalUsd(values.ceiling, '--ceiling'),
        clamp: values.clamp === true,
        autotune: values.autotune === undefined ? 'off' : autotuneMode(values.autotune),
      },
      'cli',
    );
    const b = after!;
    applyAsk(store, b.name, ask);
    if (values.json) io.out(JSON.stringify({ name: b.name, scope: b.scope, capUsd: b.capMicros / 1e6, period: b.period, mode: b.mode, clamp: b.clamp, ceilingUsd: b.ceilingMicros === null ? null : b.ceilingMicros / 1e6, autotune: b.autotune, eventId: event.id }) + '\n');
    else {
      io.out(`Created ${b.scope} budget "${b.name}": ${fmt(b.capMicros)} per ${b.period}, ${b.mode}.\n`);
      io.out(b.scope === 'global' ? 'Every request through this proxy now counts against it.\n' : `Requests opt in with the header  x-spendcap-budget: ${b.name}  (or X-Budget-Id: ${b.name}).\n`);
    }
    return 0;
  } finally {
    store.close();
  }
}

async function list(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {}, false);
  const { store } = openStore(values['data-dir'], io);
  try {
    const report = budgetReport(store);
    if (values.json) {
      io.out(JSON.stringify(report.map(statusJson), null, 2) + '\n');
      return 0;
    }
    if (report.length === 0) {
      io.out('No budgets yet. Add one: spendcap budget add team --scope global --cap 50, or a key: spendcap key add …\n');
      return 0;
    }
    io.out(table([['NAME', 'SCOPE', 'CAP', 'PERIOD', 'MODE', 'CEILING', 'CLAMP', 'AUTOTUNE'], ...report.map((b) => [b.name, b.scope, fmt(b.capMicros), b.period, b.mode, b.ceilingMicros === null ? '' : fmt(b.ceilingMicros), b.clamp ? 'on' : '', autotuneText(b)])]));
    return 0;
  } finally {
    store.close();
  }
}

export function autotuneText(b: BudgetStatus): string {
  if (b.autotune === 'off') return 'off';
  const s = b.suggestion;
  if (!s || s.suggestedMicros === null) return `${b.autotune} (no suggestion)`;
  return `${b.autotune}: ${fmt(s.suggestedMicros)}`;
}

async function rm(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const name = requireName(positionals, 'budget name', 'spendcap budget rm NAME');
  const { store } = openStore(values['data-dir'], io);
  try {
    deleteBudget(store, name, 'cli');
    io.out(values.json ? JSON.stringify({ name, removed: true }) + '\n' : `Removed budget "${name}". Its ledger rows stay; requests naming it in x-spendcap-budget are now refused.\n`);
    return 0;
  } finally {
    store.close();
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
    const { after } = setAutotune(store, name, m, 'cli');
    const report = budgetReport(store).find((b) => b.name === name);
    if (values.json) io.out(JSON.stringify({ name, autotune: after!.autotune, suggestion: report?.suggestion ?? null }) + '\n');
    else {
      io.out(`Auto-tune of "${name}" is ${m}.\n`);
      if (report?.suggestion) io.out(`  ${report.suggestion.reason}\n`);
    }
    return 0;
  } finally {
    store.close();
  }
}
