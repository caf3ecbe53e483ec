import { randomBytes } from 'node:crypto';
import { encodeSseEvent } from '../../proxy/sse.js';
import type { OpenItem, ResponsesStreamMeter } from './responses-meter.js';

/**
 * The SSE text that ends a Responses stream spendcap cut, after the last whole event it forwarded.
 *
 * It ends with `response.incomplete` whose `incomplete_details.reason` is the notice: Codex CLI
 * treats it as final (no reconnect, no retry, exit 1) and prints the reason; the openai SDK's
 * ResponseStream resolves finalResponse() with status "incomplete" (docs/codex-experiment.md, C6).
 * Before it, an open message is closed as it stands (text done, part done, item "incomplete").
 * Any other open item stays open and is left out of the final output: an agent runs a
 * function_call when its output_item.done arrives, and a call cut mid-arguments must never run
 * (E2). The usage is what spendcap charged: the input estimate and the metered output.
 *
 * Returns '' when the stream already ended (a terminal event was forwarded).
 */
export function buildResponsesCutTail(meter: ResponsesStreamMeter, notice: string): string {
  if (meter.terminal !== null) return '';
  const event = (type: string, payload: Record<string, unknown>): string =>
    // Every event carries its `event:` line, as the provider's do.
    encodeSseEvent(type, JSON.stringify({ type, ...payload, sequence_number: meter.nextSequence() }));

  let out = '';
  let base = meter.lastResponse;
  if (base === null) {
    base = syntheticResponse(meter.model ?? meter.request.model);
    out += event('response.created', { response: base });
  }

  const output = new Map(meter.doneItems);
  const open = [...meter.openItems.values()].sort((a, b) => a.index - b.index);
  for (const it of open) {
    if (it.type !== 'message') continue;
    const item = closeMessage(it);
    out += partClosers(it);
    out += event('response.output_item.done', { output_index: it.index, item });
    output.set(it.index, item);
  }

  const u = meter.usage;
  const input = u.inputTokens + u.cacheReadTokens + u.cacheWrite5mTokens + u.cacheWrite1hTokens;
  const outputTokens = meter.outputTokensForHold();
  out += event('response.incomplete', {
    response: {
      ...base,
      status: 'incomplete',
      error: null,
      incomplete_details: { reason: notice },
      output: [...output.entries()].sort((a, b) => a[0] - b[0]).map(([, item]) => item),
      usage: {
        input_tokens: input,
        input_tokens_details: { cached_tokens: u.cacheReadTokens },
        output_tokens: outputTokens,
        output_tokens_details: { reasoning_tokens: Math.min(outputTokens, meter.hiddenReasoningTokens) },
        total_tokens: input + outputTokens,
      },
    },
  });
  return out;

  function partClosers(it: OpenItem): string {
    const p = it.part;
    if (p === null) return '';
    const ids = { item_id: str(it.item['id']), output_index: it.index, content_index: p.index };
    const part = closedPart(p.type, p.text);
    const done = p.type === 'refusal' ? event('response.refusal.done', { ...ids, refusal: p.text }) : event('response.output_text.done', { ...ids, text: p.text, logprobs: [] });
    return done + event('response.content_part.done', { ...ids, part });
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function closedPart(type: string, text: string): Record<string, unknown> {
  return type === 'refusal' ? { type: 'refusal', refusal: text } : { type: 'output_text', text, annotations: [], logprobs: [] };
}

/** The open message item as its output_item.done carries it: the parts seen, the open one as it stands. */
function closeMessage(it: OpenItem): Record<string, unknown> {
  const content = [...it.parts];
  if (it.part !== null) content[it.part.index] = closedPart(it.part.type, it.part.text);
  return { ...it.item, status: 'incomplete', content: content.filter((p) => p !== undefined) };
}

/** A response object for a stream cut before the provider sent response.created. */
function syntheticResponse(model: string): Record<string, unknown> {
  return {
    id: `resp_spendcap_cut_${randomBytes(12).toString('hex')}`,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: 'in_progress',
    error: null,
    incomplete_details: null,
    model,
    output: [],
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    usage: null,
    metadata: {},
  };
}
