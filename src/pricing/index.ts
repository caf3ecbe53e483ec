// Public face of pricing: other folders import from here only.
export type { Nanos, ModelRates, PriceSource, ProviderId, RateCard, ResolvedPrice, Usage } from './types.js';
export { PROVIDER_IDS, ZERO_USAGE } from './types.js';
export { PriceBook } from './price-book.js';
export type { KnownModel, PriceBookOptions, PriceOverride } from './price-book.js';
export { costNanos, inputCostNanos, outputRateFor, rateCardFor, tokensCostNanos, totalInputTokens } from './cost.js';
export { UnknownModelError } from './errors.js';
export { formatUsd, nanosToUsd, NANOS_PER_USD, usdToNanos } from './money.js';
