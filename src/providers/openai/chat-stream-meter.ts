import type { Nanos, Usage } from '../../pricing/types.js';
import { encodeSseEvent } from '../../proxy/sse.js';
import type { SseEvent } from '../../proxy/sse-types.js';
import { StreamingTokenEstimate } from '../../proxy/estimate-tokens.js';
import type { ExactCounter } from '../../proxy/estimate-tokens.js';
import { ToolInputTracker } from '../tool-input.js';
import type { StreamMeter } from '../types.js';
import { buildChatCutTail } from './chat-cut.js';
import { asRecord, num, str } from '../json.js';
import type { ChatRequestInfo } from './chat-request.js';
import { providerCostFromUsage, usageFromChatUsage } from './chat-usage.js';
import { exactOutputCounter } from './output-tokens.js';
import { tokenizerFactor, reasoningTokensPerSecond } from './models.js';

/** Tokens of a tool call's framing (call id, name header, end marker) beyond its name and arguments. */
export const TOOL_CALL_OVERHEAD_TOKENS = 12;

/** One streamed function call: its arguments' estimate and the JSON state a cut must close. */
export interface ChatToolCallState {
  readonly estimate: StreamingTokenEstimate;
  readonly args: ToolInputTracker;
}

/** What the stream showed of one choice. */
export interface ChatChoiceState {
  readonly index: number;
  /** A delta carried the role (the SDK needs it on the first delta of a choice). */
  role: boolean;
  /** content or refusal text was streamed (the cut notice then starts on a new paragraph). */
  text: boolean;
  /** finish_reason arrived: the choice is over. */
  finished: boolean;
  /** Hidden reasoning tokens assumed for this choice, fixed once it starts answering; null while it may still be reasoning. */
  hiddenTokens: number | null;
  readonly content: StreamingTokenEstimate;
  readonly reasoning: StreamingTokenEstimate;
  readonly toolCalls: Map<number, ChatToolCallState>;
  /** The legacy `function_call` delta (deprecated functions API). */
  functionCall: ChatToolCallState | null;
}

/** The fields every chunk repeats, as the stream gave them (for a cut tail that looks like the rest). */
export interface ChunkBase {
  id: string | undefined;
  created: number | undefined;
  model: string | undefined;
  serviceTier: string | undefined;
  systemFingerprint: string | undefined;
}

/**
 * Meters one Chat Completions stream (data-only SSE chunks ending in `data: [DONE]`).
 *
 * Usage exists only in the last chunk (`choices: []`), which spendcap makes the provider send
 * (RequestInfo.hiddenUsage). Until then the output is estimated from every streamed field that the
 * provider bills as output: content, refusal, tool-call names and arguments, and the reasoning text
 * some compatible providers stream (`reasoning`, `reasoning_content`, `reasoning_details`).
 *
 * Reasoning models think before the first delta and never stream it: while a choice has not
 * started answering, its output is at least elapsed time × the model's fastest generation speed,
 * from the moment spendcap read the request, and the proxy re-checks the hold on a clock.
 *
 * Fields are state for callers to read, not to write.
 */
export class ChatStreamMeter implements StreamMeter {
  readonly usage: Usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0 };
  hasFinalUsage = false;
  /** `data: [DONE]` arrived. */
  sawDone = false;
  /** An error payload arrived (`data: {"error":…}`): the stream is over for the client. */
  sawError: { type: string; message: string } | null = null;
  providerCostNanos: Nanos | null = null;
  readonly base: ChunkBase = { id: undefined, created: undefined, model: undefined, serviceTier: undefined, systemFingerprint: undefined };
  readonly choices = new Map<number, ChatChoiceState>();
  /** Present only when spendcap asked for usage the client did not: strips it (see stripHiddenUsage). */
  readonly rewrite?: (ev: SseEvent) => string;

  private readonly factor: number;
  /** OpenAI's own models: each delta counted in their public tokenizer (null: estimated). */
  private readonly exact: ExactCounter | null;
  private readonly tokensPerSecond: number;
  private readonly since: number;

  constructor(
    readonly info: ChatRequestInfo,
    private readonly now: () => number = Date.now,
  ) {
    this.factor = tokenizerFactor(info.model);
    this.exact = exactOutputCounter(info.model);
    this.tokensPerSecond = reasoningTokensPerSecond(info.model);
    this.since = Math.min(info.receivedAt, now());
    if (info.hiddenUsage === true) this.rewrite = stripHiddenUsage;
  }

  get model(): string | undefined {
    return this.base.model;
  }

  get responseId(): string | undefined {
    return this.base.id;
  }

  /** Chat Completions gives the prompt's count only with the final usage. */
  get inputKnown(): boolean {
    return this.hasFinalUsage;
  }

  get complete(): boolean {
    return this.sawDone;
  }

  get hiddenTokensPerSecond(): number {
    return this.tokensPerSecond;
  }

  get needsClock(): boolean {
    if (!this.info.hiddenReasoning || this.hasFinalUsage || this.sawDone || this.sawError) return false;
    for (let i = 0; i < this.info.choices; i++) {
      const c = this.choices.get(i);
      if (c === undefined || c.hiddenTokens === null) return true;
    }
    return false;
  }

  /** Tokens the clock allows one choice to have generated by now. */
  private clockTokens(): number {
    return ((this.now() - this.since) * this.tokensPerSecond) / 1000;
  }

  private visibleUnits(c: ChatChoiceState): number {
    let u = c.content.units + c.reasoning.units;
    for (const t of c.toolCalls.values()) u += t.estimate.units + TOOL_CALL_OVERHEAD_TOKENS / this.factor;
    if (c.functionCall) u += c.functionCall.estimate.units + TOOL_CALL_OVERHEAD_TOKENS / this.factor;
    return u;
  }

  /** Hidden reasoning of a choice still thinking: what the clock allows beyond what it streamed. */
  private openHidden(visibleUnits: number): number {
    return Math.max(0, Math.ceil(this.clockTokens() - visibleUnits * this.factor));
  }

  /** Upper estimate of the output so far: streamed text, tool calls and (clocked) hidden reasoning, over all choices. */
  get estimatedOutputTokens(): number {
    let units = 0;
    let hidden = 0;
    const clocked = this.info.hiddenReasoning && !this.sawDone && !this.hasFinalUsage;
    for (const c of this.choices.values()) {
      const v = this.visibleUnits(c);
      units += v;
      if (c.hiddenTokens !== null) hidden += c.hiddenTokens;
      else if (clocked) hidden += this.openHidden(v);
    }
    // Choices not yet seen think too.
    if (clocked) for (let i = 0; i < this.info.choices; i++) if (!this.choices.has(i)) hidden += this.openHidden(0);
    // Rejected prediction tokens are billed, never streamed: held until the provider counts them.
    return Math.ceil(units * this.factor) + hidden + Math.ceil(this.info.predictionTokens * this.factor);
  }

  outputTokensForHold(): number {
    return Math.max(this.estimatedOutputTokens, this.usage.outputTokens);
  }

  cutTail(notice: string): string {
    return buildChatCutTail(this, notice);
  }

  /** The choice's state, created on first sight. */
  choice(index: number): ChatChoiceState {
    let c = this.choices.get(index);
    if (c === undefined) {
      c = {
        index,
        role: false,
        text: false,
        finished: false,
        hiddenTokens: this.info.hiddenReasoning ? null : 0,
        content: new StreamingTokenEstimate(this.exact),
        reasoning: new StreamingTokenEstimate(this.exact),
        toolCalls: new Map(),
        functionCall: null,
      };
      this.choices.set(index, c);
    }
    return c;
  }

  /** The choice stopped thinking (it answers or finished): its hidden reasoning is fixed at what the clock allowed. */
  private endHidden(c: ChatChoiceState): void {
    if (c.hiddenTokens === null) c.hiddenTokens = this.openHidden(this.visibleUnits(c));
  }

  onEvent(ev: SseEvent): void {
    const data = ev.data;
    if (data === '[DONE]') {
      this.sawDone = true;
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    const chunk = asRecord(parsed);
    if (!chunk) return;
    if (chunk['error'] !== undefined && chunk['error'] !== null) {
      const err = asRecord(chunk['error']);
      this.sawError = { type: str(err?.['type']) ?? 'error', message: str(err?.['message']) ?? '' };
      return;
    }
    this.readBase(chunk);
    const choices = chunk['choices'];
    if (Array.isArray(choices)) for (const ch of choices) this.onChoice(asRecord(ch));
    const usage = usageFromChatUsage(chunk['usage']);
    if (usage !== null) {
      Object.assign(this.usage, usage);
      this.hasFinalUsage = true;
      const cost = providerCostFromUsage(chunk['usage']);
      if (cost !== null) this.providerCostNanos = cost;
    }
  }

  private readBase(chunk: Record<string, unknown>): void {
    const b = this.base;
    b.id = str(chunk['id']) ?? b.id;
    b.created = num(chunk['created']) ?? b.created;
    b.model = str(chunk['model']) ?? b.model;
    b.serviceTier = str(chunk['service_tier']) ?? b.serviceTier;
    b.systemFingerprint = str(chunk['system_fingerprint']) ?? b.systemFingerprint;
  }

  private onChoice(ch: Record<string, unknown> | undefined): void {
    if (!ch) return;
    const c = this.choice(num(ch['index']) ?? 0);
    const delta = asRecord(ch['delta']);
    if (delta) this.onDelta(c, delta);
    const finish = ch['finish_reason'];
    if (typeof finish === 'string' && finish !== '') {
      this.endHidden(c);
      c.finished = true;
    }
  }

  private onDelta(c: ChatChoiceState, delta: Record<string, unknown>): void {
    if (typeof delta['role'] === 'string') c.role = true;
    // Streamed reasoning is output, but the model may still be thinking beyond it (summaries): the clock goes on.
    const reasoning = str(delta['reasoning']) ?? str(delta['reasoning_content']);
    if (reasoning) c.reasoning.add(reasoning);
    else {
      const details = delta['reasoning_details'];
      if (Array.isArray(details)) {
        for (const d of details) {
          const r = asRecord(d);
          const t = str(r?.['text']) ?? str(r?.['summary']);
          if (t) c.reasoning.add(t);
        }
      }
    }
    for (const field of ['content', 'refusal'] as const) {
      const t = str(delta[field]);
      if (t) {
        this.endHidden(c);
        c.text = true;
        c.content.add(t);
      }
    }
    const audio = asRecord(delta['audio']);
    const transcript = str(audio?.['transcript']);
    if (transcript) {
      this.endHidden(c);
      c.content.add(transcript);
    }
    const toolCalls = delta['tool_calls'];
    if (Array.isArray(toolCalls)) {
      for (const raw of toolCalls) {
        const tc = asRecord(raw);
        if (!tc) continue;
        this.endHidden(c);
        const index = num(tc['index']) ?? 0;
        let state = c.toolCalls.get(index);
        if (state === undefined) {
          state = { estimate: new StreamingTokenEstimate(this.exact), args: new ToolInputTracker() };
          c.toolCalls.set(index, state);
        }
        this.onFunction(state, asRecord(tc['function']));
      }
    }
    const fc = asRecord(delta['function_call']);
    if (fc) {
      this.endHidden(c);
      c.functionCall ??= { estimate: new StreamingTokenEstimate(this.exact), args: new ToolInputTracker() };
      this.onFunction(c.functionCall, fc);
    }
  }

  private onFunction(state: ChatToolCallState, fn: Record<string, unknown> | undefined): void {
    const name = str(fn?.['name']);
    if (name) state.estimate.add(name);
    const args = str(fn?.['arguments']);
    if (args) {
      state.estimate.add(args);
      state.args.feed(args);
    }
  }
}

/**
 * What the client gets for one event when spendcap asked for usage it did not: the usage chunk
 * (`choices: []`) is dropped, and the `"usage":null` OpenAI adds to every other chunk is removed,
 * so the bytes are those the client would have had without spendcap.
 */
export function stripHiddenUsage(ev: SseEvent): string {
  const data = ev.data;
  if (data === '[DONE]' || !data.includes('"usage"')) return encodeSseEvent(ev.event, data);
  // OpenAI's own shape: the key last in the top-level object (its closing brace follows), no parse needed.
  if (data.endsWith(USAGE_NULL_LAST)) return encodeSseEvent(ev.event, data.slice(0, -USAGE_NULL_LAST.length) + '}');
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return encodeSseEvent(ev.event, data);
  }
  const chunk = asRecord(parsed);
  if (!chunk || !('usage' in chunk)) return encodeSseEvent(ev.event, data);
  const choices = chunk['choices'];
  if (chunk['usage'] !== null && Array.isArray(choices) && choices.length === 0) return '';
  return encodeSseEvent(ev.event, withoutUsageKey(data, chunk));
}

const USAGE_NULL = '"usage":null';
const USAGE_NULL_LAST = ',"usage":null}';

/** The chunk's JSON without its top-level usage key, keeping every other byte when the key is the compact `"usage":null`. */
function withoutUsageKey(data: string, chunk: Record<string, unknown>): string {
  if (chunk['usage'] === null) {
    const at = data.indexOf(USAGE_NULL);
    // JSON strings escape their quotes, so the one occurrence is a key; checked to be the top-level one.
    if (at !== -1 && data.indexOf(USAGE_NULL, at + 1) === -1) {
      const end = at + USAGE_NULL.length;
      const out = data[at - 1] === ',' ? data.slice(0, at - 1) + data.slice(end) : data[end] === ',' ? data.slice(0, at) + data.slice(end + 1) : null;
      if (out !== null && isChunkWithoutUsage(out)) return out;
    }
  }
  const { usage: _usage, ...rest } = chunk;
  return JSON.stringify(rest);
}

function isChunkWithoutUsage(json: string): boolean {
  try {
    const o = asRecord(JSON.parse(json));
    return o !== undefined && !('usage' in o);
  } catch {
    return false;
  }
}
