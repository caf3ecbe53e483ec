/**
 * Money is integer nano-dollars (n$, 1e-9 USD) everywhere in spendcap.
 * Prices are integer nano-dollars per million tokens (n$/Mtok): $3.00/Mtok = 3_000_000_000 (exact for any price with ≤ 9 decimals).
 * cost n$ = ceil(Σ tokens × rate / 1e6), one rounding per request, always up.
 */
export type Nanos = number;

/** Token counts of one request. The four input kinds are disjoint (Anthropic semantics). */
export interface Usage {
  /** Uncached input tokens (after the last cache breakpoint). */
  inputTokens: number;
  /** Output tokens, thinking and reasoning included. */
  outputTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
}

export const ZERO_USAGE: Readonly<Usage> = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWrite5mTokens: 0,
  cacheWrite1hTokens: 0,
});

/** Rates in n$ per million tokens. */
export interface RateCard {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
}

export interface ModelRates extends RateCard {
  /** When total input (uncached + cache read + cache writes) exceeds thresholdTokens, every token is billed at these rates. */
  longContext?: { thresholdTokens: number } & RateCard;
}

export type PriceSource = 'override' | 'catalogue' | 'family-fallback';

export interface ResolvedPrice {
  /** The model id as the request named it. */
  model: string;
  /** The catalogue/override id that priced it. */
  pricedAs: string;
  source: PriceSource;
  /** True when the model is not known and was priced at its family's dearest model. */
  estimated: boolean;
  rates: ModelRates;
}

/** Who a key pays: the provider behind the spendcap key. */
export type ProviderId = 'anthropic' | 'openai' | 'gemini' | 'openrouter' | 'openai-compatible';
export const PROVIDER_IDS: readonly ProviderId[] = ['anthropic', 'openai', 'gemini', 'openrouter', 'openai-compatible'];
