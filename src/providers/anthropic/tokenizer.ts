/**
 * How many Claude tokens one unit of spendcap's estimate may stand for. The estimator is calibrated
 * against cl100k/o200k and the legacy Claude tokenizer; Claude 3.5–4.6 produce about 16% more tokens
 * on English (about 30% more on code), and the tokenizer of Claude 4.7 and later about 30% more
 * again. A hold that runs low would let the provider bill past the cap on a cut stream, so a model
 * not known to use the older tokenizer gets the larger factor.
 */
export const OLDER_TOKENIZER_FACTOR = 1.15;
export const NEWER_TOKENIZER_FACTOR = 1.45;

/** Major and minor version of a Claude model id, in either naming scheme; null when unrecognised. */
export function claudeVersion(model: string): { major: number; minor: number } | null {
  const id = model.toLowerCase().replace(/[-@]\d{8}$/, '').replace(/-latest$/, '');
  // claude-3-5-sonnet, claude-3-haiku, claude-2.1
  const old = /^claude-(\d)(?:[.-](\d))?(?:-|$)/.exec(id);
  if (old) return { major: Number(old[1]), minor: Number(old[2] ?? 0) };
  // claude-sonnet-4-5, claude-opus-4, claude-fable-5-1
  const named = /^claude-[a-z]+-(\d+)(?:[.-](\d))?(?:-|$)/.exec(id);
  if (named) return { major: Number(named[1]), minor: Number(named[2] ?? 0) };
  return null;
}

export function tokenizerFactor(model: string): number {
  const v = claudeVersion(model);
  if (v && (v.major < 4 || (v.major === 4 && v.minor <= 6))) return OLDER_TOKENIZER_FACTOR;
  return NEWER_TOKENIZER_FACTOR;
}
