import { bodyTextTokens } from '../request-body.js';
import { bareModel, isOpenAIModel } from './models.js';

/*
 * OpenAI's tokenizers are public (o200k_base, cl100k_base): the admission estimate of an OpenAI
 * model's request counts the body with the real one (gpt-tokenizer, pure JS) instead of a byte rule.
 *
 * What is counted is the body's JSON text as sent, not the rendered prompt: keys, quotes and escapes
 * are more tokens than the chat framing they stand for (about 4 tokens a message), and a tool's JSON
 * schema more than the namespace text it is rendered to, so the count stays an upper bound while
 * tracking the real prompt to about 1.1–1.4× (the byte rule: 1.5–2×). Media payloads are taken out
 * and priced by each protocol's own rule.
 *
 * Hot path: the encoder (a few MB of ranks, 100–300 ms to load) is imported on the first OpenAI
 * request, in the background; until it is ready the byte rule answers. Bodies past
 * MAX_EXACT_CHARS keep the byte rule (counting runs at about 5 MB/s and blocks the event loop).
 */

type Encoding = 'o200k_base' | 'cl100k_base';
type Counter = (text: string) => number;

/** Past this many characters the body is not tokenized (≈ 25 ms of counting): the byte rule answers. */
export const MAX_EXACT_CHARS = 128 * 1024;
/** A run of base64 this long is a media payload, not prompt text (the protocol prices it apart). */
const BASE64_RUN = /[A-Za-z0-9+/=]{512,}/g;
/** Tokens the count may miss where the body's text meets what the provider adds around it. */
const SEAM_TOKENS = 8;

const counters = new Map<Encoding, Counter>();
const loading = new Map<Encoding, Promise<void>>();

/** The tokenizer of an OpenAI model id, or null for another vendor's model (or gpt-oss, served by others). */
export function encodingOf(model: string): Encoding | null {
  if (!isOpenAIModel(model)) return null;
  const m = bareModel(model).replace(/^ft:/, '');
  if (/^(gpt-4-|gpt-4$|gpt-3\.5)/.test(m) && !m.startsWith('gpt-4o')) return 'cl100k_base';
  return 'o200k_base';
}

/** Starts loading the encoder (once); resolves when it can count. */
export function loadEncoding(enc: Encoding): Promise<void> {
  let p = loading.get(enc);
  if (p === undefined) {
    p = (enc === 'o200k_base' ? import('gpt-tokenizer/encoding/o200k_base') : import('gpt-tokenizer/encoding/cl100k_base')).then(
      (mod) => {
        const noSpecial = { disallowedSpecial: new Set<string>() };
        counters.set(enc, (text) => mod.countTokens(text, noSpecial));
      },
      () => undefined,
    );
    loading.set(enc, p);
  }
  return p;
}

/** Resolves when the model's exact tokenizer is loaded (tests, and a server that wants it warm). */
export async function whenExactTokenizerReady(model: string): Promise<void> {
  const enc = encodingOf(model);
  if (enc !== null) await loadEncoding(enc);
}

/** The exact count of `text` in the model's tokenizer, or null when it is not an OpenAI model or not loaded yet. */
export function exactTokens(model: string, text: string): number | null {
  const enc = encodingOf(model);
  if (enc === null) return null;
  const count = counters.get(enc);
  if (count === undefined) {
    void loadEncoding(enc);
    return null;
  }
  try {
    return count(text);
  } catch {
    return null;
  }
}

/**
 * Upper bound of the tokens of a request body's text for `model`, leaving out `base64Bytes` of media:
 * the exact count of the JSON text when the model's tokenizer is public and loaded and the body is
 * not too large, else the byte rule (src/providers/request-body.ts). The exact count may be above the
 * byte rule: random strings (base64, ids) run below 2.5 bytes a token in o200k, where the rule ran low.
 */
export function openaiBodyTextTokens(body: Buffer, base64Bytes: number, model: string): number {
  const byRule = bodyTextTokens(body, base64Bytes);
  if (body.length > MAX_EXACT_CHARS * 3 || encodingOf(model) === null) return byRule;
  let text = body.toString('utf8');
  if (base64Bytes > 0) text = text.replace(BASE64_RUN, '');
  if (text.length > MAX_EXACT_CHARS) return byRule;
  const exact = exactTokens(model, text);
  return exact === null ? byRule : exact + SEAM_TOKENS;
}
