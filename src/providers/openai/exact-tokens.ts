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

/*
 * Counts of body segments already seen, per encoding. An agent sends its whole conversation on every
 * turn, so all but the newest messages were counted before; the exact tokenizer was 12–30 µs of a
 * short request and grows with the conversation (profiled, 2026-12-02).
 *
 * A body is cut only right before the first letter of a key that opens an object (`{"role"`,
 * `{"type"`): both encodings' pre-tokenizers end a punctuation run there (`{"` and whatever
 * punctuation precedes it form one piece, greedily, and a letter cannot join it), and BPE never
 * merges across pieces, so the sum of the segments' counts is exactly the body's count. A cut falls
 * at least SEGMENT_CHARS after the previous one, decided only by the text before it: the same prefix
 * is always cut the same way, so a conversation's earlier turns hit the cache.
 */
const SEGMENT_CHARS = 256;
/** Characters of segment text kept per encoding; past it the oldest segments are dropped first. */
const CACHE_CHARS = 4 * 1024 * 1024;

class SegmentCache {
  readonly #counts = new Map<string, number>();
  #chars = 0;

  count(text: string, count: Counter): number {
    let total = 0;
    let start = 0;
    for (let i = text.indexOf('{"'); i !== -1; i = text.indexOf('{"', i + 2)) {
      const cut = i + 2;
      if (cut - start < SEGMENT_CHARS || !isAsciiLetter(text.charCodeAt(cut))) continue;
      total += this.#one(text.slice(start, cut), count);
      start = cut;
    }
    return total + this.#one(start === 0 ? text : text.slice(start), count);
  }

  #one(segment: string, count: Counter): number {
    const known = this.#counts.get(segment);
    if (known !== undefined) return known;
    const n = count(segment);
    if (segment.length <= CACHE_CHARS / 8) {
      this.#counts.set(segment, n);
      this.#chars += segment.length;
      for (const k of this.#counts.keys()) {
        if (this.#chars <= CACHE_CHARS) break;
        this.#counts.delete(k);
        this.#chars -= k.length;
      }
    }
    return n;
  }
}

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

const segmentCaches = new Map<Encoding, SegmentCache>();
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

/** Both encoders' load, once started; `tokenizersLoaded` once it ended (loaded or failed). */
let loadingAll: Promise<void> | null = null;
let tokenizersLoaded = false;

/**
 * Null once both encoders are loaded; until then the promise of their load (started here). Loading one
 * blocks the event loop for about 100 ms (the module builds its tables), and a stall that falls in
 * running streams lets the provider write past their holds unseen: on a fresh server, 16 Responses
 * streams on a $0.02 cap were billed 1.07-1.27 of it. A request waits for this before it is parsed, so
 * the stall falls while no stream of it runs; the server waits for it before listening when it has keys
 * that speak OpenAI's protocols.
 */
export function exactTokenizersReady(): Promise<void> | null {
  if (tokenizersLoaded) return null;
  return (loadingAll ??= loadEncoding('o200k_base')
    .then(() => loadEncoding('cl100k_base'))
    .then(() => {
      tokenizersLoaded = true;
    }));
}

/** Resolves when the model's exact tokenizer is loaded (tests, and a server that wants it warm). */
export async function whenExactTokenizerReady(model: string): Promise<void> {
  const enc = encodingOf(model);
  if (enc !== null) await loadEncoding(enc);
}

/** The encoding's counter once loaded; until then undefined, and the load starts (no allocation: this runs per stream delta). */
function loadedCounter(enc: Encoding): Counter | undefined {
  const count = counters.get(enc);
  if (count === undefined) void loadEncoding(enc);
  return count;
}

/** The exact count of `text` in the model's tokenizer, or null when it is not an OpenAI model or not loaded yet. */
export function exactTokens(model: string, text: string): number | null {
  const enc = encodingOf(model);
  const count = enc === null ? undefined : loadedCounter(enc);
  if (count === undefined) return null;
  try {
    return count(text);
  } catch {
    return null;
  }
}

/** exactTokens of a request body's text, through the segment cache (deltas of a stream are not cached: too many, too short). */
function exactBodyTokens(model: string, text: string): number | null {
  const enc = encodingOf(model);
  const count = enc === null ? undefined : loadedCounter(enc);
  if (enc === null || count === undefined) return null;
  let cache = segmentCaches.get(enc);
  if (cache === undefined) segmentCaches.set(enc, (cache = new SegmentCache()));
  try {
    return cache.count(text, count);
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
  const exact = exactBodyTokens(model, text);
  return exact === null ? byRule : exact + SEAM_TOKENS;
}
