import { randomBytes } from 'node:crypto';
import { encodeSseEvent } from '../../proxy/sse.js';
import type { AnthropicStreamMeter } from './stream-meter.js';

/**
 * stop_reason of a stream spendcap cut. Not in the SDK's StopReason enum: the SDKs assign it
 * verbatim (no runtime validation), and a value of its own tells clients the turn did not end
 * normally. The one place to change it.
 */
export const CUT_STOP_REASON = 'cap_reached';

function event(type: string, payload: Record<string, unknown>): string {
  // Every event carries its `event:` line: the SDKs drop data-only events.
  return encodeSseEvent(type, JSON.stringify({ type, ...payload }));
}

function textBlock(index: number, text: string): string {
  return (
    event('content_block_start', { index, content_block: { type: 'text', text: '' } }) +
    event('content_block_delta', { index, delta: { type: 'text_delta', text } }) +
    event('content_block_stop', { index })
  );
}

/**
 * The SSE text spendcap appends after the last complete event it forwarded, so the client sees a
 * well-formed end of message: the open block closed, the notice as text, a message_delta with
 * `stopReason` and usage, and message_stop.
 *
 * A tool_use block cut mid-input gets one more input_json_delta first that makes its input valid
 * JSON with every field seen set to null plus `"spendcap_truncated": true`: the SDK resolves the
 * message, and a client that runs finished tool calls rejects this one at schema validation
 * instead of running a truncated command. Other non-text blocks (thinking, server tools) are just
 * closed. The notice then goes in a new text block, because text cannot be appended to them.
 *
 * Returns '' when the message already ended (message_stop or an error event was forwarded).
 */
export function buildCutTail(meter: AnthropicStreamMeter, notice: string, stopReason: string): string {
  if (meter.sawMessageStop || meter.sawError) return '';
  // After message_delta no block may start: only the end is missing.
  if (meter.sawMessageDelta) return event('message_stop', {});

  let out = '';
  if (!meter.messageStarted) {
    out += event('message_start', {
      message: {
        id: `msg_spendcap_cut_${randomBytes(12).toString('hex')}`,
        type: 'message',
        role: 'assistant',
        model: meter.model ?? 'unknown',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  const open = meter.openBlock;
  if (open !== null && open.type === 'text') {
    out += event('content_block_delta', { index: open.index, delta: { type: 'text_delta', text: `\n\n${notice}` } });
    out += event('content_block_stop', { index: open.index });
  } else {
    if (open !== null) {
      const closer = open.type === 'tool_use' ? meter.toolInputCloser() : '';
      if (closer !== '') out += event('content_block_delta', { index: open.index, delta: { type: 'input_json_delta', partial_json: closer } });
      out += event('content_block_stop', { index: open.index });
    }
    out += textBlock(meter.nextBlockIndex, notice);
  }

  const u = meter.usage;
  out += event('message_delta', {
    delta: { stop_reason: stopReason, stop_sequence: null },
    // Required: the TS SDK reads usage.output_tokens of every message_delta unconditionally.
    usage: {
      input_tokens: u.inputTokens,
      cache_creation_input_tokens: u.cacheWrite5mTokens + u.cacheWrite1hTokens,
      cache_read_input_tokens: u.cacheReadTokens,
      output_tokens: meter.outputTokensForHold(),
    },
  });
  out += event('message_stop', {});
  return out;
}
