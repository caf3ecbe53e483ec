import { readFileSync } from 'node:fs';
import { createKey, howToPoint, KeySpecError, removeKey, revokeKeyToken, tokensOf } from '../../keys/index.js';
import type { KeyField } from '../../keys/index.js';
import { optionalUsd, parse, period, requireName, str, usd } from '../args.js';
import { openStore } from '../context.js';
import { applyAsk, askChoice, ASK_OPTIONS } from './ask-mode.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { printable, table, usd as fmt, when } from '../format.js';
import { providerKeyOf } from '../../provider-keys/index.js';
import { decideProviderDelete, deleteProviderSide, describeProviderSide, providerSides } from './provider-key.js';

export { howToPoint } from '../../keys/index.js';

const FLAGS: Record<KeyField, string> = { name: 'name', provider: '--provider', providerKey: '--provider-key', baseUrl: '--base-url', mode: '--mode', ceiling: '--ceiling' };

export async function key(argv: string[], io: Io): Promise<number> {
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
    case 'tokens':
      return tokens(rest, io);
    case 'revoke':
      return revoke(rest, io);
    default:
      throw new UsageError('usage: spendcap key add|list|rm|tokens|revoke …  (see spendcap --help)');
  }
}

async function add(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {
    provider: { type: 'string' },
    'provider-key': { type: 'string' },
    cap: { type: 'string' },
    period: { type: 'string' },
    'session-cap': { type: 'string' },
    ceiling: { type: 'string' },
    mode: { type: 'string' },
    clamp: { type: 'boolean' },
    'base-url': { type: 'string' },
    ...ASK_OPTIONS,
  });
  const ask = askChoice(values);
  const name = requireName(positionals, 'key name', 'spendcap key add NAME --provider anthropic --provider-key K --cap USD');
  let providerKey = str(values['provider-key']) ?? io.env.SPENDCAP_PROVIDER_KEY;
  // "-" reads the key from stdin, so it stays out of shell history and the process list.
  if (providerKey === '-') providerKey = readFileSync(0, 'utf8').trim();
  const capNanos = usd(values.cap, '--cap');
  const spec = {
    name,
    provider: str(values.provider) ?? 'anthropic',
    providerKey,
    capNanos,
    period: period(values.period),
    sessionCapNanos: optionalUsd(values['session-cap'], '--session-cap'),
    ceilingNanos: optionalUsd(values.ceiling, '--ceiling'),
    mode: ask.mode ?? 'hard',
    clamp: values.clamp === true,
    baseUrl: str(values['base-url']),
  };

  const { store, masterKey } = openStore(values['data-dir'], io);
  try {
    let created;
    try {
      created = await createKey(store, masterKey, spec, 'cli', (f) => FLAGS[f]);
    } catch (err) {
      if (err instanceof KeySpecError) throw new UsageError(err.field === 'providerKey' && !spec.providerKey ? `${err.message}; "-" reads it from stdin` : err.message);
      throw err;
    }
    const { token, provider, mode } = created;
    await applyAsk(store, name, ask);
    if (values.json) {
      io.out(JSON.stringify({ name, provider, token, capUsd: capNanos / 1e9, period: spec.period, mode, clamp: spec.clamp }) + '\n');
    } else {
      io.out(`Created key "${printable(name)}" (${provider}, cap ${fmt(capNanos)} per ${spec.period}).\n`);
      io.out(`\n  ${token}\n\nThis is the only time the key is shown. Point your agent at spendcap with it:\n`);
      io.out(`  ${howToPoint(provider, token)}\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

async function list(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {}, false);
  const { store, masterKey } = openStore(values['data-dir'], io);
  try {
    const budgets = new Map((await store.budgets.list()).map((b) => [b.keyId, b]));
    const sides = await providerSides(store, masterKey, io);
    const keys = (await store.keys.list()).map((k) => {
      const b = budgets.get(k.id);
      return { name: k.name, provider: k.provider, ...(k.baseUrl ? { baseUrl: k.baseUrl } : {}), tokenHint: k.tokenHint, capUsd: (b?.capNanos ?? 0) / 1e9, period: b?.period ?? null, sessionCapUsd: b?.sessionCapNanos != null ? b.sessionCapNanos / 1e9 : null, mode: b?.mode ?? 'hard', clamp: b?.clamp ?? false, killed: b?.killed ?? false, createdAt: new Date(k.createdAt).toISOString(), ...(sides.has(k.id) ? { providerSide: sides.get(k.id) } : {}) };
    });
    if (values.json) io.out(JSON.stringify(keys, null, 2) + '\n');
    else if (keys.length === 0) io.out('No keys yet. Create one: spendcap key add NAME --provider anthropic --provider-key sk-ant-… --cap 15\n');
    else io.out(table([['NAME', 'PROVIDER', 'KEY', 'CAP', 'PERIOD', 'STATE', 'CREATED', ...(sides.size > 0 ? ['PROVIDER SIDE'] : [])], ...keys.map((k) => [k.name, k.provider, k.tokenHint, fmt(Math.round(k.capUsd * 1e9)), k.period ?? '', k.killed ? 'killed' : 'active', when(Date.parse(k.createdAt)), ...(sides.size > 0 ? [describeProviderSide(k.providerSide)] : [])])]));
    return 0;
  } finally {
    await store.close();
  }
}

async function rm(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { 'provider-side': { type: 'boolean' }, 'keep-provider-key': { type: 'boolean' } });
  const name = requireName(positionals, 'key name', 'spendcap key rm NAME [--provider-side|--keep-provider-key]');
  const { store, masterKey } = openStore(values['data-dir'], io);
  try {
    // A key made by `provider-key` owns an OpenRouter key: delete it there first, while its hash is known.
    const owned = (await store.keys.byName(name));
    const side = owned ? (await providerKeyOf(store, owned.id)) : null;
    let deletedThere = false;
    if (owned && side && (await decideProviderDelete(values, name))) {
      const failed = await deleteProviderSide(store, masterKey, io, owned.id);
      if (failed !== null) {
        io.err(`spendcap key rm: the OpenRouter key was not deleted (${failed}); nothing was removed. Retry, or keep it there: spendcap key rm ${name} --keep-provider-key\n`);
        return 1;
      }
      deletedThere = true;
    }
    await removeKey(store, name, 'cli');
    io.out(`Removed key "${printable(name)}". Requests with it are refused from now on; its ledger rows stay.\n`);
    if (deletedThere) io.out('Its OpenRouter key was deleted at OpenRouter too.\n');
    else if (side) io.out(`Its OpenRouter key (hash ${side.hash}) still exists, with its limit; delete it at https://openrouter.ai/settings/keys when you no longer need it.\n`);
    return 0;
  } finally {
    await store.close();
  }
}

async function tokens(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const name = requireName(positionals, 'key name', 'spendcap key tokens NAME [--json]');
  const { store } = openStore(values['data-dir'], io);
  try {
    const list = (await tokensOf(store, name)).map((t) => ({ id: t.id, label: t.label, tokenHint: t.tokenHint, createdAt: new Date(t.createdAt).toISOString(), revokedAt: t.revokedAt === null ? null : new Date(t.revokedAt).toISOString() }));
    if (values.json) io.out(JSON.stringify(list, null, 2) + '\n');
    else io.out(table([['ID', 'LABEL', 'TOKEN', 'CREATED', 'STATE'], ...list.map((t) => [String(t.id), t.label, t.tokenHint, when(Date.parse(t.createdAt)), t.revokedAt === null ? 'live' : `revoked ${when(Date.parse(t.revokedAt))}`])]));
    return 0;
  } finally {
    await store.close();
  }
}

async function revoke(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const name = requireName(positionals, 'key name', 'spendcap key revoke NAME TOKEN_ID_OR_LABEL');
  const which = positionals[1];
  if (!which) throw new UsageError('missing token id or label. Usage: spendcap key revoke NAME TOKEN_ID_OR_LABEL (ids: spendcap key tokens NAME)');
  const { store } = openStore(values['data-dir'], io);
  try {
    const t = await revokeKeyToken(store, name, which);
    if (values.json) io.out(JSON.stringify({ key: name, id: t.id, label: t.label, revoked: true }) + '\n');
    else io.out(`Revoked token ${t.id} ("${t.label}", ${t.tokenHint}) of key "${name}". Requests with it are refused from now on; the key's other tokens keep working.\n`);
    return 0;
  } finally {
    await store.close();
  }
}
