import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_OUTPUT_TOKENS, parseChatRequest, withIncludeUsage } from './chat-request.js';
import type { ChatRequestInfo } from './chat-request.js';

function parse(body: unknown): ChatRequestInfo {
  const r = parseChatRequest(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), () => 1000);
  if ('code' in r) throw new Error(r.message);
  return r;
}

function error(body: string): string {
  const r = parseChatRequest(Buffer.from(body));
  assert.ok('code' in r, 'expected a refusal');
  assert.equal(r.code, 'E_BAD_REQUEST');
  return r.message;
}

const msgs = [{ role: 'user', content: 'hello' }];

test('max tokens: max_completion_tokens, then max_tokens, then the largest output any OpenAI model allows; n multiplies it', () => {
  assert.equal(parse({ model: 'gpt-4o', messages: msgs, max_completion_tokens: 100, max_tokens: 50 }).maxTokens, 100);
  assert.equal(parse({ model: 'gpt-4o', messages: msgs, max_tokens: 50 }).maxTokens, 50);
  assert.equal(parse({ model: 'gpt-4o', messages: msgs, max_tokens: null }).maxTokens, DEFAULT_MAX_OUTPUT_TOKENS);
  assert.equal(DEFAULT_MAX_OUTPUT_TOKENS, 128_000);
  const three = parse({ model: 'gpt-4o', messages: msgs, max_tokens: 50, n: 3 });
  assert.equal(three.maxTokens, 150);
  assert.equal(three.choices, 3);
});

test('refuses what OpenAI would refuse before spending: no model, bad limits, not JSON', () => {
  assert.match(error(''), /empty/);
  assert.match(error('{'), /not valid JSON/);
  assert.match(error('[]'), /JSON object/);
  assert.match(error('{"messages":[]}'), /missing "model"/);
  assert.match(error('{"model":""}'), /non-empty/);
  assert.match(error('{"model":"gpt-4o","max_tokens":0}'), /max_tokens/);
  assert.match(error('{"model":"gpt-4o","max_completion_tokens":1.5}'), /max_completion_tokens/);
  assert.match(error('{"model":"gpt-4o","n":-1}'), /"n"/);
});

test('a stream without include_usage asks the provider for usage and marks it hidden; the rest of the body is byte-identical', () => {
  const raw = '{"model":"gpt-4o","seed":12345678901234567890,"temperature":1.0,"stream":true,"messages":[{"role":"user","content":"hi"}]}';
  const info = parse(raw);
  assert.equal(info.stream, true);
  assert.equal(info.includeUsage, false);
  assert.equal(info.hiddenUsage, true);
  const up = info.upstreamBody!.toString();
  assert.equal(up, '{"stream_options":{"include_usage":true},' + raw.slice(1));
  assert.deepEqual((JSON.parse(up) as { stream_options: unknown }).stream_options, { include_usage: true });
});

test('include_usage already asked: the body goes as it came and nothing is hidden', () => {
  const info = parse({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: msgs });
  assert.equal(info.includeUsage, true);
  assert.equal(info.hiddenUsage, undefined);
  assert.equal(info.upstreamBody, undefined);
});

test('stream_options without include_usage (or false) keeps its other fields', () => {
  const info = parse({ model: 'gpt-4o', stream: true, stream_options: { include_usage: false, include_obfuscation: false }, messages: msgs });
  assert.equal(info.hiddenUsage, true);
  const up = JSON.parse(info.upstreamBody!.toString()) as { stream_options: unknown };
  assert.deepEqual(up.stream_options, { include_usage: true, include_obfuscation: false });
  assert.equal(withIncludeUsage(Buffer.from(' {}'), {}).toString(), ' {"stream_options":{"include_usage":true}}');
});

test('a non-streamed request is sent as it came', () => {
  const info = parse({ model: 'gpt-4o', messages: msgs });
  assert.equal(info.stream, false);
  assert.equal(info.upstreamBody, undefined);
  assert.equal(info.hiddenUsage, undefined);
});

test('hidden reasoning: o-series and gpt-5 by name (also behind a router), any model with reasoning_effort or a reasoning object', () => {
  for (const model of ['o3', 'o4-mini', 'o1-2024-12-17', 'gpt-5', 'gpt-5-mini', 'openai/gpt-5.1', 'codex-mini-latest']) {
    assert.equal(parse({ model, messages: msgs }).hiddenReasoning, true, model);
  }
  for (const model of ['gpt-4o', 'gpt-4.1-mini', 'meta-llama/llama-3.3-70b', 'anthropic/claude-sonnet-4.5']) {
    assert.equal(parse({ model, messages: msgs }).hiddenReasoning, false, model);
  }
  assert.equal(parse({ model: 'deepseek-r1', messages: msgs, reasoning_effort: 'high' }).hiddenReasoning, true);
  assert.equal(parse({ model: 'anthropic/claude-sonnet-4.5', messages: msgs, reasoning: { max_tokens: 2000 } }).hiddenReasoning, true);
  assert.equal(parse({ model: 'gpt-5', messages: msgs }).receivedAt, 1000);
});

test('the input estimate is an upper bound: text at 2.5 bytes/token, images by count not base64 size, audio and files apart', () => {
  const prose = 'The proxy holds money for every request before it reaches the provider, and settles it after. '.repeat(40);
  const text = parse({ model: 'gpt-4o', messages: [{ role: 'user', content: prose }] });
  // o200k gives about 19 tokens per sentence: 760 for the prose.
  assert.ok(text.estimatedInputTokens >= 760 * 1.3, `estimate ${text.estimatedInputTokens}`);
  assert.ok(text.estimatedInputTokens <= Buffer.byteLength(JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: prose }] })) / 2);

  const b64 = 'A'.repeat(400_000);
  const img = parse({ model: 'gpt-4.1', messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${b64}` } }] }] });
  assert.ok(img.estimatedInputTokens >= 10_000 && img.estimatedInputTokens < 10_200, `image estimate ${img.estimatedInputTokens}`);
  const mini = parse({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'high' } }] }] });
  assert.ok(mini.estimatedInputTokens >= 50_000, 'gpt-4o-mini bills images at ~33× the tokens');

  const file = parse({ model: 'gpt-4.1', messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }] });
  assert.ok(file.estimatedInputTokens >= 50_000);

  const cjk = parse({ model: 'gpt-4o', messages: [{ role: 'user', content: '预算'.repeat(1000) }] });
  assert.ok(cjk.estimatedInputTokens >= 2000 * 1.35, `cjk estimate ${cjk.estimatedInputTokens}`);
});

test('audio in or out is refused: its tokens have prices spendcap does not meter', () => {
  const audioIn = { model: 'gpt-4o-audio-preview', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'mp3' } }] }] };
  assert.match(error(JSON.stringify(audioIn)), /cannot cap audio/);
  assert.match(error(JSON.stringify({ model: 'gpt-4o-audio-preview', messages: msgs, modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'wav' } })), /cannot cap audio/);
});

test('a prediction is held as output from the start (rejected prediction tokens are billed, not streamed)', () => {
  assert.equal(parse({ model: 'gpt-4o', messages: msgs }).predictionTokens, 0);
  const code = 'function add(a, b) {\n  return a + b;\n}\n'.repeat(20);
  const p = parse({ model: 'gpt-4o', messages: msgs, prediction: { type: 'content', content: code } });
  assert.ok(p.predictionTokens >= 200, `${p.predictionTokens}`);
  const parts = parse({ model: 'gpt-4o', messages: msgs, prediction: { type: 'content', content: [{ type: 'text', text: code }] } });
  assert.equal(parts.predictionTokens, p.predictionTokens);
});
