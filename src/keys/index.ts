// Creating and removing spendcap keys: one implementation for `spendcap key add/rm` and the admin
// API's POST/DELETE /api/keys, so both validate the same way and write the same audited event.
import { PROVIDER_IDS } from '../pricing/index.js';
import type { Nanos, ProviderId } from '../pricing/index.js';
import { encryptSecret, hashToken, newSpendcapToken } from '../secrets/index.js';
import { insertToken, listTokens, revokeToken, StoreError } from '../store/index.js';
import type { BudgetMode, EventChannel, EventRecord, KeyRecord, Period, SqliteStore, TokenRecord } from '../store/index.js';

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
export function createKey(store: SqliteStore, masterKey: () => Buffer, spec: KeySpec, channel: EventChannel, label: FieldLabel = plain, now: number = Date.now()): CreatedKey {
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
  const { key, event } = store.db.transaction(() => {
    const key = store.insertKeyWithBudget(
      { name, provider, tokenHash: hashToken(token), tokenHint: `${token.slice(0, 7)}…`, providerKeyEnc: encryptSecret(masterKey(), providerKey), baseUrl, createdAt: now },
      { capNanos: spec.capNanos, period: spec.period, sessionCapNanos: spec.sessionCapNanos, ceilingNanos: spec.ceilingNanos, mode, clamp: spec.clamp, updatedAt: now },
    );
    const event = store.insertEvent({ ts: now, kind: 'key-add', budget: name, channel, capBeforeNanos: null, capAfterNanos: spec.capNanos, detail: null });
    return { key, event };
  })();
  return { key, token, provider, mode, event };
}

/** Removes a key (its ledger rows stay) and writes a `key-rm` event. */
export function removeKey(store: SqliteStore, name: string, channel: EventChannel, now: number = Date.now()): EventRecord {
  return store.db.transaction(() => {
    if (!store.deleteKey(name)) throw new StoreError('E_NOT_FOUND', `no key named "${name}" (see: spendcap key list)`);
    return store.insertEvent({ ts: now, kind: 'key-rm', budget: name, channel, capBeforeNanos: null, capAfterNanos: null, detail: null });
  })();
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

function keyNamed(store: SqliteStore, name: string): KeyRecord {
  const key = store.keyByName(name);
  if (!key) throw new StoreError('E_NOT_FOUND', `no key named "${name}" (see: spendcap key list)`);
  return key;
}

/** A further token for an existing key (one per connected agent); shown once, stored as a hash. */
export function issueToken(store: SqliteStore, name: string, label: string, now: number = Date.now(), bind: { session?: string; budget?: string } = {}): { token: string; record: TokenRecord; key: KeyRecord } {
  const key = keyNamed(store, name);
  const token = newSpendcapToken();
  const record = insertToken(store.db, { keyId: key.id, label, tokenHash: hashToken(token), tokenHint: `${token.slice(0, 7)}…`, createdAt: now, session: bind.session ?? null, budget: bind.budget ?? null });
  return { token, record, key };
}

export function tokensOf(store: SqliteStore, name: string): TokenRecord[] {
  return listTokens(store.db, keyNamed(store, name).id);
}

/** Revokes one token of a key (by id or label); the key's other tokens keep working. */
export function revokeKeyToken(store: SqliteStore, name: string, idOrLabel: string, now: number = Date.now()): TokenRecord {
  return revokeToken(store.db, keyNamed(store, name).id, idOrLabel, now);
}
