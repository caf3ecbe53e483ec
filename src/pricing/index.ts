// Public face of pricing: other folders import from here only.
export type { Micros, ModelRates, PriceSource, ProviderId, RateCard, ResolvedPrice, Usage } from './types.js';
export { PROVIDER_IDS, ZERO_USAGE } from './types.js';
export { PriceBook } from './price-book.js';
export type { KnownModel, PriceBookOptions, PriceOverride } from './price-book.js';
export { costMicros, inputCostMicros, outputRateFor, rateCardFor, tokensCostMicros, totalInputTokens } from './cost.js';
export { UnknownModelError } from './errors.js';
export { formatUsd, usdToMicros } from './money.js';
