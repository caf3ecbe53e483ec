import { inputCostNanos, outputRateFor, tokensCostNanos, totalInputTokens } from '../pricing/index.js';
import type { ModelRates, Nanos, ResolvedPrice, Usage } from '../pricing/index.js';
import type { RequestInfo } from '../providers/types.js';
import { usageFlaw } from './usage-guard.js';

/**
 * The one place where a request's input and output are priced together while it runs: admission,
 * the hold's growth, a cut's charge and the ceiling all go through these, so they cannot drift apart.
 * (A settled request's exact bill is `costNanos` of the provider's usage, in src/pricing.)
 */
export interface CostModel {
  rates: ModelRates;
  /** Before the provider counts the prompt: the upper estimate of its cost. */
  inputEstimateNanos: Nanos;
  outputRate: number;
}

export function costModel(info: RequestInfo, price: ResolvedPrice): CostModel {
  const rates = price.rates;
  const lc = rates.longContext && info.estimatedInputTokens > rates.longContext.thresholdTokens ? rates.longContext : rates;
  const inputRate = Math.max(lc.input, info.cacheWriteTtl === '1h' ? lc.cacheWrite1h : info.cacheWriteTtl === '5m' ? lc.cacheWrite5m : 0);
  return {
    rates,
    inputEstimateNanos: tokensCostNanos(info.estimatedInputTokens, inputRate),
    outputRate: outputRateFor(rates, info.estimatedInputTokens),
  };
}

/** The prompt's upper estimate plus `outputTokens` at the estimated rate: admission's need, and a whole reply's most. */
export function estimateNanos(model: CostModel, outputTokens: number): Nanos {
  return model.inputEstimateNanos + tokensCostNanos(outputTokens, model.outputRate);
}

/**
 * What a stream may have cost so far: the provider's input usage when it is known and valid (the
 * request's own estimate stands in for untrusted usage), plus `outputTokens` at the matching rate.
 */
export function streamCostNanos(model: CostModel, usage: Usage, inputKnown: boolean, outputTokens: number): Nanos {
  const trusted = inputKnown && usageFlaw(usage) === null;
  const inputPart = trusted ? inputCostNanos(usage, model.rates) : model.inputEstimateNanos;
  const rate = trusted ? outputRateFor(model.rates, totalInputTokens(usage)) : model.outputRate;
  return inputPart + tokensCostNanos(outputTokens, rate);
}

/**
 * The most one request can cost: its prompt (the upper estimate, twice over for tokenizer slack)
 * and its whole output limit, or its hold if that is more. A provider's usage past it is not believed.
 */
export function ceilingNanos(model: CostModel, maxTokens: number, holdNanos: Nanos): Nanos {
  return Math.max(holdNanos, 2 * model.inputEstimateNanos + tokensCostNanos(maxTokens, model.outputRate));
}
