import type { ExactCounter } from '../../proxy/estimate-tokens.js';
import { encodingOf, exactTokens } from './exact-tokens.js';

/** Past this many characters a delta (an item that arrived whole) is estimated, not tokenized: counting blocks the event loop. */
const MAX_EXACT_DELTA_CHARS = 4096;

/**
 * The streamed output of an OpenAI model counted in its own public tokenizer, delta by delta (null for
 * other vendors' models, whose tokenizers are not public: their output stays estimated). Until the
 * encoder is loaded, and for very long deltas, the counter answers null and the estimate counts.
 */
export function exactOutputCounter(model: string): ExactCounter | null {
  if (encodingOf(model) === null) return null;
  return (text) => (text.length > MAX_EXACT_DELTA_CHARS ? null : exactTokens(model, text));
}
