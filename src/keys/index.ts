// Creating and removing spendcap keys: one implementation for `spendcap key add/rm` and the admin
// API's POST/DELETE /api/keys, so both validate the same way and write the same audited event.
import { PROVIDER_IDS } from '../pricing/index.js';
import type { Nanos, ProviderId } from '../pricing/index.js';
import { decryptSecret, encryptSecret, hashToken, newSpendcapToken } from '../secrets/index.js';
import { StoreError } from '../store/index.js';
import type { BudgetMode, EventChannel, EventRecord, KeyRecord, Period, Store, TokenRecord } from '../store/index.js';

/** Opens a key's provider API key with the data dir's master key (what the Bank is given). */
export function providerKeyOpener(masterKey: Buffer): (record: KeyRecord) => string {
  return (record) => decryptSecret(masterKey, record.providerKeyEnc);
}

/** The fields a caller can get wrong; each front end names them its own way (--provider-key, providerKey). */
export type KeyField = 'name' | 'provider' | 'providerKey' | 'baseUrl' | 'mode' | 'ceiling';

/** A bad key spec: `field` says which input, the message is written with the caller's name for it. */
export class KeySpecError extends Error {
  constructor(
    readonly field: KeyField,
    message: string,
  ) {
    super(message);
    this.name = 'KeySpecError';
  }
}

export interface KeySpec {
  name: string;
  provider: string;
  providerKey: string | undefined;
  capNanos: Nanos;
  period: Period;
  sessionCapNanos: Nanos | null;
  ceilingNanos: Nanos | null;
  mode: string;
  clamp: boolean;
  baseUrl: string | undefined;
}

export interface CreatedKey {
  key: KeyRecord;
  /** The spendcap token: shown once, stored only as a hash. */
  token: string;
  provider: ProviderId;
  mode: BudgetMode;
  event: EventRecord;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** How a front end names a field in messages: the CLI says "--provider-key", the API "providerKey". */
export type FieldLabel = (field: KeyField) => string;
const plain: FieldLabel = (f) => f;

export function checkKeyName(name: string): string {
  if (!NAME_RE.test(name)) throw new KeySpecError('name', `name "${name}" must be 1–64 letters, digits, dots, dashes or underscores`);
  return name;
}

/** --base-url / baseUrl names the endpoint of a generic OpenAI-compatible provider; it is that provider's whole identity. */
export function normalizeBaseUrl(provider: ProviderId, raw: string | undefined, label: FieldLabel = plain): string | null {
  const f = label('baseUrl');
  if (raw === undefined) {
    if (provider === 'openai-compatible') throw new KeySpecError('baseUrl', `${f} is required with ${label('provider')} openai-compatible (the URL you would give the OpenAI SDK, e.g. https://api.groq.com/openai/v1)`);
    return null;
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new KeySpecError('baseUrl', `${f} "${raw}" is not a URL (e.g. https://api.mistral.ai/v1)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new KeySpecError('baseUrl', `${f} must be http or https; got "${u.protocol}"`);
  if (u.search || u.hash) throw new KeySpecError('baseUrl', `${f} must not carry a query or fragment`);
  return u.href.replace(/\/+$/, '');
}

/** Validates the spec, then writes the key, its budget and a `key-add` event in one transaction. */
export async function createKey(store: Store, masterKey: () => Buffer, spec: KeySpec, channel: EventChannel, label: FieldLabel = plain, now: number = Date.now()): Promise<CreatedKey> {
  const name = checkKeyName(spec.name);
  if (!(PROVIDER_IDS as readonly string[]).includes(spec.provider)) throw new KeySpecError('provider', `${label('provider')} must be one of ${PROVIDER_IDS.join(', ')}; got "${spec.provider}"`);
  const provider = spec.provider as ProviderId;
  const baseUrl = normalizeBaseUrl(provider, spec.baseUrl, label);
  const providerKey = spec.providerKey?.trim();
  if (!providerKey) throw new KeySpecError('providerKey', `${label('providerKey')} is required (the provider API key spendcap will use upstream)`);
  if (providerKey.startsWith('sc-')) throw new KeySpecError('providerKey', `${label('providerKey')} must be the provider's own API key, not a spendcap key (sc-…)`);
  if (spec.mode !== 'hard' && spec.mode !== 'soft') throw new KeySpecError('mode', `${label('mode')} must be hard or soft; got "${spec.mode}"`);
  const mode: BudgetMode = spec.mode;
  if (spec.ceilingNanos !== null && spec.ceilingNanos < spec.capNanos) throw new KeySpecError('ceiling', `${label('ceiling')} must be at least the cap`);

  const token = newSpendcapToken();
  const event: EventRecord = { id: 0, ts: now, kind: 'key-add', budget: name, channel, capBeforeNanos: null, capAfterNanos: spec.capNanos, detail: null };
  const key = await store.keys.create(
    { name, provider, tokenHash: hashToken(token), tokenHint: `${token.slice(0, 7)}…`, providerKeyEnc: encryptSecret(masterKey(), providerKey), baseUrl, createdAt: now },
    { capNanos: spec.capNanos, period: spec.period, sessionCapNanos: spec.sessionCapNanos, ceilingNanos: spec.ceilingNanos, mode, clamp: spec.clamp, updatedAt: now },
    { ts: event.ts, kind: event.kind, budget: event.budget, channel, capBeforeNanos: null, capAfterNanos: event.capAfterNanos, detail: null },
  );
  // The event's id as stored: the newest key-add of this key.
  const stored = (await store.events.list(1, { budget: name, sinceMs: now })).find((e) => e.kind === 'key-add');
  return { key, token, provider, mode, event: stored ?? event };
}

/** Removes a key (its ledger rows stay) and writes a `key-rm` event. */
export async function removeKey(store: Store, name: string, channel: EventChannel, now: number = Date.now()): Promise<EventRecord> {
  const event = { ts: now, kind: 'key-rm', budget: name, channel, capBeforeNanos: null, capAfterNanos: null, detail: null };
  await store.keys.remove(name, event);
  const stored = (await store.events.list(1, { budget: name, sinceMs: now })).find((e) => e.kind === 'key-rm');
  return stored ?? { id: 0, ...event };
}

/** The one line that points the usual client of this provider at spendcap. */
export function howToPoint(provider: ProviderId, token: string, base = 'http://127.0.0.1:8787'): string {
  switch (provider) {
    case 'anthropic':
      return `ANTHROPIC_BASE_URL=${base} ANTHROPIC_API_KEY=${token} claude`;
    case 'gemini':
      return `GOOGLE_GEMINI_BASE_URL=${base} GEMINI_API_KEY=${token}   (then any @google/genai client)`;
    default:
      return `OPENAI_BASE_URL=${base}/v1 OPENAI_API_KEY=${token}   (OpenAI SDKs; Codex CLI needs a provider in ~/.codex/config.toml: docs/agents.md)`;
  }
}

async function keyNamed(store: Store, name: string): Promise<KeyRecord> {
  const key = await store.keys.byName(name);
  if (!key) throw new StoreError('E_NOT_FOUND', `no key named "${name}" (see: spendcap key list)`);
  return key;
}

/** A further token for an existing key (one per connected agent); shown once, stored as a hash. */
export async function issueToken(store: Store, name: string, label: string, now: number = Date.now(), bind: { session?: string; budget?: string } = {}): Promise<{ token: string; record: TokenRecord; key: KeyRecord }> {
  const key = await keyNamed(store, name);
  const token = newSpendcapToken();
  const record = await store.tokens.insert({ keyId: key.id, label, tokenHash: hashToken(token), tokenHint: `${token.slice(0, 7)}…`, createdAt: now, session: bind.session ?? null, budget: bind.budget ?? null });
  return { token, record, key };
}

export async function tokensOf(store: Store, name: string): Promise<TokenRecord[]> {
  return store.tokens.list((await keyNamed(store, name)).id);
}

/** Revokes one token of a key (by id or label); the key's other tokens keep working. */
export async function revokeKeyToken(store: Store, name: string, idOrLabel: string, now: number = Date.now()): Promise<TokenRecord> {
  return store.tokens.revoke((await keyNamed(store, name)).id, idOrLabel, now);
}
