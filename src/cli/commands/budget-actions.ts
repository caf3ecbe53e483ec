import { killBudget, liftBudget, setCap, unkillBudget } from '../../budgets/index.js';
import type { ActionResult, CapChanges, LiftHow } from '../../budgets/index.js';
import { AUTOTUNE_MODES } from '../../store/index.js';
import type { AutotuneMode, BudgetMode } from '../../store/index.js';
import { optionalUsd, parse, period, requireName, str, usd } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { printable, usd as fmt } from '../format.js';
import { applyAsk, askChoice, ASK_OPTIONS } from './ask-mode.js';
import { syncProviderLimit } from './provider-key.js';

/** A key that owns an OpenRouter key has its limit follow the new cap (spendcap provider-key). */
async function followAtProvider(dataDir: unknown, io: Io, json: unknown, name: string, code: number): Promise<number> {
  if (code !== 0) return code;
  const { store, masterKey } = openStore(dataDir, io);
  try {
    const line = await syncProviderLimit(store, masterKey, io, name);
    // With --json stdout stays one JSON document.
    if (line !== '') (line.startsWith('OpenRouter') && !json ? io.out : io.err)(line);
    return 0;
  } finally {
    await store.close();
  }
}

/** The CLI side of src/budgets/actions.ts: parse, call the action with channel "cli", print. */
async function run(dataDir: unknown, io: Io, json: unknown, kind: string, action: (store: Parameters<typeof killBudget>[0]) => Promise<ActionResult>): Promise<number> {
  const { store } = openStore(dataDir, io);
  try {
    const { before, after, event } = await action(store);
    const b = after ?? before!;
    if (json) {
      io.out(
        JSON.stringify({
          name: b.name,
          kind,
          capBeforeUsd: before === null ? null : before.capNanos / 1e9,
          capAfterUsd: after === null ? null : after.capNanos / 1e9,
          killed: b.killed,
          period: b.period,
          mode: b.mode,
          clamp: b.clamp,
          ceilingUsd: b.ceilingNanos === null ? null : b.ceilingNanos / 1e9,
          event: { id: event.id, kind: event.kind, channel: event.channel, detail: event.detail },
        }) + '\n',
      );
    } else if (kind === 'kill') io.out(`Killed "${printable(b.name)}": new requests are refused and open streams are cut.\n`);
    else if (kind === 'unkill') io.out(`Re-opened "${printable(b.name)}" (cap ${fmt(b.capNanos)} per ${b.period}).\n`);
    else io.out(`"${printable(b.name)}": cap ${fmt(before?.capNanos ?? 0)} → ${fmt(after?.capNanos ?? 0)} per ${b.period}${event.detail ? ` (${printable(event.detail)})` : ''}.\n`);
    return 0;
  } finally {
    await store.close();
  }
}

export function mode(v: unknown): BudgetMode {
  if (v === 'hard' || v === 'soft') return v;
  throw new UsageError(`--mode must be hard or soft; got "${String(v)}"`);
}

export function autotuneMode(v: unknown): AutotuneMode {
  if (typeof v === 'string' && (AUTOTUNE_MODES as readonly string[]).includes(v)) return v as AutotuneMode;
  throw new UsageError(`auto-tune mode must be one of ${AUTOTUNE_MODES.join(', ')}; got "${String(v)}"`);
}

/** --clamp turns clamping on, --no-clamp off; neither leaves it as it is. */
export function clampFlag(values: Record<string, unknown>): boolean | undefined {
  if (values.clamp === true && values['no-clamp'] === true) throw new UsageError('give --clamp or --no-clamp, not both');
  if (values.clamp === true) return true;
  if (values['no-clamp'] === true) return false;
  return undefined;
}

const CAP_USAGE = 'spendcap cap set NAME [USD] [--period day|week|month|total] [--ceiling USD|none] [--session-cap USD|none] [--mode hard|soft|ask] [--ask-timeout S] [--clamp|--no-clamp] [--autotune off|suggest|creep]';

/** A dollar flag that also accepts "none" to remove the limit. */
function usdOrNone(v: unknown, flag: string): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === 'none') return null;
  return optionalUsd(v, flag);
}

export async function cap(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'set') throw new UsageError(`usage: ${CAP_USAGE}`);
  const { values, positionals } = parse(rest, {
    period: { type: 'string' },
    ceiling: { type: 'string' },
    'session-cap': { type: 'string' },
    mode: { type: 'string' },
    clamp: { type: 'boolean' },
    'no-clamp': { type: 'boolean' },
    autotune: { type: 'string' },
    ...ASK_OPTIONS,
  });
  const ask = askChoice(values);
  const name = requireName(positionals, 'key or budget name', CAP_USAGE);
  const changes: CapChanges = {};
  if (positionals[1] !== undefined) changes.capNanos = usd(positionals[1], 'USD');
  if (values.period !== undefined) changes.period = period(values.period);
  const ceiling = usdOrNone(values.ceiling, '--ceiling');
  if (ceiling !== undefined) changes.ceilingNanos = ceiling;
  const session = usdOrNone(values['session-cap'], '--session-cap');
  if (session !== undefined) changes.sessionCapNanos = session;
  if (ask.mode !== undefined) changes.mode = mode(ask.mode);
  const clamp = clampFlag(values);
  if (clamp !== undefined) changes.clamp = clamp;
  if (values.autotune !== undefined) changes.autotune = autotuneMode(values.autotune);
  if (Object.keys(changes).length === 0 && ask.timeoutS === undefined) throw new UsageError(`nothing to change. Usage: ${CAP_USAGE}`);
  const code = await run(values['data-dir'], io, values.json, 'cap-set', async (store) => {
    const result = await setCap(store, name, changes, 'cli', ask.ask === true ? { detail: `ask mode${ask.timeoutS !== undefined ? `, ${ask.timeoutS} s` : ''}` } : {});
    await applyAsk(store, name, ask);
    return result;
  });
  return changes.capNanos !== undefined || changes.period !== undefined ? followAtProvider(values['data-dir'], io, values.json, name, code) : code;
}

export async function kill(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const name = requireName(positionals, 'key or budget name', 'spendcap kill NAME');
  return run(values['data-dir'], io, values.json, 'kill', (store) => killBudget(store, name, 'cli'));
}

export async function unkill(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const name = requireName(positionals, 'key or budget name', 'spendcap unkill NAME');
  return run(values['data-dir'], io, values.json, 'unkill', (store) => unkillBudget(store, name, 'cli'));
}

/** `lift NAME …` lifts one budget; `lift A B C --add 5` lifts each (each its own event). */
export async function lift(argv: string[], io: Io): Promise<number> {
  const usage = 'spendcap lift NAME… --add USD | --double | --to-ceiling';
  const { values, positionals } = parse(argv, { add: { type: 'string' }, double: { type: 'boolean' }, 'to-ceiling': { type: 'boolean' } });
  requireName(positionals, 'key or budget name', usage);
  const chosen = [values.add !== undefined, values.double === true, values['to-ceiling'] === true].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('lift takes exactly one of --add USD, --double, --to-ceiling');
  const how: LiftHow = values.add !== undefined ? { add: usd(str(values.add), '--add') } : values.double === true ? { double: true } : { toCeiling: true };
  for (const name of positionals) {
    const code = await followAtProvider(values['data-dir'], io, values.json, name, await run(values['data-dir'], io, values.json, 'lift', (store) => liftBudget(store, name, how, 'cli')));
    if (code !== 0) return code;
  }
  return 0;
}
