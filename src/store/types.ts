import type { Nanos, ProviderId } from '../pricing/index.js';

export type Period = 'day' | 'week' | 'month' | 'total';
export const PERIODS: readonly Period[] = ['day', 'week', 'month', 'total'];
export type BudgetMode = 'hard' | 'soft';
export type BudgetScope = 'key' | 'global' | 'tag';
/** Auto-tune of a budget's cap from its recent spend (src/budgets/autotune.ts). */
export type AutotuneMode = 'off' | 'suggest' | 'creep';
export const AUTOTUNE_MODES: readonly AutotuneMode[] = ['off', 'suggest', 'creep'];
export type Outcome = 'ok' | 'cut' | 'blocked' | 'error';

export interface KeyRecord {
  id: number;
  name: string;
  provider: ProviderId;
  tokenHash: string;
  /** A recognisable prefix of the spendcap key, for listings. */
  tokenHint: string;
  providerKeyEnc: string;
  /** Upstream base URL for an openai-compatible key (e.g. https://api.groq.com/openai/v1); null uses the provider's default. */
  baseUrl: string | null;
  createdAt: number;
}

export interface BudgetRecord {
  id: number;
  name: string;
  scope: BudgetScope;
  keyId: number | null;
  capNanos: Nanos;
  period: Period;
  /** Each session of the key gets this cap on top of the key's cap (total over the session). */
  sessionCapNanos: Nanos | null;
  ceilingNanos: Nanos | null;
  mode: BudgetMode;
  killed: boolean;
  /** Stored and shown; the relay decides what clamping does (shrink a request to fit instead of refusing it). */
  clamp: boolean;
  autotune: AutotuneMode;
  updatedAt: number;
}

export interface LedgerRow {
  ts: number;
  requestId: string;
  keyId: number;
  keyName: string;
  session: string | null;
  provider: ProviderId;
  model: string;
  pricedAs: string | null;
  priceEstimated: boolean;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  costNanos: Nanos;
  outcome: Outcome;
  /** 'provider' when the provider reported the usage, 'estimate' when spendcap had to estimate it (cut, crash, dropped). */
  usageSource: 'provider' | 'estimate' | 'none';
  status: number | null;
  durationMs: number;
  detail: string | null;
  /** What the provider itself said the request cost (OpenRouter's usage.cost), beside spendcap's own figure. */
  providerCostNanos?: Nanos | null;
  /** spendcap's own price of the same usage, kept when the provider's figure was charged instead. */
  meteredCostNanos?: Nanos | null;
  /** The tag budget the request opted into (x-spendcap-budget / X-Budget-Id), null when none. */
  tag?: string | null;
}

export interface StoredLedgerRow extends LedgerRow {
  id: number;
}

export interface HoldRecord {
  id: string;
  ts: number;
  keyId: number;
  keyName: string;
  session: string | null;
  provider: ProviderId;
  model: string;
  amountNanos: Nanos;
  tag?: string | null;
}

export interface PriceRecord {
  model: string;
  input: number;
  output: number;
  cacheRead: number | null;
  cacheWrite: number | null;
  updatedAt: number;
}

export type EventChannel = 'cli' | 'web' | 'api' | 'slack' | 'telegram' | 'auto';

export interface EventRecord {
  id: number;
  ts: number;
  kind: string;
  budget: string | null;
  channel: EventChannel;
  capBeforeNanos: Nanos | null;
  capAfterNanos: Nanos | null;
  detail: string | null;
}

/** Which ledger rows a budget counts: one key's, one tag's, or every row (global). */
export type SpendFilter = { keyId: number } | { tag: string } | 'all';

/** Per day, per key, tag and model: what pruned ledger rows added up to (kept after retention deletes the rows). */
export interface DailyTotal {
  day: string;
  dayStart: number;
  keyId: number;
  keyName: string;
  tag: string | null;
  provider: string;
  model: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costNanos: Nanos;
}

export interface TokenRecord {
  id: number;
  keyId: number;
  label: string;
  tokenHint: string;
  createdAt: number;
  revokedAt: number | null;
}

/** One file `connect` wrote: where its backup is, so `disconnect` can put the old bytes back. */
export interface ConnectedFile {
  path: string;
  /** null: the file did not exist before connect (disconnect removes it). */
  backup: string | null;
  /** sha256 of what connect wrote, to tell whether the user edited it since. */
  writtenSha256: string;
}

export interface AgentConnection {
  agent: string;
  keyName: string;
  tokenId: number | null;
  url: string;
  files: ConnectedFile[];
  connectedAt: number;
}

export interface LiveToken {
  keyId: number;
  tokenHash: string;
  /** Set for a token of one run: the session its requests belong to, and a tag budget they also charge. */
  session: string | null;
  budget: string | null;
}

