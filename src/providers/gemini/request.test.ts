import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGeminiRequest, thinkingCapFor } from './request.js';
import type { GeminiRequestInfo } from './request.js';

const SSE = new URLSearchParams('alt=sse');
const NONE = new URLSearchParams('');
const body = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
const hello = { contents: [{ role: 'user', parts: [{ text: 'Say hello.' }] }] };

function ok(b: Buffer, path: string, q = NONE): GeminiRequestInfo {
  const r = parseGeminiRequest(b, path, q);
  assert.ok(!('code' in r), `unexpected error: ${'message' in r ? r.message : ''}`);
  return r;
}
function err(b: Buffer, path: string, q = NONE): string {
  const r = parseGeminiRequest(b, path, q);
  assert.ok('code' in r && r.code === 'E_BAD_REQUEST');
  return r.message;
}

test('model and stream come from the path, under /v1beta, /v1 and /v1alpha', () => {
  const a = ok(body(hello), '/v1beta/models/gemini-2.5-flash:generateContent');
  assert.deepEqual([a.model, a.stream], ['gemini-2.5-flash', false]);
  const b = ok(body(hello), '/v1/models/gemini-2.5-pro:streamGenerateContent', SSE);
  assert.deepEqual([b.model, b.stream], ['gemini-2.5-pro', true]);
  const c = ok(body(hello), '/v1alpha/models/gemini%2D3-pro-preview:streamGenerateContent', SSE);
  assert.equal(c.model, 'gemini-3-pro-preview');
  assert.equal(a.cacheWriteTtl, 'none');
  assert.equal(a.candidateCount, 1);
});

test('a stream without alt=sse (a JSON array) is refused with a message saying what to do', () => {
  assert.match(err(body(hello), '/v1beta/models/gemini-2.5-flash:streamGenerateContent'), /alt=sse/);
  assert.match(err(body(hello), '/v1beta/models/gemini-2.5-flash:streamGenerateContent', new URLSearchParams('alt=json')), /alt=sse/);
});

test('bad bodies and fields are refused', () => {
  const p = '/v1beta/models/gemini-2.5-flash:generateContent';
  assert.match(err(Buffer.alloc(0), p), /empty/);
  assert.match(err(Buffer.from('{'), p), /not valid JSON/);
  assert.match(err(Buffer.from('[1]'), p), /JSON object/);
  assert.match(err(body({ ...hello, generationConfig: { maxOutputTokens: 0 } }), p), /maxOutputTokens/);
  assert.match(err(body({ ...hello, generationConfig: { maxOutputTokens: 1.5 } }), p), /maxOutputTokens/);
  assert.match(err(body({ ...hello, generationConfig: { candidateCount: 9 } }), p), /candidateCount/);
  assert.match(err(body({ ...hello, toolConfig: { functionCallingConfig: { streamFunctionCallArguments: true } } }), p), /streamed function-call arguments/);
  assert.match(err(body(hello), '/v1beta/models/x:countTokens'), /not a Gemini generate path/);
});

test('maxTokens: maxOutputTokens plus the thinking the request allows, times the candidates', () => {
  const p = (m: string) => `/v1beta/models/${m}:generateContent`;
  // a budget given: the cap with its overflow allowance
  assert.equal(ok(body({ ...hello, generationConfig: { maxOutputTokens: 1000, thinkingConfig: { thinkingBudget: 1024 } } }), p('gemini-2.5-flash')).maxTokens, 1000 + thinkingCapFor(1024));
  assert.equal(ok(body({ ...hello, generationConfig: { maxOutputTokens: 1000, thinkingConfig: { thinkingBudget: 0 } } }), p('gemini-2.5-flash')).maxTokens, 1000);
  // no budget (or dynamic -1): the model's largest thinking budget
  assert.equal(ok(body({ ...hello, generationConfig: { maxOutputTokens: 1000 } }), p('gemini-2.5-flash')).maxTokens, 1000 + 24_576);
  assert.equal(ok(body({ ...hello, generationConfig: { maxOutputTokens: 1000, thinkingConfig: { thinkingBudget: -1 } } }), p('gemini-2.5-pro')).maxTokens, 1000 + 32_768);
  assert.equal(ok(body({ ...hello, generationConfig: { maxOutputTokens: 1000, thinkingConfig: { thinkingLevel: 'low' } } }), p('gemini-3-pro-preview')).maxTokens, 1000 + 32_768);
  // no maxOutputTokens: the model's output ceiling; 2.0 does not think
  assert.equal(ok(body(hello), p('gemini-2.5-flash')).maxTokens, 65_536 + 24_576);
  assert.equal(ok(body(hello), p('gemini-2.0-flash')).maxTokens, 8192);
  // snake_case (the REST API's proto names) is read too
  assert.equal(ok(body({ ...hello, generation_config: { max_output_tokens: 50, thinking_config: { thinking_budget: 0 }, candidate_count: 2 } }), p('gemini-2.5-flash')).maxTokens, 100);
});

test('thinkingCap: null without a budget, the padded budget with one', () => {
  const p = '/v1beta/models/gemini-2.5-flash:streamGenerateContent';
  assert.equal(ok(body(hello), p, SSE).thinkingCap, null);
  assert.equal(ok(body({ ...hello, generationConfig: { thinkingConfig: { thinkingBudget: -1 } } }), p, SSE).thinkingCap, null);
  assert.equal(ok(body({ ...hello, generationConfig: { thinkingConfig: { thinkingBudget: 0 } } }), p, SSE).thinkingCap, 0);
  assert.equal(ok(body({ ...hello, generationConfig: { thinkingConfig: { thinkingBudget: 1000 } } }), p, SSE).thinkingCap, 1506);
  assert.equal(ok(body({ ...hello, generationConfig: { candidateCount: 3 } }), p, SSE).candidateCount, 3);
});

test('the input estimate is above the real count: text by bytes, media by size with a floor, cached content and file references by allowance', () => {
  const p = '/v1beta/models/gemini-2.5-flash:generateContent';
  const text = 'The quick brown fox jumps over the lazy dog. '.repeat(100); // ~1000 real tokens
  const t = ok(body({ contents: [{ role: 'user', parts: [{ text }] }] }), p).estimatedInputTokens;
  assert.ok(t >= 1000 && t < 2500, `text estimate ${t}`);
  const image = 'A'.repeat(40_000);
  const i = ok(body({ contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'image/png', data: image } }] }] }), p).estimatedInputTokens;
  assert.ok(i >= 1200 && i < 1400, `image estimate ${i}: the base64 is not counted as text`);
  const pdf = ok(body({ contents: [{ role: 'user', parts: [{ inline_data: { mime_type: 'application/pdf', data: image } }] }] }), p).estimatedInputTokens;
  assert.ok(pdf >= 40_000 / 3, `pdf estimate ${pdf}`);
  const file = ok(body({ contents: [{ role: 'user', parts: [{ fileData: { mimeType: 'video/mp4', fileUri: 'https://x/y' } }] }] }), p).estimatedInputTokens;
  assert.ok(file >= 50_000);
  const cached = ok(body({ ...hello, cachedContent: 'cachedContents/abc' }), p).estimatedInputTokens;
  assert.ok(cached >= 50_000);
  const cjk = ok(body({ contents: [{ role: 'user', parts: [{ text: '日本語の文章'.repeat(100) }] }] }), p).estimatedInputTokens;
  assert.ok(cjk >= 600 * 1.5);
});
