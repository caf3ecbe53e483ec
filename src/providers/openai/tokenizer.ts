import { tokenizerFactor as claudeTokenizerFactor } from '../anthropic/index.js';

/*
 * What an OpenAI-protocol model id says about its tokenizer and its speed. The id may carry a
 * router prefix (OpenRouter: "openai/gpt-5", "anthropic/claude-sonnet-4.5"); only the last part names the model.
 */

/** The model part of a possibly prefixed id, lower case. */
export function bareModel(model: string): string {
  const id = model.trim().toLowerCase();
  const slash = id.lastIndexOf('/');
  return slash === -1 ? id : id.slice(slash + 1);
}

/** Models OpenAI itself serves (o200k/cl100k tokenizers, hidden reasoning on o-series and gpt-5). Open-weight gpt-oss is served by others. */
export function isOpenAIModel(model: string): boolean {
  const m = bareModel(model);
  if (m.startsWith('gpt-oss')) return false;
  return /^(ft:)?(gpt-|chatgpt-|o\d|codex-|computer-use-)/.test(m);
}

/** OpenAI models that reason before they answer, billing reasoning tokens they never stream. */
export function isOpenAIReasoningModel(model: string): boolean {
  const m = bareModel(model);
  return /^(ft:)?(o\d|gpt-5|codex-)/.test(m);
}

/**
 * Tokens per unit of spendcap's estimate (src/proxy/estimate-tokens.ts, calibrated at or above
 * cl100k and o200k). OpenAI models and gpt-oss (o200k_harmony): 1. Claude through a router:
 * Anthropic's factor. Anything else (Llama, Mistral, Qwen… behind OpenRouter or a compatible
 * endpoint): 1.3, because the older SentencePiece vocabularies (Llama 2, Mistral 7B, 32k tokens)
 * produce up to about 30% more tokens than cl100k on English text; newer ones produce fewer.
 */
export const OTHER_TOKENIZER_FACTOR = 1.3;

export function chatTokenizerFactor(model: string): number {
  const m = bareModel(model);
  if (isOpenAIModel(m) || m.startsWith('gpt-oss')) return 1;
  if (m.includes('claude')) return claudeTokenizerFactor(m.replace(/\./g, '-'));
  return OTHER_TOKENIZER_FACTOR;
}

/**
 * Upper bounds on how fast a model can generate hidden reasoning, in tokens per second: the clock
 * that bounds tokens billed but not streamed is elapsed time × this.
 * - OpenAI's own reasoning models: 400, the Anthropic meter's figure. Public measurements put the
 *   fastest of them (gpt-5-nano, o4-mini, priority tier) near 150–250 tokens/s, so 400 leaves room
 *   for a faster snapshot without holding much more than needed.
 * - "-spark" models run on Cerebras hardware at over 1,000 tokens/s: 2,000.
 * - Claude behind a router: 400 (Anthropic's bound).
 * - Any other model behind OpenRouter or a compatible endpoint may be served by Cerebras, Groq or
 *   SambaNova, which run open models at 1,000–3,000 tokens/s: 3,000. These models are cheap, so a
 *   generous bound costs little room under the cap.
 */
export const OPENAI_REASONING_TOKENS_PER_SECOND = 400;
export const SPARK_REASONING_TOKENS_PER_SECOND = 2000;
export const OTHER_REASONING_TOKENS_PER_SECOND = 3000;

export function reasoningTokensPerSecond(model: string): number {
  const m = bareModel(model);
  if (m.includes('spark')) return SPARK_REASONING_TOKENS_PER_SECOND;
  if (isOpenAIModel(m) || m.includes('claude')) return OPENAI_REASONING_TOKENS_PER_SECOND;
  return OTHER_REASONING_TOKENS_PER_SECOND;
}
