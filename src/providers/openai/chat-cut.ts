import type { ChatStreamMeter } from './chat-stream-meter.js';

/**
 * finish_reason of a stream spendcap cut. Not one of OpenAI's values: openai-node v7 assigns
 * finish_reason verbatim (ChatCompletionStream validates only 'length' and 'content_filter', which
 * it throws on for parsed/strict requests), so `finalChatCompletion()` resolves, and no client
 * mistakes it for a natural end ('length' makes agents ask to continue). The notice itself also
 * reaches the user as content. The one place to change it.
 */
export const CHAT_CUT_FINISH_REASON = 'cap_reached';

function data(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/**
 * The SSE text spendcap appends after the last chunk it forwarded so the client sees a
 * well-formed end, per choice not yet finished:
 * 1. a function call whose arguments were still streaming gets the JSON that closes them, every
 *    field seen set to null plus `"spendcap_truncated": true` (ToolInputTracker): the SDK parses
 *    the call, and an agent that runs it anyway fails schema validation instead of running a
 *    truncated command;
 * 2. the notice as a content delta (with the role, if the choice had not started);
 * 3. a chunk with finish_reason CHAT_CUT_FINISH_REASON.
 * Then the usage chunk if the client asked for one (with the tokens spendcap charged for), then
 * `data: [DONE]`. Returns '' when the stream already ended ([DONE] or an error payload forwarded).
 */
export function buildChatCutTail(meter: ChatStreamMeter, notice: string): string {
  if (meter.sawDone || meter.sawError) return '';
  const info = meter.info;
  const b = meter.base;
  const head = {
    id: b.id ?? `chatcmpl-spendcap-cut-${Date.now().toString(36)}`,
    object: 'chat.completion.chunk',
    created: b.created ?? Math.floor(Date.now() / 1000),
    model: b.model ?? info.model,
    ...(b.serviceTier !== undefined ? { service_tier: b.serviceTier } : {}),
    ...(b.systemFingerprint !== undefined ? { system_fingerprint: b.systemFingerprint } : {}),
  };
  // The client that asked for usage gets "usage": null on every chunk, as OpenAI sends them.
  const nullUsage = info.includeUsage ? { usage: null } : {};
  const chunk = (index: number, delta: Record<string, unknown>, finishReason: string | null = null): string =>
    data({ ...head, choices: [{ index, delta, logprobs: null, finish_reason: finishReason }], ...nullUsage });

  let out = '';
  if (!meter.hasFinalUsage) {
    const count = Math.max(info.choices, ...[...meter.choices.keys()].map((i) => i + 1));
    for (let i = 0; i < count; i++) {
      const c = meter.choices.get(i);
      if (c?.finished) continue;
      if (c) {
        for (const [index, call] of c.toolCalls) {
          const closer = call.args.closer();
          if (closer !== '') out += chunk(i, { tool_calls: [{ index, function: { arguments: closer } }] });
        }
        const fnCloser = c.functionCall?.args.closer() ?? '';
        if (fnCloser !== '') out += chunk(i, { function_call: { arguments: fnCloser } });
      }
      out += chunk(i, { ...(c?.role ? {} : { role: 'assistant' }), content: c?.text ? `\n\n${notice}` : notice });
      out += chunk(i, {}, CHAT_CUT_FINISH_REASON);
    }
    if (info.includeUsage) {
      const u = meter.usage;
      const output = meter.outputTokensForHold();
      const prompt = meter.inputKnown ? u.inputTokens + u.cacheReadTokens + u.cacheWrite5mTokens + u.cacheWrite1hTokens : info.estimatedInputTokens;
      out += data({
        ...head,
        choices: [],
        usage: {
          prompt_tokens: prompt,
          completion_tokens: output,
          total_tokens: prompt + output,
          prompt_tokens_details: { cached_tokens: meter.inputKnown ? u.cacheReadTokens : 0 },
          completion_tokens_details: { reasoning_tokens: 0 },
        },
      });
    }
  }
  return out + 'data: [DONE]\n\n';
}
