// The admission estimate of OpenAI requests with the real tokenizer: an upper bound of the prompt on
// text it was never tuned on (code, JSON, base64, hashes, CJK, emoji), and within 1.6× of it cold.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { countTokens as o200k } from 'gpt-tokenizer/encoding/o200k_base';
import { countTokens as cl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { kindsOfText } from '../../proxy/token-samples.js';
import { parseChatRequest } from './chat-request.js';
import { parseResponsesRequest } from './responses-request.js';
import { encodingOf, openaiBodyTextTokens, whenExactTokenizerReady } from './exact-tokens.js';
import { bodyTextTokens } from '../request-body.js';

/**
 * What OpenAI bills for a chat prompt, by its published rule: each message's content in the model's
 * tokenizer, 3 tokens of framing per message (4 counted here, role included) and 3 to prime the reply.
 */
function chatPromptTokens(count: (t: string) => number, messages: Array<{ role: string; content: string }>): number {
  return messages.reduce((n, m) => n + 4 + count(m.content), 3);
}

function hashes(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(createHash('sha256').update(String(i)).digest('hex'));
  return out.join('\n');
}

const texts = (): Array<{ name: string; text: string }> => [...kindsOfText().map((s) => ({ name: s.name, text: s.text })), { name: 'sha256 hashes', text: hashes(40) }];

before(async () => {
  await whenExactTokenizerReady('gpt-4o');
  await whenExactTokenizerReady('gpt-4');
});

test('encodings: o200k for gpt-4o, 4.1, 5, o-series and codex; cl100k for gpt-4 and 3.5; none for other vendors', () => {
  for (const m of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-5', 'o3', 'o4-mini', 'codex-mini-latest', 'openai/gpt-5']) assert.equal(encodingOf(m), 'o200k_base', m);
  for (const m of ['gpt-4', 'gpt-4-turbo', 'gpt-3.5-turbo']) assert.equal(encodingOf(m), 'cl100k_base', m);
  for (const m of ['anthropic/claude-sonnet-4.5', 'gpt-oss-120b', 'meta-llama/llama-3.3-70b']) assert.equal(encodingOf(m), null, m);
});

test('Chat Completions: the estimate covers the real prompt on every kind of text, and stays within 1.6× of it', () => {
  for (const model of ['gpt-4o', 'gpt-4']) {
    const count = model === 'gpt-4' ? cl100k : o200k;
    for (const { name, text } of texts()) {
      const messages = [
        { role: 'system', content: 'You are a careful assistant.' },
        { role: 'user', content: text },
      ];
      const info = parseChatRequest(Buffer.from(JSON.stringify({ model, stream: true, messages })));
      assert.ok(!('code' in info));
      const real = chatPromptTokens(count, messages);
      const ratio = info.estimatedInputTokens / real;
      assert.ok(info.estimatedInputTokens >= real, `${model} ${name}: estimate ${info.estimatedInputTokens} < real ${real}`);
      assert.ok(ratio <= 1.6, `${model} ${name}: estimate ${ratio.toFixed(2)}× the real prompt`);
    }
  }
});

test('Responses: the same bound on a Codex-like body (instructions, tools, code and JSON in the input)', () => {
  const instructions = kindsOfText().map((s) => s.text).join('\n\n');
  const tools = [{ type: 'function', name: 'shell', description: 'Runs a shell command and returns its output.', parameters: { type: 'object', properties: { command: { type: 'array', items: { type: 'string' } }, workdir: { type: 'string' } }, required: ['command'] } }];
  const input = [{ role: 'user', content: [{ type: 'input_text', text: hashes(10) }] }];
  const body = Buffer.from(JSON.stringify({ model: 'gpt-5', instructions, input, tools, stream: true }));
  const info = parseResponsesRequest(body);
  assert.ok(!('code' in info));
  // Real: every text in the model's tokenizer, plus framing; the tool's schema as JSON is more than its rendered form.
  const real = o200k(instructions) + o200k(input[0]!.content[0]!.text) + o200k(JSON.stringify(tools)) + 12;
  const byRule = bodyTextTokens(body, 0);
  console.log(`# FIGURE Responses Codex-like body: estimate/real ${(info.estimatedInputTokens / real).toFixed(3)} (byte rule alone ${(byRule / real).toFixed(3)})`);
  assert.ok(info.estimatedInputTokens >= real);
  assert.ok(info.estimatedInputTokens / real <= 1.6);
});

test('a media payload is left to its own rule; other vendors keep the byte rule', () => {
  const body = Buffer.from(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${'QUJD'.repeat(400)}` } }, { type: 'text', text: 'what is it?' }] }] }));
  const b64 = 'QUJD'.length * 400;
  const exact = openaiBodyTextTokens(body, b64, 'gpt-4o');
  assert.ok(exact < 100, `the base64 payload is left to the image rule (${exact})`);
  const other = Buffer.from(JSON.stringify({ model: 'meta-llama/llama-3.3-70b', messages: [{ role: 'user', content: 'hi' }] }));
  assert.equal(openaiBodyTextTokens(other, 0, 'meta-llama/llama-3.3-70b'), bodyTextTokens(other, 0));
});

test('a body counted in cached segments gives exactly the whole body count, first time, again, and as the conversation grows', () => {
  for (const model of ['gpt-4o', 'gpt-4']) {
    const count = model === 'gpt-4' ? cl100k : o200k;
    const messages: Array<Record<string, unknown>> = [{ role: 'system', content: 'You are a careful assistant.' }];
    // Every kind of text as a turn, with tool calls and nested objects: many `{"` cut points, keys of every shape.
    for (const [i, { text }] of texts().entries()) {
      messages.push({ role: 'user', content: text });
      messages.push({ role: 'assistant', content: null, tool_calls: [{ id: `call_${i}`, type: 'function', function: { name: 'read', arguments: JSON.stringify({ path: `src/${i}.ts`, opts: { Deep: { x: i } } }) } }] });
      messages.push({ role: 'tool', tool_call_id: `call_${i}`, content: `{"ok":true,"lines":${i}}` });
      const text2 = JSON.stringify({ model, messages, tools: [{ type: 'function', function: { name: 'read', parameters: { type: 'object', properties: { path: { type: 'string' } } } } }] });
      const body = Buffer.from(text2);
      const whole = count(text2);
      const first = openaiBodyTextTokens(body, 0, model);
      assert.equal(first - whole, openaiBodyTextTokens(Buffer.from('{"a":1}'), 0, model) - count('{"a":1}'), `${model}, ${messages.length} messages: segments sum to the whole count`);
      assert.equal(openaiBodyTextTokens(body, 0, model), first, 'the same body again (from the cache)');
    }
  }
});
