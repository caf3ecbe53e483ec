// The tokenizer factors, checked by their effect: after a stream of each kind of text, every
// provider's meter holds at least what the real model plausibly bills for it at worst. The true
// counts come from independent tokenizers (frozen in token-samples.ts) times each family's stated
// worst ratio, never from the factors themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SseEvent } from '../proxy/sse-types.js';
import { kindsOfText, worstCaseTokens } from '../proxy/token-samples.js';
import type { TokenizerFamily } from '../proxy/token-samples.js';
import { AnthropicStreamMeter } from './anthropic/stream-meter.js';
import { tokenizerFactor as claudeFactor } from './anthropic/tokenizer.js';
import { ChatStreamMeter } from './openai/chat-stream-meter.js';
import { parseChatRequest } from './openai/chat-request.js';
import { GeminiStreamMeter } from './gemini/stream-meter.js';

/** About one token per delta, as real streams send them. */
function deltas(text: string): string[] {
  return text.match(/\s*\S+|\s+/g) ?? [];
}
const ev = (event: string | undefined, o: unknown): SseEvent => ({ event, data: JSON.stringify(o) });
const frozen = (): number => 1000;

function anthropicHold(model: string, text: string): number {
  const m = new AnthropicStreamMeter(claudeFactor(model), frozen);
  m.onEvent(ev('message_start', { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model, content: [], stop_reason: null, usage: { input_tokens: 10, output_tokens: 1 } } }));
  m.onEvent(ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
  for (const d of deltas(text)) m.onEvent(ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: d } }));
  return m.outputTokensForHold();
}

function openaiHold(model: string, text: string): number {
  const info = parseChatRequest(Buffer.from(JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] })), frozen);
  if ('code' in info) throw new Error(info.message);
  const m = new ChatStreamMeter(info, frozen);
  for (const d of deltas(text)) m.onEvent(ev(undefined, { id: 'c1', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: { content: d }, finish_reason: null }] }));
  return m.outputTokensForHold();
}

function geminiHold(text: string): number {
  const m = new GeminiStreamMeter({ thinkingCap: 0, candidateCount: 1 }, frozen);
  for (const d of deltas(text)) m.onEvent(ev(undefined, { candidates: [{ content: { parts: [{ text: d }], role: 'model' }, index: 0 }], usageMetadata: { promptTokenCount: 10 }, modelVersion: 'gemini-2.5-flash' }));
  return m.outputTokensForHold();
}

const CASES: Array<{ model: string; family: TokenizerFamily; hold: (text: string) => number }> = [
  { model: 'claude-sonnet-4-5', family: 'claude-older', hold: (t) => anthropicHold('claude-sonnet-4-5', t) },
  { model: 'claude-opus-4-6', family: 'claude-older', hold: (t) => anthropicHold('claude-opus-4-6', t) },
  { model: 'claude-opus-4-7', family: 'claude-newer', hold: (t) => anthropicHold('claude-opus-4-7', t) },
  { model: 'claude-sonnet-5', family: 'claude-newer', hold: (t) => anthropicHold('claude-sonnet-5', t) },
  { model: 'gpt-4o (chat)', family: 'openai', hold: (t) => openaiHold('gpt-4o', t) },
  { model: 'anthropic/claude-sonnet-4.5 (router)', family: 'claude-older', hold: (t) => openaiHold('anthropic/claude-sonnet-4.5', t) },
  { model: 'anthropic/claude-opus-4.7 (router)', family: 'claude-newer', hold: (t) => openaiHold('anthropic/claude-opus-4.7', t) },
  { model: 'mistralai/mistral-large (router)', family: 'open-weight', hold: (t) => openaiHold('mistralai/mistral-large', t) },
  { model: 'meta-llama/llama-3.3-70b (router)', family: 'open-weight', hold: (t) => openaiHold('meta-llama/llama-3.3-70b', t) },
  { model: 'gemini-2.5-flash', family: 'gemini', hold: geminiHold },
];

for (const c of CASES) {
  test(`${c.model}: after English, code, JSON, base64, CJK and emoji, the hold covers the worst plausible ${c.family} count`, () => {
    for (const s of kindsOfText()) {
      const hold = c.hold(s.text);
      const worst = worstCaseTokens(c.family, s);
      assert.ok(hold >= worst, `${s.name}: hold ${hold} < worst real count ${worst}`);
    }
  });
}
