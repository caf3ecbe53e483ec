import { StoreError } from '../../store/index.js';
import type { BudgetRecord } from '../../store/index.js';
import { optionalUsd, parse, period, requireName, str, usd } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { usd as fmt } from '../format.js';

function applyChange(argv: string[], io: Io, usage: string, kind: string, change: (b: BudgetRecord, values: Record<string, unknown>) => BudgetRecord, options: Parameters<typeof parse>[1] = {}): number {
  const { values, positionals } = parse(argv, options);
  const name = requireName(positionals, 'key or budget name', usage);
  const { store } = openStore(values['data-dir'], io);
  try {
    const { before, after } = store.changeBudget(name, (b) => change(b, { ...values, _rest: positionals.slice(1) }), { kind, channel: 'cli' });
    const result = { name, kind, capBeforeUsd: before.capMicros / 1e6, capAfterUsd: after.capMicros / 1e6, killed: after.killed, period: after.period };
    if (values.json) io.out(JSON.stringify(result) + '\n');
    else if (kind === 'kill') io.out(`Killed "${name}": new requests are refused and open streams are cut.\n`);
    else if (kind === 'unkill') io.out(`Re-opened "${name}" (cap ${fmt(after.capMicros)} per ${after.period}).\n`);
    else io.out(`"${name}": cap ${fmt(before.capMicros)} → ${fmt(after.capMicros)} per ${after.period}.\n`);
    return 0;
  } finally {
    store.close();
  }
}

export async function cap(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'set') throw new UsageError('usage: spendcap cap set NAME USD [--period day|week|month|total] [--ceiling USD] [--session-cap USD]');
  return applyChange(
    rest,
    io,
    'spendcap cap set NAME USD',
    'cap-set',
    (b, v) => {
      const amount = (v._rest as string[])[0];
      const capMicros = usd(amount, 'USD');
      const ceilingMicros = v.ceiling !== undefined ? optionalUsd(v.ceiling, '--ceiling') : b.ceilingMicros;
      return {
        ...b,
        capMicros,
        period: v.period !== undefined ? period(v.period) : b.period,
        ceilingMicros,
        sessionCapMicros: v['session-cap'] !== undefined ? optionalUsd(v['session-cap'], '--session-cap') : b.sessionCapMicros,
        mode: v.mode !== undefined ? mode(v.mode) : b.mode,
      };
    },
    { period: { type: 'string' }, ceiling: { type: 'string' }, 'session-cap': { type: 'string' }, mode: { type: 'string' } },
  );
}

function mode(v: unknown): 'hard' | 'soft' {
  if (v === 'hard' || v === 'soft') return v;
  throw new UsageError(`--mode must be hard or soft; got "${String(v)}"`);
}

export async function kill(argv: string[], io: Io): Promise<number> {
  return applyChange(argv, io, 'spendcap kill NAME', 'kill', (b) => ({ ...b, killed: true }));
}

export async function unkill(argv: string[], io: Io): Promise<number> {
  return applyChange(argv, io, 'spendcap unkill NAME', 'unkill', (b) => ({ ...b, killed: false }));
}

export async function lift(argv: string[], io: Io): Promise<number> {
  return applyChange(
    argv,
    io,
    'spendcap lift NAME --add USD | --double | --to-ceiling',
    'lift',
    (b, v) => {
      const chosen = [v.add !== undefined, v.double === true, v['to-ceiling'] === true].filter(Boolean).length;
      if (chosen !== 1) throw new UsageError('lift takes exactly one of --add USD, --double, --to-ceiling');
      let capMicros: number;
      if (v.add !== undefined) capMicros = b.capMicros + usd(str(v.add), '--add');
      else if (v.double === true) capMicros = b.capMicros * 2;
      else {
        if (b.ceilingMicros === null) throw new StoreError('E_INVALID', `"${b.name}" has no ceiling; set one with: spendcap cap set ${b.name} ${b.capMicros / 1e6} --ceiling USD`);
        capMicros = b.ceilingMicros;
      }
      if (b.ceilingMicros !== null && capMicros > b.ceilingMicros) {
        throw new StoreError('E_INVALID', `lifting "${b.name}" to ${fmt(capMicros)} would pass its ceiling of ${fmt(b.ceilingMicros)}; raise the ceiling with cap set --ceiling`);
      }
      // A lift also re-opens a killed budget: the user asked for more room to continue.
      return { ...b, capMicros, killed: false };
    },
    { add: { type: 'string' }, double: { type: 'boolean' }, 'to-ceiling': { type: 'boolean' } },
  );
}
