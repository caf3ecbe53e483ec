import type { Usage } from '../../pricing/types.js';
import type { SseEvent } from '../../proxy/sse-types.js';
import { StreamingTokenEstimate } from '../../proxy/estimate-tokens.js';
import type { StreamMeter } from '../types.js';
import { asRecord, num, str } from '../json.js';
import { mayReasonHidden, tokenizerFactor, reasoningTokensPerSecond } from './models.js';
import { providerCostFromResponsesUsage, usageFromResponsesUsage } from './responses-usage.js';
import { buildResponsesCutTail } from './responses-cut.js';
import { exactOutputCounter } from './output-tokens.js';

/** The request facts the meter needs (a subset of ResponsesRequestInfo). */
export interface ResponsesMeterRequest {
  model: string;
  estimatedInputTokens: number;
  reasoningEffort?: string | null;
}

/** The content part being streamed inside an open message item. */
export interface OpenPart {
  index: number;
  /** output_text or refusal (others are closed as they are). */
  type: string;
  text: string;
}

/** An output item between its output_item.added and output_item.done. */
export interface OpenItem {
  index: number;
  type: string;
  /** The item as output_item.added gave it. */
  item: Record<string, unknown>;
  /** Content parts already closed (content_part.done), by content index. */
  parts: Array<Record<string, unknown>>;
  part: OpenPart | null;
  /** A delta streamed this item's content (else its done item is estimated whole). */
  sawDelta: boolean;
}

/** Output tokens an item costs beyond its streamed text (item framing, a call's name and id). */
const ITEM_OVERHEAD_TOKENS = 8;
/**
 * A message item (the answer) has no name or id the model writes: its framing is the channel and
 * message markers and the end marker (OpenAI's harmony format: `<|channel|>final<|message|>…<|end|>`).
 * Eight tokens each wasted 6% of a $0.02 cap shared by 16 answers.
 */
const MESSAGE_ITEM_OVERHEAD_TOKENS = 4;

function itemOverheadTokens(type: string): number {
  return (type === 'message' ? MESSAGE_ITEM_OVERHEAD_TOKENS : ITEM_OVERHEAD_TOKENS) + (HOSTED_TOOL_INPUT_TOKENS[type] ?? 0);
}
/**
 * Hosted search tools add their results to the INPUT, which the provider counts only at the end.
 * The relay's input part is fixed at the request estimate until then, so the allowance is added to
 * the output estimate instead: the output rate is never below the input rate, so it over-covers.
 * OpenAI bills web search content as a fixed 8,000-token block per call on its mini models (more
 * on others, so 20k); file search returns up to 20 chunks of at most 800 tokens (default chunking).
 */
const HOSTED_TOOL_INPUT_TOKENS: Readonly<Record<string, number>> = {
  web_search_call: 20_000,
  file_search_call: 16_000,
};

/**
 * Meters one Responses API stream from its parsed SSE events.
 *
 * The provider states usage only in the terminal event (response.completed / incomplete / failed):
 * input, cached input and output with reasoning. Until then the input is the request's upper
 * estimate and the output an upper estimate from every `*.delta` (text, refusal, function-call
 * arguments, reasoning summaries and text, custom tool input…) plus, for a model that may reason
 * invisibly, a clock: while no visible item is open, elapsed time × a tokens/second bound.
 *
 * Fields are state for callers (and the cut tail) to read, not to write.
 */
export class ResponsesStreamMeter implements StreamMeter {
  model: string | undefined = undefined;
  readonly usage: Usage;
  hasFinalUsage = false;
  /** The terminal event forwarded (response.completed / incomplete / failed, or error); null while open. */
  terminal: string | null = null;
  providerCostNanos: number | null = null;
  /** The last lifecycle response object (response.created / in_progress / queued), for the cut tail. */
  lastResponse: Record<string, unknown> | null = null;
  /** Highest sequence_number seen (-1 before any). */
  lastSequence = -1;
  readonly openItems = new Map<number, OpenItem>();
  /** Items closed by output_item.done, by output index. */
  readonly doneItems = new Map<number, Record<string, unknown>>();

  private reportedOutputTokens = 0;
  private readonly estimate: StreamingTokenEstimate;
  private overheadTokens = 0;
  private readonly factor: number;
  private readonly rate: number;
  private readonly hiddenPossible: boolean;
  /** Hidden reasoning assumed for windows already closed. */
  private hiddenClosedTokens = 0;
  /** The open hidden-reasoning window: since when no visible item has been open. */
  private window: { since: number } | null = null;

  constructor(
    readonly request: ResponsesMeterRequest,
    private readonly now: () => number = Date.now,
  ) {
    this.usage = { inputTokens: request.estimatedInputTokens, outputTokens: 0, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 };
    this.factor = tokenizerFactor(request.model);
    // OpenAI's own models: each delta counted in their public tokenizer, not estimated.
    this.estimate = new StreamingTokenEstimate(exactOutputCounter(request.model));
    this.rate = reasoningTokensPerSecond(request.model);
    this.hiddenPossible = mayReasonHidden(request.model, request.reasoningEffort ?? null);
    // A reasoning model may start before its first event: the window opens with the stream.
    if (this.hiddenPossible) this.window = { since: this.now() };
  }

  /**
   * Reasoning models (o-series, gpt-5) bill reasoning they never stream (at most a summary, often
   * nothing). The only bound is time: tokens generated ≤ elapsed × the fastest generation speed.
   * While a reasoning item is open, or no item is open at all, the hold is re-checked on a clock.
   */
  get needsClock(): boolean {
    return this.window !== null;
  }

  get hiddenTokensPerSecond(): number {
    return this.rate;
  }

  get inputKnown(): boolean {
    return this.hasFinalUsage;
  }

  get complete(): boolean {
    return this.terminal !== null;
  }

  /** Hidden reasoning assumed so far (closed windows plus the open one). */
  get hiddenReasoningTokens(): number {
    return this.hiddenClosedTokens + (this.window ? this.windowTokens(this.window) : 0);
  }

  /** Upper estimate of the output so far: streamed content, item framing and hidden reasoning. */
  get estimatedOutputTokens(): number {
    return Math.ceil(this.estimate.units * this.factor) + this.overheadTokens + this.hiddenReasoningTokens;
  }

  outputTokensForHold(): number {
    return Math.max(this.estimatedOutputTokens, this.reportedOutputTokens);
  }

  cutTail(notice: string): string {
    return buildResponsesCutTail(this, notice);
  }

  /** The next sequence_number for an event spendcap writes. */
  nextSequence(): number {
    this.lastSequence++;
    return this.lastSequence;
  }

  private windowTokens(w: { since: number }): number {
    // Summaries that stream meanwhile are counted on top, not taken off: they may be billed apart.
    return Math.max(0, Math.ceil(((this.now() - w.since) * this.rate) / 1000));
  }

  /**
   * OpenAI's own API puts a model's reasoning in a `reasoning` output item (summary or not, it holds
   * the encrypted content) that comes before the answer. When the first item is an answer (a message
   * or a call at output_index 0), the window that preceded it was the provider reading the prompt:
   * nothing was reasoned, nothing billed. Only for bare OpenAI model ids: a router may relay another
   * vendor's reasoning otherwise.
   */
  private firstItemShowsNoReasoning(): boolean {
    if (this.hiddenClosedTokens > 0 || !/^(ft:)?(gpt-|o\d|codex|chatgpt-)/.test(this.request.model.trim().toLowerCase())) return false;
    if (this.doneItems.size > 0) return false;
    const first = this.openItems.get(0);
    return first !== undefined && this.openItems.size === 1 && first.type !== 'reasoning';
  }

  /** Opens or closes the hidden-reasoning window after an event changed what is open. */
  private syncWindow(): void {
    let visibleOpen = false;
    for (const it of this.openItems.values()) {
      if (it.type !== 'reasoning') {
        visibleOpen = true;
        break;
      }
    }
    const wanted = this.hiddenPossible && this.terminal === null && !visibleOpen;
    if (wanted && this.window === null) this.window = { since: this.now() };
    else if (!wanted && this.window !== null) {
      if (!this.firstItemShowsNoReasoning()) this.hiddenClosedTokens += this.windowTokens(this.window);
      this.window = null;
    }
  }

  /** The response's id (OpenRouter: its generation id), from response.created on. */
  get responseId(): string | undefined {
    return this.lastResponse === null ? undefined : str(this.lastResponse['id']);
  }

  onEvent(ev: SseEvent): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(ev.data);
    } catch {
      return; // keep-alive comments, "[DONE]" from compatible servers
    }
    const data = asRecord(parsed);
    if (!data) return;
    const type = str(data['type']) ?? ev.event ?? '';
    const seq = num(data['sequence_number']);
    if (seq !== undefined && seq > this.lastSequence) this.lastSequence = seq;

    if (type.endsWith('.delta')) {
      this.onDelta(type, data);
      return;
    }
    switch (type) {
      case 'response.created':
      case 'response.in_progress':
      case 'response.queued': {
        const r = asRecord(data['response']);
        if (r) {
          this.lastResponse = r;
          this.model = str(r['model']) ?? this.model;
        }
        return;
      }
      case 'response.output_item.added':
        this.onItemAdded(data);
        break;
      case 'response.content_part.added': {
        const it = this.openItems.get(num(data['output_index']) ?? -1);
        const part = asRecord(data['part']);
        if (it) it.part = { index: num(data['content_index']) ?? it.parts.length, type: str(part?.['type']) ?? 'output_text', text: '' };
        return;
      }
      case 'response.content_part.done': {
        const it = this.openItems.get(num(data['output_index']) ?? -1);
        const part = asRecord(data['part']);
        if (it) {
          const index = num(data['content_index']) ?? it.parts.length;
          if (part) it.parts[index] = part;
          if (it.part?.index === index) it.part = null;
        }
        return;
      }
      case 'response.output_item.done':
        this.onItemDone(data);
        break;
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed':
        this.onTerminal(type, data);
        break;
      case 'error':
        this.terminal = 'error';
        break;
      default:
        return; // *.done events repeat what the deltas said; unknown events are to be ignored
    }
    this.syncWindow();
  }

  private onDelta(type: string, data: Record<string, unknown>): void {
    const delta = str(data['delta']);
    if (!delta) return;
    this.estimate.add(delta);
    const it = this.openItems.get(num(data['output_index']) ?? -1);
    if (!it) return;
    it.sawDelta = true;
    if (it.part !== null && (type === 'response.output_text.delta' || type === 'response.refusal.delta')) it.part.text += delta;
  }

  private onItemAdded(data: Record<string, unknown>): void {
    const item = asRecord(data['item']);
    if (!item) return;
    const index = num(data['output_index']) ?? this.openItems.size + this.doneItems.size;
    const type = str(item['type']) ?? 'unknown';
    this.openItems.set(index, { index, type, item, parts: [], part: null, sawDelta: false });
    this.overheadTokens += itemOverheadTokens(type);
    const name = str(item['name']);
    if (name) this.estimate.add(name);
  }

  private onItemDone(data: Record<string, unknown>): void {
    const item = asRecord(data['item']);
    const index = num(data['output_index']) ?? -1;
    const open = this.openItems.get(index);
    this.openItems.delete(index);
    if (!item) return;
    this.doneItems.set(index, item);
    if (open === undefined) this.overheadTokens += itemOverheadTokens(str(item['type']) ?? '');
    // An item that arrived whole (no deltas) still cost its content.
    if (!open?.sawDelta) for (const t of itemTexts(item)) this.estimate.add(t);
  }

  private onTerminal(type: string, data: Record<string, unknown>): void {
    this.terminal = type;
    const r = asRecord(data['response']);
    this.model = str(r?.['model']) ?? this.model;
    const u = usageFromResponsesUsage(r?.['usage']);
    if (!u) return;
    Object.assign(this.usage, u);
    this.reportedOutputTokens = u.outputTokens;
    this.hasFinalUsage = true;
    this.providerCostNanos = providerCostFromResponsesUsage(r?.['usage']);
  }
}

/** The generated text of a whole output item: message text and refusals, call arguments, reasoning summaries and text, tool input. */
export function itemTexts(item: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const key of ['arguments', 'input', 'code']) {
    const v = str(item[key]);
    if (v) out.push(v);
  }
  for (const key of ['content', 'summary']) {
    const list = item[key];
    if (!Array.isArray(list)) continue;
    for (const p of list) {
      const part = asRecord(p);
      const t = str(part?.['text']) ?? str(part?.['refusal']);
      if (t) out.push(t);
    }
  }
  return out;
}
