import { tokenizerFactor as claudeTokenizerFactor } from '../anthropic/index.js';

/*
 * What an OpenAI-protocol model id says about its tokenizer and its speed: one set of rules for the
 * Chat Completions and the Responses meters. Keys for OpenRouter and OpenAI-compatible servers speak
 * the same protocol with other vendors' models ("anthropic/claude-…", "qwen/…"), so every guess about
 * a model it does not know falls on the side that holds more.
 */

/** The model part of a possibly prefixed id ("openai/gpt-5" → "gpt-5"), lower case. */
export function bareModel(model: string): string {
  const id = model.trim().toLowerCase();
  const slash = id.lastIndexOf('/');
  return slash === -1 ? id : id.slice(slash + 1);
}

function vendorOf(model: string): string | null {
  const id = model.trim().toLowerCase();
  const slash = id.indexOf('/');
  return slash === -1 ? null : id.slice(0, slash);
}

/**
 * Models OpenAI itself serves (o200k/cl100k tokenizers, OpenAI's speeds): gpt-*, o1/o3/o4…, codex-*,
 * chatgpt-*, computer-use-*, fine-tunes of them. Open-weight gpt-oss is served by others, and an id
 * with another vendor's prefix is that vendor's.
 */
export function isOpenAIModel(model: string): boolean {
  const vendor = vendorOf(model);
  if (vendor !== null && vendor !== 'openai') return false;
  const m = bareModel(model);
  if (m.startsWith('gpt-oss')) return false;
  return /^(ft:)?(gpt-|chatgpt-|o\d|codex|computer-use)/.test(m);
}

/** OpenAI models that reason before they answer, billing reasoning tokens they never stream. */
export function isOpenAIReasoningModel(model: string): boolean {
  return /^(ft:)?(o\d|gpt-5|codex)/.test(bareModel(model));
}

/**
 * Whether the model may reason without streaming it. Only models known not to reason are excluded
 * (gpt-4o, gpt-4.1, gpt-3.5, the gpt-5 "chat" variants), or an explicit reasoning effort "none";
 * a model of another vendor is assumed to reason.
 */
export function mayReasonHidden(model: string, effort: string | null): boolean {
  if (effort === 'none') return false;
  if (effort !== null) return true;
  if (!isOpenAIModel(model)) return true;
  const id = bareModel(model).replace(/^ft:/, '');
  return !/^(gpt-4o|gpt-4\.1|gpt-4-|gpt-4$|gpt-3\.5|chatgpt-4o)/.test(id) && !/-chat(-|$)/.test(id);
}

/**
 * Upper bounds on how fast a model can generate hidden reasoning, in tokens per second: the clock
 * that bounds tokens billed but not streamed is elapsed time × this.
 * - OpenAI's own models, and Claude behind a router: 500. OpenAI's API models generate at about
 *   50–250 tokens/s (gpt-5-nano and gpt-4.1-nano the fastest, priority processing a little faster);
 *   Anthropic's fastest are slower still. 500 is about twice the fastest, so the hold runs ahead of the bill.
 * - "spark" models (Cerebras-served) and every other model behind OpenRouter or a compatible endpoint
 *   (gpt-oss included), which Cerebras, Groq or SambaNova serve at 1,000–3,000 tokens/s: 3,000.
 */
export const REASONING_TOKENS_PER_SECOND = 500;
export const FAST_REASONING_TOKENS_PER_SECOND = 3000;

export function reasoningTokensPerSecond(model: string): number {
  const m = bareModel(model);
  if (m.includes('spark')) return FAST_REASONING_TOKENS_PER_SECOND;
  if (isOpenAIModel(model) || m.startsWith('claude')) return REASONING_TOKENS_PER_SECOND;
  return FAST_REASONING_TOKENS_PER_SECOND;
}

/**
 * Model tokens per unit of spendcap's estimate (src/proxy/estimate-tokens.ts, calibrated at or above
 * cl100k and o200k, 1.03–1.11× on English prose). OpenAI models and gpt-oss (o200k_harmony): 1.
 * Claude through a router: Anthropic's factor. Anything else (Llama, Mistral, Qwen…): 1.45, the
 * Anthropic meter's factor for unplaced models, above the ~1.3 of the older SentencePiece vocabularies.
 */
export const UNKNOWN_TOKENIZER_FACTOR = 1.45;

export function tokenizerFactor(model: string): number {
  const m = bareModel(model);
  if (isOpenAIModel(model) || m.startsWith('gpt-oss')) return 1;
  if (m.startsWith('claude')) return claudeTokenizerFactor(m.replace(/\./g, '-'));
  return UNKNOWN_TOKENIZER_FACTOR;
}
