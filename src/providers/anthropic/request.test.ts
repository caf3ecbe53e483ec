import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessagesRequest } from './request.js';
import type { MessagesRequestError, MessagesRequestInfo } from './request.js';

function ok(body: unknown): MessagesRequestInfo {
  const r = parseMessagesRequest(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
  assert.ok(!('code' in r), `unexpected error: ${'message' in r ? r.message : ''}`);
  return r;
}

function err(body: string): MessagesRequestError {
  const r = parseMessagesRequest(Buffer.from(body));
  assert.ok('code' in r);
  assert.equal(r.code, 'E_BAD_REQUEST');
  assert.equal(r.status, 400);
  return r;
}

const base = { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }] };

test('reads model, stream and max_tokens', () => {
  const r = ok({ ...base, stream: true });
  assert.equal(r.model, 'claude-sonnet-4-5');
  assert.equal(r.stream, true);
  assert.equal(r.maxTokens, 1024);
  assert.equal(r.cacheWriteTtl, 'none');
  assert.equal(ok(base).stream, false);
  assert.ok(r.estimatedInputTokens > 0);
});

test('user-actionable 400s', () => {
  assert.match(err('{"model": ').message, /^request body is not valid JSON: /);
  assert.match(err('').message, /empty/);
  assert.match(err('[1,2]').message, /must be a JSON object/);
  assert.equal(err(JSON.stringify({ max_tokens: 10, messages: [] })).message, 'missing "model"');
  assert.match(err(JSON.stringify({ model: 7, max_tokens: 10 })).message, /"model" must be a non-empty string/);
  assert.match(err(JSON.stringify({ model: 'm', messages: [] })).message, /missing "max_tokens"/);
  for (const bad of [0, -5, 1.5, '100', null, 1e300]) {
    const m = bad === null ? /missing "max_tokens"/ : /^"max_tokens" must be a positive integer$/;
    assert.match(err(JSON.stringify({ model: 'm', max_tokens: bad })).message, m, String(bad));
  }
});

test('cache_control: 1h anywhere wins, else 5m, else none', () => {
  const cached = { ...base, system: [{ type: 'text', text: 'You are helpful.', cache_control: { type: 'ephemeral' } }] };
  assert.equal(ok(cached).cacheWriteTtl, '5m');
  const oneHour = {
    ...cached,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi', cache_control: { type: 'ephemeral', ttl: '1h' } }] }],
  };
  assert.equal(ok(oneHour).cacheWriteTtl, '1h');
  const inTool = { ...base, tools: [{ name: 't', input_schema: { type: 'object' }, cache_control: { type: 'ephemeral', ttl: '5m' } }] };
  assert.equal(ok(inTool).cacheWriteTtl, '5m');
});

test('text is estimated from its bytes: ≥ 1.2× a dense real count, and about 1.6× on a Claude Code-like body', () => {
  // ~4 bytes/token is what Claude Code bodies measure (115 KB ≈ 28.7k tokens).
  const filler = 'You are an interactive CLI tool that helps users with software engineering tasks. '.repeat(1400);
  const body = JSON.stringify({ ...base, system: filler });
  const r = ok(body);
  const real = body.length / 4;
  assert.ok(r.estimatedInputTokens >= 1.3 * real && r.estimatedInputTokens <= 1.7 * real, `${r.estimatedInputTokens} vs ~${real}`);
});

test('non-ASCII text counts per character (CJK ≥ 1.35 tokens/char, emoji more)', () => {
  const zh = '天空之所以是蓝色的是因为一种叫做瑞利散射的现象'.repeat(100);
  const r = ok({ ...base, messages: [{ role: 'user', content: zh }] });
  assert.ok(r.estimatedInputTokens >= zh.length * 1.35);
  const emoji = '😀'.repeat(1000);
  assert.ok(ok({ ...base, messages: [{ role: 'user', content: emoji }] }).estimatedInputTokens >= 3000);
});

test('base64 images count a flat 5000 tokens each, wherever they are; PDFs count base64 bytes / 3', () => {
  const data = 'A'.repeat(400_000);
  const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data } };
  const one = ok({ ...base, messages: [{ role: 'user', content: [image, { type: 'text', text: 'What is this?' }] }] });
  assert.ok(one.estimatedInputTokens >= 5000 && one.estimatedInputTokens < 5200, String(one.estimatedInputTokens));
  const inToolResult = ok({
    ...base,
    messages: [
      { role: 'user', content: 'take a screenshot' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'screenshot', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [image, image] }] },
    ],
  });
  assert.ok(inToolResult.estimatedInputTokens >= 10_000 && inToolResult.estimatedInputTokens < 10_300);
  const pdf = ok({ ...base, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'J'.repeat(300_000) } }] }] });
  assert.ok(pdf.estimatedInputTokens >= 100_000 && pdf.estimatedInputTokens < 100_200);
  const byUrl = ok({ ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } }] }] });
  assert.ok(byUrl.estimatedInputTokens >= 5000);
});

test('tools add the tool-use system prompt', () => {
  const without = ok(base).estimatedInputTokens;
  const withTools = ok({ ...base, tools: [{ name: 'x', input_schema: { type: 'object' } }] }).estimatedInputTokens;
  assert.ok(withTools - without >= 400);
});

test('fast on a 115 KB body and safe on deep nesting', () => {
  const messages = Array.from({ length: 200 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: [{ type: 'text', text: 'x'.repeat(500) }] }));
  const body = Buffer.from(JSON.stringify({ ...base, messages }));
  assert.ok(body.length > 100_000);
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) parseMessagesRequest(body);
  const per = (performance.now() - t0) / 20;
  assert.ok(per < 20, `${per.toFixed(2)} ms per parse`);
  const deep = `{"model":"m","max_tokens":1,"x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
  assert.ok(!('code' in parseMessagesRequest(Buffer.from(deep))));
});
