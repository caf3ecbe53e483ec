import { readFileSync } from 'node:fs';
import { encryptSecret, hashToken, newSpendcapToken } from '../../secrets/index.js';
import { StoreError } from '../../store/index.js';
import { PROVIDER_IDS } from '../../pricing/index.js';
import type { ProviderId } from '../../pricing/index.js';
import { optionalUsd, parse, period, requireName, str, usd } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { table, usd as fmt, when } from '../format.js';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateName(name: string): string {
  if (!NAME_RE.test(name)) throw new UsageError(`name "${name}" must be 1–64 letters, digits, dots, dashes or underscores`);
  return name;
}

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
    default:
      throw new UsageError('usage: spendcap key add|list|rm …  (see spendcap --help)');
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
  });
  const name = validateName(requireName(positionals, 'key name', 'spendcap key add NAME --provider anthropic --provider-key K --cap USD'));
  const provider = str(values.provider) ?? 'anthropic';
  if (!(PROVIDER_IDS as readonly string[]).includes(provider)) throw new UsageError(`--provider must be one of ${PROVIDER_IDS.join(', ')}; got "${provider}"`);
  const baseUrl = baseUrlFor(provider as ProviderId, str(values['base-url']));
  let providerKey = str(values['provider-key']) ?? io.env.SPENDCAP_PROVIDER_KEY;
  // "-" reads the key from stdin, so it stays out of shell history and the process list.
  if (providerKey === '-') providerKey = readFileSync(0, 'utf8').trim();
  if (!providerKey) throw new UsageError('--provider-key is required (the provider API key spendcap will use upstream; "-" reads it from stdin)');
  if (providerKey.startsWith('sc-')) throw new UsageError('--provider-key must be the provider\'s own API key, not a spendcap key (sc-…)');
  const capMicros = usd(values.cap, '--cap');
  const mode = str(values.mode) ?? 'hard';
  if (mode !== 'hard' && mode !== 'soft') throw new UsageError(`--mode must be hard or soft; got "${mode}"`);
  const ceilingMicros = optionalUsd(values.ceiling, '--ceiling');
  if (ceilingMicros !== null && ceilingMicros < capMicros) throw new UsageError('--ceiling must be at least --cap');

  const { store, masterKey } = openStore(values['data-dir'], io);
  try {
    const token = newSpendcapToken();
    const now = Date.now();
    store.insertKeyWithBudget(
      { name, provider: provider as ProviderId, tokenHash: hashToken(token), tokenHint: `${token.slice(0, 7)}…`, providerKeyEnc: encryptSecret(masterKey(), providerKey), baseUrl, createdAt: now },
      { capMicros, period: period(values.period), sessionCapMicros: optionalUsd(values['session-cap'], '--session-cap'), ceilingMicros, mode, clamp: values.clamp === true, updatedAt: now },
    );
    store.insertEvent({ ts: now, kind: 'key-add', budget: name, channel: 'cli', capBeforeMicros: null, capAfterMicros: capMicros, detail: null });
    if (values.json) {
      io.out(JSON.stringify({ name, provider, token, capUsd: capMicros / 1e6, period: period(values.period), mode, clamp: values.clamp === true }) + '\n');
    } else {
      io.out(`Created key "${name}" (${provider}, cap ${fmt(capMicros)} per ${period(values.period)}).\n`);
      io.out(`\n  ${token}\n\nThis is the only time the key is shown. Point your agent at spendcap with it:\n`);
      io.out(`  ${howToPoint(provider as ProviderId, token)}\n`);
    }
    return 0;
  } finally {
    store.close();
  }
}

/** --base-url names the endpoint of a generic OpenAI-compatible provider; it is that provider's whole identity. */
function baseUrlFor(provider: ProviderId, raw: string | undefined): string | null {
  if (raw === undefined) {
    if (provider === 'openai-compatible') throw new UsageError('--base-url is required with --provider openai-compatible (the URL you would give the OpenAI SDK, e.g. https://api.groq.com/openai/v1)');
    return null;
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--base-url "${raw}" is not a URL (e.g. https://api.mistral.ai/v1)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UsageError(`--base-url must be http or https; got "${u.protocol}"`);
  if (u.search || u.hash) throw new UsageError('--base-url must not carry a query or fragment');
  return u.href.replace(/\/+$/, '');
}

/** The one line that points the usual client of this provider at spendcap. */
export function howToPoint(provider: ProviderId, token: string): string {
  const base = 'http://127.0.0.1:8787';
  switch (provider) {
    case 'anthropic':
      return `ANTHROPIC_BASE_URL=${base} ANTHROPIC_API_KEY=${token} claude`;
    case 'gemini':
      return `GOOGLE_GEMINI_BASE_URL=${base} GEMINI_API_KEY=${token}   (then any @google/genai client)`;
    default:
      return `OPENAI_BASE_URL=${base}/v1 OPENAI_API_KEY=${token}   (OpenAI SDKs; Codex CLI needs a provider in ~/.codex/config.toml: docs/agents.md)`;
  }
}

async function list(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {}, false);
  const { store } = openStore(values['data-dir'], io);
  try {
    const budgets = new Map(store.listBudgets().map((b) => [b.keyId, b]));
    const keys = store.listKeys().map((k) => {
      const b = budgets.get(k.id);
      return { name: k.name, provider: k.provider, ...(k.baseUrl ? { baseUrl: k.baseUrl } : {}), tokenHint: k.tokenHint, capUsd: (b?.capMicros ?? 0) / 1e6, period: b?.period ?? null, sessionCapUsd: b?.sessionCapMicros != null ? b.sessionCapMicros / 1e6 : null, mode: b?.mode ?? 'hard', clamp: b?.clamp ?? false, killed: b?.killed ?? false, createdAt: new Date(k.createdAt).toISOString() };
    });
    if (values.json) io.out(JSON.stringify(keys, null, 2) + '\n');
    else if (keys.length === 0) io.out('No keys yet. Create one: spendcap key add NAME --provider anthropic --provider-key sk-ant-… --cap 15\n');
    else io.out(table([['NAME', 'PROVIDER', 'KEY', 'CAP', 'PERIOD', 'STATE', 'CREATED'], ...keys.map((k) => [k.name, k.provider, k.tokenHint, fmt(Math.round(k.capUsd * 1e6)), k.period ?? '', k.killed ? 'killed' : 'active', when(Date.parse(k.createdAt))])]));
    return 0;
  } finally {
    store.close();
  }
}

async function rm(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const name = requireName(positionals, 'key name', 'spendcap key rm NAME');
  const { store } = openStore(values['data-dir'], io);
  try {
    if (!store.deleteKey(name)) throw new StoreError('E_NOT_FOUND', `no key named "${name}" (see: spendcap key list)`);
    store.insertEvent({ ts: Date.now(), kind: 'key-rm', budget: name, channel: 'cli', capBeforeMicros: null, capAfterMicros: null, detail: null });
    io.out(`Removed key "${name}". Requests with it are refused from now on; its ledger rows stay.\n`);
    return 0;
  } finally {
    store.close();
  }
}
