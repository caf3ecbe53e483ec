import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchRoute } from './routes.js';
import { upstreamFor } from '../providers/registry.js';

test('routes: each protocol by its path, with or without /v1, metered or passed through', () => {
  assert.deepEqual(matchRoute('POST', '/v1/messages'), { protocol: 'anthropic-messages', kind: 'metered', path: '/v1/messages', forced: null });
  assert.deepEqual(matchRoute('POST', '/messages'), { protocol: 'anthropic-messages', kind: 'metered', path: '/v1/messages', forced: null });
  assert.equal(matchRoute('POST', '/v1/messages/count_tokens')?.kind, 'pass');
  assert.deepEqual(matchRoute('POST', '/v1/chat/completions'), { protocol: 'openai-chat', kind: 'metered', path: '/v1/chat/completions', forced: null });
  assert.equal(matchRoute('POST', '/chat/completions')?.path, '/v1/chat/completions');
  assert.equal(matchRoute('POST', '/v1/responses')?.protocol, 'openai-responses');
  assert.deepEqual(matchRoute('POST', '/v1beta/models/gemini-2.5-flash:streamGenerateContent'), {
    protocol: 'gemini',
    kind: 'metered',
    path: '/v1beta/models/gemini-2.5-flash:streamGenerateContent',
    forced: null,
  });
  assert.equal(matchRoute('POST', '/v1/models/gemini-2.5-pro:generateContent')?.protocol, 'gemini');
  assert.equal(matchRoute('POST', '/v1beta/models/gemini-2.5-pro:countTokens')?.kind, 'pass');
  assert.equal(matchRoute('GET', '/v1/models')?.protocol, 'by-key');
  assert.equal(matchRoute('GET', '/models')?.path, '/v1/models');
});

test('routes: an explicit prefix names the provider and is removed', () => {
  assert.deepEqual(matchRoute('POST', '/openrouter/v1/chat/completions'), { protocol: 'openai-chat', kind: 'metered', path: '/v1/chat/completions', forced: 'openrouter' });
  assert.equal(matchRoute('POST', '/anthropic/v1/messages')?.forced, 'anthropic');
  assert.equal(matchRoute('POST', '/gemini/v1beta/models/gemini-2.5-flash:generateContent')?.forced, 'gemini');
  assert.equal(matchRoute('GET', '/openai/v1/models')?.forced, 'openai');
});

test('routes: what spendcap does not serve is null', () => {
  assert.equal(matchRoute('GET', '/v1/messages'), null);
  assert.equal(matchRoute('POST', '/v1/completions'), null);
  assert.equal(matchRoute('DELETE', '/v1/models'), null);
  assert.equal(matchRoute('GET', '/v1beta/models/x:generateContent'), null);
  assert.equal(matchRoute('POST', '/openaiv1/chat/completions'), null);
});

test('routes: a pass-through GET is one model list or one well-formed model id, nothing else', () => {
  assert.equal(matchRoute('GET', '/v1/models/claude-sonnet-4-5')?.kind, 'pass');
  assert.equal(matchRoute('GET', '/v1beta/models/gemini-2.5-flash')?.kind, 'pass');
  assert.equal(matchRoute('GET', '/v1/models/ft:gpt-4o:acme::x1')?.kind, undefined);
  assert.equal(matchRoute('GET', '/v1/models/ft:gpt-4o:acme:x1')?.kind, 'pass');
  for (const p of ['/v1/models/../../files', '/v1/models/..%2ffiles', '/v1/models/%2e%2e', '/v1/models/a%5cb', '/v1/models/a\\b', '/v1/models/..', '/v1/models/a..b', '/v1/models/', '/v1/models/a/b', '/v1/files']) {
    assert.equal(matchRoute('GET', p), null, p);
  }
  assert.equal(matchRoute('POST', '/v1beta/models/..%2ffiles:countTokens'), null);
  assert.equal(matchRoute('POST', '/v1beta/models/..:generateContent'), null);
});

test('upstreams: an OpenAI-style SDK base URL loses its /v1, others keep their path', () => {
  assert.deepEqual(upstreamFor('openai', 'https://api.openai.com/v1'), { origin: 'https://api.openai.com', basePath: '' });
  assert.deepEqual(upstreamFor('openrouter', 'https://openrouter.ai/api/v1/'), { origin: 'https://openrouter.ai', basePath: '/api' });
  assert.deepEqual(upstreamFor('openai-compatible', 'https://api.groq.com/openai/v1'), { origin: 'https://api.groq.com', basePath: '/openai' });
  assert.deepEqual(upstreamFor('openai-compatible', 'https://api.deepseek.com'), { origin: 'https://api.deepseek.com', basePath: '' });
  assert.deepEqual(upstreamFor('anthropic', 'http://127.0.0.1:9000/proxy'), { origin: 'http://127.0.0.1:9000', basePath: '/proxy' });
  assert.deepEqual(upstreamFor('gemini', 'https://generativelanguage.googleapis.com'), { origin: 'https://generativelanguage.googleapis.com', basePath: '' });
  assert.throws(() => upstreamFor('openai', 'not a url'), /not a URL/);
});
