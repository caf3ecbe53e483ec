import { tokenizerFactor as claudeTokenizerFactor } from '../anthropic/tokenizer.js';

/*
 * What the Responses meter assumes about a model it only knows by name. Keys for OpenRouter and
 * OpenAI-compatible servers speak the same protocol with other vendors' models ("anthropic/claude-…",
 * "qwen/…"), so every guess falls back to the conservative side.
 */

/**
 * Hidden reasoning bound for OpenAI's own models: time × this ≥ the reasoning tokens billed. OpenAI's
 * API models generate at roughly 50–250 tokens/s (gpt-5-nano and gpt-4.1-nano the fastest, priority
 * processing a little faster); 500 is about twice the fastest, so the hold runs ahead of the bill.
 * It is higher than the Anthropic meter's 400 tokens/s because OpenAI's small models are faster.
 */
export const REASONING_TOKENS_PER_SECOND = 500;
/**
 * For models served on fast inference hardware (open-weight models, gpt-oss included, on OpenRouter /
 * compatible servers; OpenAI's Cerebras-served "spark" models): up to about 3,000 tokens/s are advertised.
 */
export const FAST_REASONING_TOKENS_PER_SECOND = 3000;
/** Tokens per unit of spendcap's estimate for vendors whose tokenizer is unknown (as the Anthropic meter does for unplaced models). */
export const UNKNOWN_TOKENIZER_FACTOR = 1.45;

/** The id without an "openai/"-style vendor prefix, lower case. */
function bareId(model: string): string {
  const m = model.toLowerCase();
  const slash = m.lastIndexOf('/');
  return slash >= 0 ? m.slice(slash + 1) : m;
}

function vendorOf(model: string): string | null {
  const m = model.toLowerCase();
  const slash = m.indexOf('/');
  return slash >= 0 ? m.slice(0, slash) : null;
}

/** An OpenAI model (o200k tokenizer, OpenAI's speeds): gpt-*, o1/o3/o4…, codex-*, chatgpt-*, computer-use-*. */
export function isOpenAIModel(model: string): boolean {
  const vendor = vendorOf(model);
  if (vendor !== null && vendor !== 'openai') return false;
  return /^(gpt-|o\d|codex|chatgpt|computer-use)/.test(bareId(model));
}

/**
 * Whether the model may reason without streaming it. Only models known not to reason are excluded
 * (gpt-4o, gpt-4.1, gpt-3.5, the gpt-5 "chat" variants), or an explicit reasoning.effort "none";
 * an unknown model is assumed to reason.
 */
export function mayReasonHidden(model: string, effort: string | null): boolean {
  if (effort === 'none') return false;
  if (effort !== null) return true;
  const id = bareId(model);
  if (!isOpenAIModel(model)) return true;
  return !/^(gpt-4o|gpt-4\.1|gpt-4-|gpt-4$|gpt-3\.5|chatgpt-4o)/.test(id) && !/-chat(-|$)/.test(id);
}

export function reasoningTokensPerSecond(model: string): number {
  // gpt-oss is open-weight: OpenRouter routes it to the fast hosts.
  return isOpenAIModel(model) && !/spark|gpt-oss/.test(bareId(model)) ? REASONING_TOKENS_PER_SECOND : FAST_REASONING_TOKENS_PER_SECOND;
}

/**
 * Model tokens per unit of spendcap's estimate. The estimator is calibrated at or above o200k and
 * cl100k (1.03–1.11× on English prose), so OpenAI models need no factor; Claude models (through
 * OpenRouter) get the Anthropic meter's factor; anything else the larger one.
 */
export function outputTokenizerFactor(model: string): number {
  if (isOpenAIModel(model)) return 1;
  const id = bareId(model);
  if (id.startsWith('claude')) return claudeTokenizerFactor(id);
  return UNKNOWN_TOKENIZER_FACTOR;
}
