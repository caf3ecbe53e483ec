import type { Usage } from '../../pricing/types.js';
import type { SseEvent } from '../../proxy/sse-types.js';
import type { StreamMeter } from '../types.js';
import { StreamingTokenEstimate } from '../../proxy/estimate-tokens.js';
import { ToolInputTracker } from '../tool-input.js';
import { CUT_STOP_REASON, buildCutTail } from './cut.js';
import { asRecord, num, str } from '../json.js';

export interface OpenBlock {
  index: number;
  type: string;
}

/**
 * Meters one Anthropic Messages stream from its parsed SSE events.
 *
 * Usage follows the SDK's own fold (MessageStream#accumulateMessage): input and cache counts from
 * message_start, then OVERWRITTEN (never added) by each non-null message_delta value; output from
 * the last message_delta. Until then the output is estimated from the streamed text.
 *
 * Fields are state for callers to read, not to write.
 */
/** Faster than any Claude model generates (fast modes included), so time × this bounds hidden thinking. */
export const THINKING_TOKENS_PER_SECOND = 400;

export class AnthropicStreamMeter implements StreamMeter {
  messageStarted = false;
  messageId: string | undefined = undefined;
  model: string | undefined = undefined;
  readonly usage: Usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 };
  /** A message_delta with usage arrived: usage.outputTokens is the provider's count. */
  hasFinalUsage = false;
  /** The last message_delta's output_tokens (0 before). */
  reportedOutputTokens = 0;
  openBlock: OpenBlock | null = null;
  nextBlockIndex = 0;
  sawMessageDelta = false;
  sawMessageStop = false;
  sawError: { type: string; message: string } | null = null;
  stopReason: string | null = null;

  /** message_start's output_tokens. */
  private startOutputTokens = 0;

  /** Hidden thinking tokens assumed for thinking blocks already closed (see thinkingFloor). */
  private hiddenThinkingTokens = 0;
  /** The open thinking block: when it started and how much of the estimate it had then. */
  private thinking: { since: number; unitsAtStart: number } | null = null;

  /**
   * @param tokenizerFactor Claude tokens per unit of spendcap's estimate for this model (see tokenizer.ts).
   * @param now the clock that bounds hidden thinking.
   */
  constructor(
    private readonly tokenizerFactor = 1,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Claude 4 streams a summary of its thinking but bills the full thinking, which is invisible.
   * The only upper bound is time: tokens generated ≤ elapsed × the fastest generation speed.
   * While a thinking block is open the proxy re-checks the hold on a clock, not only on events.
   */
  get needsClock(): boolean {
    return this.thinking !== null;
  }

  readonly hiddenTokensPerSecond = THINKING_TOKENS_PER_SECOND;

  private thinkingFloor(t: { since: number; unitsAtStart: number }): number {
    const visible = (this.estimate.units - t.unitsAtStart) * this.tokenizerFactor;
    return Math.max(0, Math.ceil(((this.now() - t.since) * THINKING_TOKENS_PER_SECOND) / 1000 - visible));
  }
  /** Fractional estimate of the streamed content, rounded up once when read. */
  private readonly estimate = new StreamingTokenEstimate();
  /** Follows the open tool_use block's JSON, for a safe cut. */
  private toolInput: ToolInputTracker | null = null;

  get inputKnown(): boolean {
    return this.messageStarted;
  }

  get complete(): boolean {
    return this.sawMessageStop;
  }

  /** message_start's output_tokens plus an upper estimate of everything streamed since. */
  get estimatedOutputTokens(): number {
    const hidden = this.hiddenThinkingTokens + (this.thinking ? this.thinkingFloor(this.thinking) : 0);
    return this.startOutputTokens + Math.ceil(this.estimate.units * this.tokenizerFactor) + hidden;
  }

  /** Output tokens to hold money for: the larger of the estimate and what the provider reported. */
  outputTokensForHold(): number {
    return Math.max(this.estimatedOutputTokens, this.reportedOutputTokens, this.usage.outputTokens);
  }

  /** JSON to append to the open tool_use block's input so a cut leaves a call no client will run ('' if none). */
  toolInputCloser(): string {
    return this.toolInput?.closer() ?? '';
  }

  cutTail(notice: string): string {
    return buildCutTail(this, notice, CUT_STOP_REASON);
  }

  onEvent(ev: SseEvent): void {
    // Pings are frequent and carry nothing: skip them before any parsing.
    if (ev.event === 'ping') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(ev.data);
    } catch {
      return;
    }
    const data = asRecord(parsed);
    if (!data) return;
    const type = str(data['type']) ?? ev.event;
    switch (type) {
      case 'content_block_delta':
        return this.onDelta(data);
      case 'message_start':
        return this.onMessageStart(data);
      case 'content_block_start': {
        const index = num(data['index']) ?? this.nextBlockIndex;
        const block = asRecord(data['content_block']);
        const blockType = str(block?.['type']) ?? 'unknown';
        this.openBlock = { index, type: blockType };
        this.nextBlockIndex = Math.max(this.nextBlockIndex, index + 1);
        this.toolInput = blockType === 'tool_use' ? new ToolInputTracker() : null;
        this.thinking = blockType === 'thinking' || blockType === 'redacted_thinking' ? { since: this.now(), unitsAtStart: this.estimate.units } : null;
        // A block may start with content (rare for text; never for tool_use input, which streams).
        const text = str(block?.['text']) ?? str(block?.['thinking']);
        if (text) this.estimate.add(text);
        return;
      }
      case 'content_block_stop':
        if (this.thinking) this.hiddenThinkingTokens += this.thinkingFloor(this.thinking);
        this.thinking = null;
        this.openBlock = null;
        this.toolInput = null;
        return;
      case 'message_delta':
        return this.onMessageDelta(data);
      case 'message_stop':
        this.sawMessageStop = true;
        this.openBlock = null;
        return;
      case 'error': {
        const err = asRecord(data['error']);
        this.sawError = { type: str(err?.['type']) ?? 'error', message: str(err?.['message']) ?? '' };
        return;
      }
      default:
        return; // new event types are to be ignored (Anthropic's streaming docs)
    }
  }

  private onDelta(data: Record<string, unknown>): void {
    const delta = asRecord(data['delta']);
    if (!delta) return;
    switch (delta['type']) {
      case 'text_delta': {
        const t = str(delta['text']);
        if (t) this.estimate.add(t);
        return;
      }
      case 'input_json_delta': {
        const t = str(delta['partial_json']);
        if (t) {
          this.estimate.add(t);
          this.toolInput?.feed(t);
        }
        return;
      }
      case 'thinking_delta': {
        const t = str(delta['thinking']);
        if (t) this.estimate.add(t);
        return;
      }
      case 'citations_delta': {
        // The citation's cited_text may not be billed as output; counting it keeps the estimate an upper bound.
        const c = asRecord(delta['citation']);
        const t = str(c?.['cited_text']);
        this.estimate.addUnits(CITATION_OVERHEAD);
        if (t) this.estimate.add(t);
        return;
      }
      default:
        return; // signature_delta (opaque, not output text) and unknown deltas
    }
  }

  private onMessageStart(data: Record<string, unknown>): void {
    const msg = asRecord(data['message']);
    this.messageStarted = true;
    this.messageId = str(msg?.['id']);
    this.model = str(msg?.['model']);
    const u = asRecord(msg?.['usage']);
    if (!u) return;
    const fromStart = usageFromAnthropic(u);
    Object.assign(this.usage, fromStart);
    this.startOutputTokens = fromStart.outputTokens;
  }

  private onMessageDelta(data: Record<string, unknown>): void {
    this.sawMessageDelta = true;
    const delta = asRecord(data['delta']);
    const sr = str(delta?.['stop_reason']);
    if (sr !== undefined) this.stopReason = sr;
    const u = asRecord(data['usage']);
    if (!u) return;
    const input = num(u['input_tokens']);
    if (input !== undefined) this.usage.inputTokens = input;
    const read = num(u['cache_read_input_tokens']);
    if (read !== undefined) this.usage.cacheReadTokens = read;
    const write = num(u['cache_creation_input_tokens']);
    if (write !== undefined) reassignCacheWrites(this.usage, write);
    const output = num(u['output_tokens']);
    if (output !== undefined) {
      this.usage.outputTokens = output;
      this.reportedOutputTokens = output;
      this.hasFinalUsage = true;
    }
  }
}

/** Tokens the model spends on one citation's structure, beyond its text. */
const CITATION_OVERHEAD = 8;

/**
 * Anthropic usage object → Usage. cache_creation (the 5m/1h split) wins when present; without it,
 * cache_creation_input_tokens counts as 5m (the default TTL). When the total exceeds the split's
 * sum (the docs' own example does), the excess goes to 1h: the dearer rate keeps the charge an upper bound.
 */
export function usageFromAnthropic(u: Record<string, unknown>): Usage {
  const total = num(u['cache_creation_input_tokens']) ?? 0;
  const split = asRecord(u['cache_creation']);
  let w5 = total;
  let w1 = 0;
  if (split) {
    w5 = num(split['ephemeral_5m_input_tokens']) ?? 0;
    w1 = num(split['ephemeral_1h_input_tokens']) ?? 0;
    if (total > w5 + w1) w1 += total - w5 - w1;
  }
  return {
    inputTokens: num(u['input_tokens']) ?? 0,
    outputTokens: num(u['output_tokens']) ?? 0,
    cacheReadTokens: num(u['cache_read_input_tokens']) ?? 0,
    cacheWrite5mTokens: w5,
    cacheWrite1hTokens: w1,
  };
}

/**
 * message_delta gives only the cache-write total, no 5m/1h split. Equal to the known split's sum
 * (the normal case): keep the split. Larger: the excess goes to 1h if message_start showed any 1h
 * writes (a request without 1h breakpoints cannot write 1h), else to 5m. Smaller: take it off 5m
 * first, keeping the dearer 1h part.
 */
function reassignCacheWrites(usage: Usage, total: number): void {
  const known = usage.cacheWrite5mTokens + usage.cacheWrite1hTokens;
  if (total === known) return;
  if (total > known) {
    if (usage.cacheWrite1hTokens > 0) usage.cacheWrite1hTokens += total - known;
    else usage.cacheWrite5mTokens += total - known;
    return;
  }
  const fromFive = Math.min(usage.cacheWrite5mTokens, known - total);
  usage.cacheWrite5mTokens -= fromFive;
  usage.cacheWrite1hTokens -= known - total - fromFive;
}
