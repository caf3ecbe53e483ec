import type { Nanos } from '../pricing/index.js';
import { roomNanos } from './account.js';
import type { Account } from './account.js';

/** Fewer output tokens than this is no answer worth sending: refuse as usual. */
export const MIN_CLAMP_TOKENS = 64;
/**
 * A clamped stream must end by itself, not be cut: spendcap's mid-stream estimate runs above the
 * provider's count (tokenizer factors up to 1.45) and keeps a margin, so the limit leaves room for both.
 */
export const STREAM_ESTIMATE_SLACK = 1.5;

export interface ClampInput {
  accounts: readonly Account[];
  inputNanos: Nanos;
  /** n$ per million output tokens. */
  outputRate: number;
  maxTokens: number;
  stream: boolean;
  marginTokens: number;
}

/**
 * The output limit a request should be lowered to so the budgets can pay for all of it, or null
 * to leave it alone: when they can pay for the whole limit already, when the budget short of room
 * did not opt in (--clamp), or when what it can pay for is too little to be an answer.
 */
export function clampTokens(c: ClampInput): number | null {
  let tightest: Account | null = null;
  for (const a of c.accounts) {
    if (a.mode !== 'hard') continue;
    if (a.killed || a.exhausted) return null;
    if (tightest === null || roomNanos(a) < roomNanos(tightest)) tightest = a;
  }
  if (tightest === null || tightest.clamp !== true || c.outputRate <= 0) return null;
  const room = roomNanos(tightest) - c.inputNanos;
  const affordable = Math.floor((room * 1_000_000) / c.outputRate);
  if (affordable >= c.maxTokens) return null;
  const tokens = c.stream ? Math.floor(affordable / STREAM_ESTIMATE_SLACK) - c.marginTokens : affordable;
  return tokens >= MIN_CLAMP_TOKENS ? tokens : null;
}
