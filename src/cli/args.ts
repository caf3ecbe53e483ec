import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { usdToNanos } from '../pricing/index.js';
import { PERIODS } from '../store/index.js';
import type { Period } from '../store/index.js';
import { UsageError } from './errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON: Options = {
  'data-dir': { type: 'string' },
  store: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

/** The --store of the command being run (one command per process): context.openStore opens it. */
export const invocation: { store: string | undefined } = { store: undefined };

export function parse(argv: string[], options: Options, allowPositionals = true) {
  try {
    const parsed = parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals, strict: true });
    invocation.store = typeof parsed.values.store === 'string' ? parsed.values.store : undefined;
    return parsed;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A dollar amount from the command line, e.g. "15", "0.50", "$5". */
export function usd(value: unknown, flag: string): number {
  if (typeof value !== 'string') throw new UsageError(`${flag} needs a dollar amount, e.g. ${flag} 15`);
  const n = Number(value.replace(/^\$/, ''));
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a dollar amount ≥ 0, got "${value}"`);
  // Keeps every n$ figure a safe integer with room to add (2^53 n$ ≈ $9M).
  if (n > 1_000_000) throw new UsageError(`${flag} must be at most $1000000, got "${value}"`);
  return usdToNanos(n);
}

export function optionalUsd(value: unknown, flag: string): number | null {
  return value === undefined ? null : usd(value, flag);
}

export function period(value: unknown): Period {
  if (value === undefined) return 'day';
  if (typeof value === 'string' && (PERIODS as readonly string[]).includes(value)) return value as Period;
  throw new UsageError(`--period must be one of ${PERIODS.join(', ')}; got "${typeof value === 'string' ? value : typeof value}"`);
}

export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function requireName(positionals: string[], what: string, usage: string): string {
  const name = positionals[0];
  if (!name) throw new UsageError(`missing ${what}. Usage: ${usage}`);
  return name;
}
