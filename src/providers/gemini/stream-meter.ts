import type { Usage } from '../../pricing/types.js';
import type { SseEvent } from '../../proxy/sse-types.js';
import { StreamingTokenEstimate } from '../../proxy/estimate-tokens.js';
import type { StreamMeter } from '../types.js';
import { asRecord, num, str } from '../json.js';
import { buildGeminiCutTail, CUT_FINISH_REASON } from './cut.js';
import type { GeminiRequestInfo } from './request.js';
import { countsFromMetadata, usageFromCounts } from './usage.js';
import type { GeminiCounts } from './usage.js';

/**
 * An upper bound of how fast any Gemini model generates (thoughts included). Public speed
 * measurements put 2.5 Pro and 3 Pro near 100–200 tokens/s, Flash near 200–350 and Flash-Lite,
 * the fastest, in the several hundreds; 1,000 stays above all of them with room for faster serving.
 */
export const GEMINI_TOKENS_PER_SECOND = 1000;

/**
 * Gemini tokens per unit of spendcap's estimate (calibrated on cl100k/o200k-style BPE). There is no
 * Gemini tokenizer to calibrate against offline; its 256k SentencePiece vocabulary is about as
 * dense as o200k on English, and the factor covers code and other scripts. Digits are added apart:
 * Gemini's tokenizer splits every digit, where the estimate counts three per token.
 */
export const GEMINI_TOKENIZER_FACTOR = 1.2;
const EXTRA_UNITS_PER_DIGIT = 2 / 3;
/** Tokens of one functionCall part beyond its JSON (name, structure). */
const FUNCTION_CALL_OVERHEAD = 8;
/** Media parts in a response (generated images, audio): a generous per-part allowance until the count arrives. */
const MEDIA_PART_TOKENS = 1300;
/** Tokens the model may generate visibly between the last chunk and the next one when the hidden part is capped. */
const GAP_VISIBLE_TOKENS = 64;

/** Text length in digits, for the digit correction. */
function digits(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

/**
 * Estimate of one output kind (answer or thoughts), summed over candidates, for the parts streamed
 * since the provider last reported that kind's running count (which covers everything before).
 */
class OutputEstimate {
  private byCandidate = new Map<number, StreamingTokenEstimate>();
  private extra = 0;

  addText(index: number, text: string): void {
    let e = this.byCandidate.get(index);
    if (!e) {
      e = new StreamingTokenEstimate();
      this.byCandidate.set(index, e);
    }
    e.add(text);
    this.extra += digits(text) * EXTRA_UNITS_PER_DIGIT;
  }

  addUnits(units: number): void {
    this.extra += units;
  }

  /** The provider counted everything streamed so far. */
  reset(): void {
    this.byCandidate = new Map();
    this.extra = 0;
  }

  tokens(): number {
    let units = this.extra;
    for (const e of this.byCandidate.values()) units += e.units;
    return Math.ceil(units * GEMINI_TOKENIZER_FACTOR);
  }
}

/**
 * Meters one Gemini SSE stream (data-only GenerateContentResponse chunks, no [DONE]).
 *
 * Every chunk carries usageMetadata with RUNNING totals for the request, so the latest one is the
 * count so far and the chunk that finishes the last candidate holds the final usage. A chunk's
 * count includes its own parts (thinking fixture: 22 candidates after the first answer chunk);
 * some streams report candidatesTokenCount only at the end (basic fixture), so parts streamed
 * since the last count of their kind are estimated from their text and added. Between
 * chunks, the model may be generating what spendcap cannot see yet: the answer's next tokens, or
 * thoughts that are billed but never streamed (2.5 and 3 think before answering unless told not
 * to). The only bound on those is time, so the estimate adds elapsed-since-last-chunk × the
 * fastest generation speed, capped by the request's thinking budget when it gives one, and the
 * meter asks for the clock for as long as the stream is open.
 *
 * Fields are state for callers to read, not to write.
 */
export class GeminiStreamMeter implements StreamMeter {
  model: string | undefined = undefined;
  responseId: string | undefined = undefined;
  readonly usage: Usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 };
  /** The latest usageMetadata counts. */
  counts: GeminiCounts = { prompt: 0, cached: 0, toolUsePrompt: 0, candidates: 0, thoughts: 0 };
  /** A chunk with promptTokenCount arrived. */
  inputKnown = false;
  /** Candidate indexes that have a finishReason. */
  readonly finished = new Set<number>();
  /** The prompt was blocked (promptFeedback.blockReason): no candidates will come. */
  promptBlocked = false;
  sawError: { code: number; status: string; message: string } | null = null;
  /** Candidate indexes seen, for the cut tail. */
  readonly candidates = new Set<number>();

  private readonly answer = new OutputEstimate();
  private readonly thoughts = new OutputEstimate();
  private lastChunkAt: number;

  /**
   * @param info the parsed request (thinking cap and candidate count).
   * @param now the clock that bounds hidden generation.
   */
  constructor(
    private readonly info: Pick<GeminiRequestInfo, 'thinkingCap' | 'candidateCount'> = { thinkingCap: null, candidateCount: 1 },
    private readonly now: () => number = Date.now,
  ) {
    // The model may have started thinking before the response headers: counting from here is the best bound the meter can give.
    this.lastChunkAt = now();
  }

  /** Every candidate finished (or the prompt was blocked): the chunk that did it holds the final usage. */
  get complete(): boolean {
    return this.promptBlocked || this.finished.size >= this.info.candidateCount;
  }

  get hasFinalUsage(): boolean {
    return this.complete && this.inputKnown;
  }

  /** Hidden generation is possible at any moment until the stream ends. */
  get needsClock(): boolean {
    return !this.complete && this.sawError === null;
  }

  readonly hiddenTokensPerSecond = GEMINI_TOKENS_PER_SECOND;

  /** Thoughts so far: the provider's running count plus the summaries streamed since it. */
  private thoughtsSoFar(): number {
    return this.counts.thoughts + this.thoughts.tokens();
  }

  /** Tokens generated since the last chunk that spendcap cannot have seen: time × speed, capped by what the thinking budget leaves. */
  private gapTokens(): number {
    if (this.complete || this.sawError) return 0;
    const byClock = Math.ceil(((this.now() - this.lastChunkAt) * GEMINI_TOKENS_PER_SECOND) / 1000);
    const cap = this.info.thinkingCap;
    if (cap === null) return byClock;
    return Math.min(byClock, Math.max(0, cap - this.thoughtsSoFar()) + GAP_VISIBLE_TOKENS);
  }

  /** Answer tokens: the running count plus the estimate of the parts streamed since it. */
  answerTokens(): number {
    return this.counts.candidates + this.answer.tokens();
  }

  outputTokensForHold(): number {
    const visible = this.answerTokens() + this.thoughtsSoFar();
    return Math.max(visible + this.gapTokens(), this.usage.outputTokens);
  }

  cutTail(notice: string): string {
    return buildGeminiCutTail(this, notice, CUT_FINISH_REASON);
  }

  onEvent(ev: SseEvent): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(ev.data);
    } catch {
      return;
    }
    const chunk = asRecord(parsed);
    if (!chunk) return;
    const err = asRecord(chunk['error']);
    if (err) {
      this.sawError = { code: num(err['code']) ?? 500, status: str(err['status']) ?? 'UNKNOWN', message: str(err['message']) ?? '' };
      return;
    }
    this.lastChunkAt = this.now();
    this.model = str(chunk['modelVersion']) ?? this.model;
    this.responseId = str(chunk['responseId']) ?? this.responseId;
    const cands = chunk['candidates'];
    if (Array.isArray(cands)) {
      for (let i = 0; i < cands.length; i++) this.onCandidate(asRecord(cands[i]), i);
    }
    if (str(asRecord(chunk['promptFeedback'])?.['blockReason']) !== undefined) this.promptBlocked = true;
    const u = asRecord(chunk['usageMetadata']);
    if (u) {
      const c = countsFromMetadata(u);
      // Running totals only grow; a chunk that omits a counter (proto3 drops zeros, some chunks give only the prompt) keeps the last value.
      this.counts = {
        prompt: Math.max(this.counts.prompt, c.prompt),
        cached: Math.max(this.counts.cached, c.cached),
        toolUsePrompt: Math.max(this.counts.toolUsePrompt, c.toolUsePrompt),
        candidates: Math.max(this.counts.candidates, c.candidates),
        thoughts: Math.max(this.counts.thoughts, c.thoughts),
      };
      if (c.prompt > 0) this.inputKnown = true;
      // A counter present in this chunk covers every part streamed up to and including it.
      if (num(u['candidatesTokenCount']) !== undefined) this.answer.reset();
      if (num(u['thoughtsTokenCount']) !== undefined) this.thoughts.reset();
      Object.assign(this.usage, usageFromCounts(this.counts));
    }
  }

  private onCandidate(cand: Record<string, unknown> | undefined, position: number): void {
    if (!cand) return;
    const index = num(cand['index']) ?? position;
    this.candidates.add(index);
    const parts = asRecord(cand['content'])?.['parts'];
    if (Array.isArray(parts)) {
      for (const p of parts) this.onPart(asRecord(p), index);
    }
    if (str(cand['finishReason']) !== undefined) this.finished.add(index);
  }

  private onPart(part: Record<string, unknown> | undefined, index: number): void {
    if (!part) return;
    const target = part['thought'] === true ? this.thoughts : this.answer;
    const text = str(part['text']);
    if (text) target.addText(index, text);
    const fc = asRecord(part['functionCall']);
    if (fc) {
      target.addUnits(FUNCTION_CALL_OVERHEAD);
      target.addText(index, (str(fc['name']) ?? '') + ' ' + JSON.stringify(fc['args'] ?? {}));
    }
    const code = asRecord(part['executableCode']);
    if (code) target.addText(index, str(code['code']) ?? '');
    if (asRecord(part['inlineData'])) target.addUnits(MEDIA_PART_TOKENS);
  }
}

export { CUT_FINISH_REASON };
