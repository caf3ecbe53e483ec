/**
 * Conservative output-token estimate for streamed text, used to grow a dollar hold before the
 * provider reports the real count (which only comes at the end of a stream).
 *
 * Model: a GPT-style pre-tokenizer split (a BPE token never crosses these splits, so the piece
 * count is a lower bound), then a weight per piece fitted so the total stays at or a little above
 * real BPE counts (legacy Claude tokenizer, cl100k_base, o200k_base) on English prose, markdown,
 * code, JSON and non-Latin text. Calibration numbers are in estimate-tokens.test.ts.
 *
 * One hand-written pass over UTF-16 code units, no allocation.
 */

/**
 * Weight of one plain letter run (camelCase piece) by length. Measured averages on English prose
 * (legacy Claude tokenizer, space-prefixed words): 1.00 up to 4 letters, 5: 1.05, 6: 1.18,
 * 7: 1.12, 8: 1.15, 9: 1.48, 10: 1.22, 11: 1.38, 12: 1.35, 13: 1.62, 14+: about len/5.
 * Kept a little above, so the total stays an upper estimate without wasting the cap.
 */
function wordWeight(len: number): number {
  if (len <= 4) return 1;
  if (len <= 6) return 1 + (len - 4) * 0.06;
  if (len <= 10) return 1.12 + (len - 6) * 0.12;
  return 1.6 + (len - 10) * 0.25;
}
/** Letters of a word with accents (é, ß, ü…). */
const ACCENTED_WORD_PER_LETTER = 0.4;
/** Cyrillic letters: roughly 2 letters per token in real tokenizers. */
const CYRILLIC_PER_LETTER = 0.65;
/** Greek letters: about 1.2 tokens each in the legacy Claude tokenizer. */
const GREEK_PER_LETTER = 1.5;
/** CJK, kana, hangul, Arabic, Hebrew…: real tokenizers give about 0.6–1.35 tokens per character. */
const OTHER_PER_CHAR = 1.35;
/** Indic scripts (Devanagari … Malayalam): about 1.1–1.3 tokens per character. */
const INDIC_PER_CHAR = 1.5;
/** Thai, Lao, Tibetan, Myanmar, Khmer: up to 1.7 tokens per character. */
const SE_ASIAN_PER_CHAR = 1.8;
/** Whitespace runs: one token, plus one per this many characters (long runs are split). */
const SPACES_PER_TOKEN = 48;
const NEWLINES_PER_TOKEN = 8;
/** A long lowercase run with few vowels is not a word (ids, hashes, base64): about 2 letters per token. */
const RANDOM_PER_LETTER = 0.5;
/** Emoji and other astral-plane code points: 2–3 BPE tokens each (4 UTF-8 bytes). */
const ASTRAL_PER_CHAR = 2.5;
/** Each punctuation character after the first in a run. */
const PUNCT_RUN_EXTRA = 0.5;
/** Each repeat of the previous punctuation character. */
const PUNCT_REPEAT_EXTRA = 0.25;
/** Digits: tokenizers group at most 3. */
const DIGITS_PER_TOKEN = 3;

// Character classes.
const C_OTHER = 0;
const C_LOWER = 1;
const C_UPPER = 2;
const C_DIGIT = 3;
const C_SPACE = 4;
const C_NEWLINE = 5;
const C_PUNCT = 6;
const C_CYRILLIC = 7;
const C_APOS = 8;
const C_GREEK = 9;
const C_SE_ASIAN = 10;
const C_INDIC = 11;

/** Class of each ASCII code unit. */
const ASCII = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  let k = C_PUNCT;
  if (c >= 0x61 && c <= 0x7a) k = C_LOWER;
  else if (c >= 0x41 && c <= 0x5a) k = C_UPPER;
  else if (c >= 0x30 && c <= 0x39) k = C_DIGIT;
  else if (c === 0x20 || c === 0x09 || c === 0x0b || c === 0x0c) k = C_SPACE;
  else if (c === 0x0a || c === 0x0d) k = C_NEWLINE;
  else if (c === 0x27) k = C_APOS;
  else if (c < 0x20 || c === 0x7f) k = C_OTHER;
  ASCII[c] = k;
}
const VOWEL = new Uint8Array(128);
for (const v of 'aeiouyAEIOUY') VOWEL[v.charCodeAt(0)] = 1;

function classOf(c: number): number {
  if (c < 128) return ASCII[c] ?? C_OTHER;
  // Latin-1 and Latin Extended letters behave like ASCII letters (accents cost extra, see below).
  if (c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7) return C_LOWER;
  if (c >= 0x1e00 && c <= 0x1eff) return C_LOWER;
  if (c === 0x2019) return C_APOS; // ’
  if (c === 0xa0) return C_SPACE;
  // Latin-1 symbols and General Punctuation (— “ ” …): one token each, like ASCII punctuation.
  if ((c >= 0xa1 && c <= 0xbf) || c === 0xd7 || c === 0xf7 || (c >= 0x2000 && c <= 0x206f)) return C_PUNCT;
  if (c >= 0x400 && c <= 0x52f) return C_CYRILLIC;
  if (c >= 0x370 && c <= 0x3ff) return C_GREEK;
  if (c >= 0x900 && c <= 0xdff) return C_INDIC;
  if ((c >= 0xe00 && c <= 0x109f) || (c >= 0x1780 && c <= 0x17ff)) return C_SE_ASIAN;
  return C_OTHER;
}

/**
 * Estimated token count, possibly fractional. Sum these over the deltas of a stream and round
 * up once at the end: rounding every 1-token delta up would double-count long words.
 */
export function estimateTokenUnits(text: string): number {
  const n = text.length;
  let total = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    const k = classOf(c);
    if (k === C_LOWER || k === C_UPPER) {
      // One camelCase piece: optional leading capitals, then lowercase. "HTTPServer" → HTTP|Server.
      let j = i + 1;
      let extra = c >= 0x80 ? 1 : 0;
      let vowels = c < 0x80 ? (VOWEL[c] ?? 0) : 1;
      if (k === C_UPPER) {
        while (j < n && classOf(text.charCodeAt(j)) === C_UPPER) {
          vowels += VOWEL[text.charCodeAt(j)] ?? 0;
          j++;
        }
        // The last capital of an all-caps run starts the next word when lowercase follows.
        if (j - i > 1 && j < n && classOf(text.charCodeAt(j)) === C_LOWER) {
          j--;
          vowels -= VOWEL[text.charCodeAt(j)] ?? 0;
        }
      }
      for (;;) {
        if (j >= n) break;
        const d = text.charCodeAt(j);
        if (classOf(d) !== C_LOWER) break;
        if (d >= 0x80) extra++;
        else vowels += VOWEL[d] ?? 0;
        j++;
      }
      const len = j - i;
      if (extra === 0) total += len >= 8 && vowels * 4 < len ? len * RANDOM_PER_LETTER : wordWeight(len);
      // Accents mark a non-English word: vocabularies are English-heavy, so these split much more.
      else total += 1 + len * ACCENTED_WORD_PER_LETTER + extra * 0.5;
      i = j;
    } else if (k === C_SPACE) {
      let j = i + 1;
      while (j < n && classOf(text.charCodeAt(j)) === C_SPACE) j++;
      total += spaceRun(text, i, j);
      i = j;
    } else if (k === C_NEWLINE) {
      // A run of newlines is one token (indentation after it is a space run).
      let j = i + 1;
      while (j < n && classOf(text.charCodeAt(j)) === C_NEWLINE) j++;
      total += 1 + Math.floor((j - i) / NEWLINES_PER_TOKEN);
      i = j;
    } else if (k === C_DIGIT) {
      let j = i + 1;
      while (j < n && classOf(text.charCodeAt(j)) === C_DIGIT) j++;
      total += Math.ceil((j - i) / DIGITS_PER_TOKEN);
      i = j;
    } else if (k === C_APOS) {
      // Contractions ('s 't 're 've 'm 'll 'd) after a word are one token with the apostrophe.
      const prev = i > 0 ? classOf(text.charCodeAt(i - 1)) : C_OTHER;
      if ((prev !== C_LOWER && prev !== C_UPPER) || !isContraction(text, i + 1)) total += 1;
      i++;
    } else if (k === C_PUNCT) {
      // Common punctuation pairs ("),", "\":", "});", "=>") are often one token.
      // Repeats ("-----", "====", "***") compress even better.
      let j = i + 1;
      total += 1;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (classOf(d) !== C_PUNCT) break;
        total += d === text.charCodeAt(j - 1) ? PUNCT_REPEAT_EXTRA : PUNCT_RUN_EXTRA;
      }
      i = j;
    } else if (k === C_CYRILLIC) {
      let j = i + 1;
      while (j < n && classOf(text.charCodeAt(j)) === C_CYRILLIC) j++;
      total += Math.max(1, (j - i) * CYRILLIC_PER_LETTER);
      i = j;
    } else if (k === C_GREEK) {
      total += GREEK_PER_LETTER;
      i++;
    } else if (k === C_SE_ASIAN) {
      total += SE_ASIAN_PER_CHAR;
      i++;
    } else if (k === C_INDIC) {
      total += INDIC_PER_CHAR;
      i++;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      // Astral plane (emoji, rare CJK): a surrogate pair.
      total += ASTRAL_PER_CHAR;
      i += 2;
    } else {
      total += c === 0x200d || c === 0xfe0f ? 1 : OTHER_PER_CHAR;
      i++;
    }
  }
  return total;
}

/** text[at..] is s, t, m, d, re, ve or ll (any case), not followed by another letter. */
function isContraction(text: string, at: number): boolean {
  const a = text.charCodeAt(at) | 0x20;
  let len: number;
  if (a === 0x73 || a === 0x74 || a === 0x6d || a === 0x64) len = 1; // s t m d
  else {
    const b = text.charCodeAt(at + 1) | 0x20;
    if ((a === 0x72 && b === 0x65) || (a === 0x76 && b === 0x65) || (a === 0x6c && b === 0x6c)) len = 2; // re ve ll
    else return false;
  }
  const k = at + len < text.length ? classOf(text.charCodeAt(at + len)) : C_OTHER;
  return k !== C_LOWER && k !== C_UPPER;
}

/**
 * Tokens of the spaces/tabs in text[i..j), as GPT-style pre-tokenizers split them: the last
 * character joins a following word (or, if it is a plain space, following punctuation); the rest
 * of the run is one token. Very long runs are split further.
 */
function spaceRun(text: string, i: number, j: number): number {
  const len = j - i;
  const extra = Math.floor(len / SPACES_PER_TOKEN);
  if (j >= text.length) return 1 + extra;
  const next = text.charCodeAt(j);
  const k = classOf(next);
  if (k === C_NEWLINE) return 1 + extra;
  const attaches = isLetter(next, k) || ((k === C_PUNCT || k === C_APOS) && text.charCodeAt(j - 1) === 0x20);
  return (len > 1 ? 1 : 0) + (attaches ? 0 : 1) + extra;
}

/** A letter in the pre-tokenizer's sense (\p{L}): Latin, Greek, Cyrillic, and the letters of other scripts. */
function isLetter(c: number, k: number): boolean {
  if (k === C_LOWER || k === C_UPPER || k === C_CYRILLIC || k === C_GREEK || k === C_SE_ASIAN || k === C_INDIC) return true;
  // Hebrew, Arabic, Indic, CJK, kana, hangul…; not symbols, CJK punctuation or surrogates (emoji).
  return k === C_OTHER && c >= 0x590 && c < 0xd800 && !(c >= 0x2000 && c <= 0x2bff) && !(c >= 0x3000 && c <= 0x303f);
}

/** Estimated number of tokens a model generated for `text` (rounded up). */
export function estimateTokens(text: string): number {
  return Math.ceil(estimateTokenUnits(text));
}

const TRAILING_WORD = /[A-Za-z]{1,32}$/;

/** The exact token count of a text in the model's own (public) tokenizer, or null when it cannot count (not loaded yet). */
export type ExactCounter = (text: string) => number | null;

/**
 * Sums estimates over a stream of deltas as if they were one text: a word split across two deltas
 * (providers cut deltas anywhere) counts once, not as two pieces.
 *
 * With an exact counter (OpenAI's o200k/cl100k), each delta is counted in the model's own tokenizer
 * instead: a provider streams about one token a delta, so a delta's own count is what it generated
 * (a word split across two deltas was two tokens), where the estimate ran 5-20% over on prose.
 */
export class StreamingTokenEstimate {
  #units = 0;
  #tail = '';

  constructor(private readonly exact: ExactCounter | null = null) {}

  get units(): number {
    return this.#units;
  }

  add(text: string): void {
    if (text.length === 0) return;
    const exact = this.exact?.(text) ?? null;
    if (exact !== null) {
      // A delta is at least one token, whatever its text re-tokenizes to.
      this.#units += Math.max(1, exact);
      this.#tail = '';
      return;
    }
    const combined = this.#tail + text;
    const delta = estimateTokenUnits(combined) - (this.#tail ? estimateTokenUnits(this.#tail) : 0);
    this.#units += Math.max(0, delta);
    this.#tail = TRAILING_WORD.exec(combined)?.[0] ?? '';
  }

  /** A fixed amount that is not text (e.g. a citation's overhead); also ends the current word. */
  addUnits(units: number): void {
    this.#units += units;
    this.#tail = '';
  }
}
