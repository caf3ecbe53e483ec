import { createInterface } from 'node:readline/promises';
import { checkKeyName, createKey, howToPoint, KeySpecError } from '../../keys/index.js';
import { connectAgent } from '../../provider-keys/connect-seam.js';
import { adminKeyOf, linkProviderKey, listProviderKeys, OpenRouterApi, openRouterBase, ProviderApiError, providerKeyOf, RESET_TO_PERIOD, resetOfPeriod } from '../../provider-keys/index.js';
import type { LimitReset } from '../../provider-keys/index.js';
import type { Period, Store } from '../../store/index.js';
import { parse, str, usd } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { usd as fmt } from '../format.js';

const USAGE = 'spendcap provider-key openrouter USD [--reset daily|weekly|monthly] [--agent AGENT] [--name N]';

/** A provider error, as the CLI prints it: the message and exit 1. */
export function printProviderError(io: Io, command: string, err: unknown): number {
  if (err instanceof ProviderApiError) {
    io.err(`spendcap ${command}: ${err.message}\n`);
    return 1;
  }
  throw err;
}

/** The management key, or a message that says how to store one. */
export async function managementApi(store: Store, masterKey: () => Buffer, io: Io, timeoutMs?: number): Promise<OpenRouterApi | string> {
  const token = await adminKeyOf(store, masterKey, 'openrouter');
  if (token === null) return 'no OpenRouter management key is stored. Create one at https://openrouter.ai/settings/provisioning-keys, then: spendcap provider-admin add openrouter --management-key -';
  return new OpenRouterApi({ base: openRouterBase(io.env), token, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
}

function resetArg(v: unknown): LimitReset {
  if (v === undefined) return null;
  if (v === 'daily' || v === 'weekly' || v === 'monthly') return v;
  throw new UsageError(`--reset must be daily, weekly or monthly; got "${typeof v === 'string' ? v : typeof v}"`);
}

/** A free spendcap key name: N when given, else openrouter, openrouter-2, … */
async function chooseName(store: Store, given: string | undefined): Promise<string> {
  if (given !== undefined) {
    try {
      checkKeyName(given);
    } catch (err) {
      throw err instanceof KeySpecError ? new UsageError(err.message) : err;
    }
    if ((await store.keys.byName(given))) throw new UsageError(`a key named "${given}" already exists (see: spendcap key list); choose another --name`);
    return given;
  }
  for (let i = 1; ; i++) {
    const name = i === 1 ? 'openrouter' : `openrouter-${i}`;
    if (!(await store.keys.byName(name))) return name;
  }
}

export async function providerKey(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { reset: { type: 'string' }, agent: { type: 'string' }, name: { type: 'string' } });
  if (positionals[0] !== 'openrouter') throw new UsageError(positionals[0] === undefined ? `usage: ${USAGE}` : `only openrouter keys can be created at the provider; got "${positionals[0]}". Usage: ${USAGE}`);
  const capNanos = usd(positionals[1], 'USD');
  const reset = resetArg(values.reset);
  // OpenRouter's limit without a reset is a lifetime limit: the spendcap cap is then "total".
  const period: Period = reset === null ? 'total' : RESET_TO_PERIOD[reset];
  const agent = str(values.agent);
  const { store, masterKey, dataDir } = openStore(values['data-dir'], io);
  try {
    const name = await chooseName(store, str(values.name));
    const api = await managementApi(store, masterKey, io);
    if (typeof api === 'string') {
      io.err(`spendcap provider-key: ${api}\n`);
      return 1;
    }
    let created;
    try {
      created = await api.createKey({ name: `spendcap:${name}`, limitNanos: capNanos, limitReset: reset });
    } catch (err) {
      return printProviderError(io, 'provider-key', err);
    }
    let made;
    try {
      made = await createKey(store, masterKey, { name, provider: 'openrouter', providerKey: created.key, capNanos, period, sessionCapNanos: null, ceilingNanos: null, mode: 'hard', clamp: false, baseUrl: undefined }, 'cli');
      await linkProviderKey(store, { keyId: made.key.id, provider: 'openrouter', hash: created.info.hash, label: created.info.name || `spendcap:${name}`, createdAt: made.key.createdAt });
    } catch (err) {
      // The key exists at OpenRouter but not here: remove it there, so no capped key is left that nobody holds.
      await api.deleteKey(created.info.hash).catch(() => undefined);
      throw err;
    }
    const connected = agent === undefined ? false : await connectAgent({ agent, keyName: name, dataDir, io });
    if (values.json) {
      io.out(JSON.stringify({ name, provider: 'openrouter', token: made.token, capUsd: capNanos / 1e9, period, limitReset: reset, hash: created.info.hash, agent: agent ?? null, connected }) + '\n');
      return 0;
    }
    io.out(`Created key "${name}": an OpenRouter key with a limit of ${fmt(capNanos)}${reset === null ? ' (no reset)' : ` (resets ${reset}, 00:00 UTC)`} and a spendcap cap of ${fmt(capNanos)} per ${period}.\n`);
    io.out('OpenRouter refuses it past the limit even when it is used without spendcap.\n');
    io.out(`\n  ${made.token}\n\nThis is the only time the key is shown. Point your agent at spendcap with it:\n  ${howToPoint('openrouter', made.token)}\n`);
    if (agent !== undefined) io.out(connected ? `Connected ${agent} to "${name}".\n` : `To connect ${agent}, run: spendcap connect ${agent} --key ${name}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** What `key list` shows of a key's provider side. */
export type ProviderSide =
  | { hash: string; reachable: true; limitUsd: number | null; usageUsd: number; remainingUsd: number | null; limitReset: LimitReset }
  | { hash: string; reachable: false; error: string };

/** How long `key list` waits for OpenRouter: a listing must stay quick with the network down. */
export const LIST_TIMEOUT_MS = 2_000;

/** GET /keys/{hash} for every key that owns an OpenRouter key, in parallel; keyed by spendcap key id. */
export async function providerSides(store: Store, masterKey: () => Buffer, io: Io): Promise<Map<number, ProviderSide>> {
  const out = new Map<number, ProviderSide>();
  const links = await listProviderKeys(store);
  if (links.length === 0) return out;
  const api = await managementApi(store, masterKey, io, LIST_TIMEOUT_MS);
  await Promise.all(
    links.map(async (l) => {
      if (typeof api === 'string') return out.set(l.keyId, { hash: l.hash, reachable: false, error: 'no management key stored' });
      try {
        const k = await api.getKey(l.hash);
        const toUsd = (m: number | null): number | null => (m === null ? null : m / 1e9);
        return out.set(l.keyId, { hash: l.hash, reachable: true, limitUsd: toUsd(k.limitNanos), usageUsd: k.usageNanos / 1e9, remainingUsd: toUsd(k.remainingNanos), limitReset: k.limitReset });
      } catch (err) {
        if (!(err instanceof ProviderApiError)) throw err;
        return out.set(l.keyId, { hash: l.hash, reachable: false, error: err.code === 'E_PROVIDER_UNREACHABLE' ? 'unreachable' : err.message });
      }
    }),
  );
  return out;
}

/** The PROVIDER column of `key list`: "$1.25 of $5.00 at OpenRouter ($3.75 left)", or why it is not known. */
export function describeProviderSide(p: ProviderSide | undefined): string {
  if (p === undefined) return '';
  if (!p.reachable) return `OpenRouter ${p.error}`;
  const of = p.limitUsd === null ? 'no limit' : `of ${fmt(Math.round(p.limitUsd * 1e9))}`;
  const left = p.remainingUsd === null ? '' : ` (${fmt(Math.round(p.remainingUsd * 1e9))} left)`;
  return `${fmt(Math.round(p.usageUsd * 1e9))} ${of} at OpenRouter${left}`;
}

/**
 * After a cap change (cap set, lift) of a key that owns an OpenRouter key: PATCH its limit to the new cap,
 * so both walls move together. Returns a line to print, '' when the key has no provider side.
 */
export async function syncProviderLimit(store: Store, masterKey: () => Buffer, io: Io, budgetName: string): Promise<string> {
  const b = (await store.budgets.byName(budgetName));
  if (b === undefined || b.scope !== 'key' || b.keyId === null) return '';
  const link = await providerKeyOf(store, b.keyId);
  if (link === null) return '';
  const api = await managementApi(store, masterKey, io);
  if (typeof api === 'string') return `The OpenRouter key's limit was not changed: ${api}\n`;
  try {
    await api.setLimit(link.hash, b.capNanos, resetOfPeriod(b.period));
    return `OpenRouter's limit on the key is now ${fmt(b.capNanos)} too.\n`;
  } catch (err) {
    if (!(err instanceof ProviderApiError)) throw err;
    return `The OpenRouter key's limit was not changed (${err.message}); run the command again when OpenRouter is reachable.\n`;
  }
}

/** Whether `key rm` should delete the OpenRouter key too: the flags, else a question on a terminal. */
export async function decideProviderDelete(values: Record<string, unknown>, keyName: string): Promise<boolean> {
  if (values['provider-side'] === true && values['keep-provider-key'] === true) throw new UsageError('give --provider-side or --keep-provider-key, not both');
  if (values['provider-side'] === true) return true;
  if (values['keep-provider-key'] === true) return false;
  if (!process.stdin.isTTY || !process.stdout.isTTY) throw new UsageError(`key "${keyName}" owns an OpenRouter key: add --provider-side to delete it at OpenRouter too, or --keep-provider-key to keep it there`);
  // Writes the question to the terminal itself: Io.out may be captured.
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`Key "${keyName}" owns an OpenRouter key. Delete it at OpenRouter too? [Y/n] `);
    return !/^n/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Deletes a key's OpenRouter key (before spendcap forgets its hash); a message on failure. */
export async function deleteProviderSide(store: Store, masterKey: () => Buffer, io: Io, keyId: number): Promise<string | null> {
  const link = await providerKeyOf(store, keyId);
  if (link === null) return null;
  const api = await managementApi(store, masterKey, io);
  if (typeof api === 'string') return api;
  try {
    await api.deleteKey(link.hash);
    return null;
  } catch (err) {
    if (!(err instanceof ProviderApiError)) throw err;
    // Already gone at OpenRouter (deleted on its site): nothing left to delete.
    if (err.code === 'E_PROVIDER_NOT_FOUND') return null;
    return err.message;
  }
}
