import { readFileSync } from 'node:fs';
import { ADMIN_PROVIDERS, isAdminProvider, listAdminKeys, removeAdminKey, saveAdminKey } from '../../provider-keys/index.js';
import type { AdminProvider } from '../../provider-keys/index.js';
import { parse, str } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { table, when } from '../format.js';

const USAGE = 'spendcap provider-admin add openrouter --management-key K | add anthropic|openai --admin-key K | list | rm PROVIDER   ("-" reads the key from stdin)';

/** What each provider's admin key is for, for messages. */
const PURPOSE: Record<AdminProvider, string> = {
  openrouter: 'creates capped OpenRouter keys (spendcap provider-key openrouter USD)',
  anthropic: 'lets spendcap reconcile compare with Anthropic\'s cost report',
  openai: 'lets spendcap reconcile compare with OpenAI\'s cost report',
};

export async function providerAdmin(argv: string[], io: Io): Promise<number> {
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
    default:
      throw new UsageError(`usage: ${USAGE}`);
  }
}

function providerArg(positionals: string[]): AdminProvider {
  const p = positionals[0];
  if (p === undefined) throw new UsageError(`missing provider. Usage: ${USAGE}`);
  if (!isAdminProvider(p)) throw new UsageError(`provider must be one of ${ADMIN_PROVIDERS.join(', ')}; got "${p}"`);
  return p;
}

async function add(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { 'management-key': { type: 'string' }, 'admin-key': { type: 'string' } });
  const provider = providerArg(positionals);
  const flag = provider === 'openrouter' ? '--management-key' : '--admin-key';
  let key = str(values[flag.slice(2)]);
  const other = provider === 'openrouter' ? values['admin-key'] : values['management-key'];
  if (other !== undefined) throw new UsageError(`${provider} takes ${flag}`);
  if (key === undefined) throw new UsageError(`${flag} is required ("-" reads it from stdin). Usage: ${USAGE}`);
  // "-" keeps the key out of shell history and the process list.
  if (key === '-') key = readFileSync(0, 'utf8').trim();
  if (key === '') throw new UsageError(`${flag} is empty`);
  if (key.startsWith('sc-')) throw new UsageError(`${flag} must be ${provider}'s own key, not a spendcap key (sc-…)`);
  const { store, masterKey } = openStore(values['data-dir'], io);
  try {
    const info = await saveAdminKey(store, masterKey, provider, key);
    if (values.json) io.out(JSON.stringify({ provider, hint: info.hint }) + '\n');
    else io.out(`Stored the ${provider} ${provider === 'openrouter' ? 'management' : 'admin'} key (${info.hint}), encrypted at rest. It ${PURPOSE[provider]}.\n`);
    return 0;
  } finally {
    await store.close();
  }
}

async function list(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {}, false);
  const { store } = openStore(values['data-dir'], io);
  try {
    const keys = await listAdminKeys(store);
    if (values.json) io.out(JSON.stringify(keys.map((k) => ({ provider: k.provider, hint: k.hint, createdAt: new Date(k.createdAt).toISOString() })), null, 2) + '\n');
    else if (keys.length === 0) io.out(`No provider admin keys. Add one: ${USAGE}\n`);
    else io.out(table([['PROVIDER', 'KEY', 'ADDED', 'FOR'], ...keys.map((k) => [k.provider, k.hint, when(k.createdAt), PURPOSE[k.provider]])]));
    return 0;
  } finally {
    await store.close();
  }
}

async function rm(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const provider = providerArg(positionals);
  const { store } = openStore(values['data-dir'], io);
  try {
    if (!(await removeAdminKey(store, provider))) {
      io.err(`spendcap provider-admin: no ${provider} admin key is stored (see: spendcap provider-admin list)\n`);
      return 1;
    }
    io.out(`Removed the ${provider} admin key. Keys it created stay as they are, at ${provider} and in spendcap.\n`);
    return 0;
  } finally {
    await store.close();
  }
}
