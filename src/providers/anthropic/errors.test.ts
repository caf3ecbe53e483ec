import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anthropicError, anthropicErrorBody, anthropicErrorReply } from './errors.js';
import { usageFromMessageJson } from './usage.js';
import { anthropicAdapter } from './adapter.js';

test('error body has Anthropic\'s shape (+ a top-level message for the SDK), request_id only when given', () => {
  assert.deepEqual(JSON.parse(anthropicErrorBody('rate_limit_error', 'cap reached')), { type: 'error', error: { type: 'rate_limit_error', message: 'cap reached' }, message: 'cap reached' });
  assert.deepEqual(JSON.parse(anthropicErrorBody('api_error', 'x', 'req_1')), { type: 'error', error: { type: 'api_error', message: 'x' }, request_id: 'req_1', message: 'x' });
});

test('the TS SDK shows the message as plain text', async () => {
  const { APIError } = await import('@anthropic-ai/sdk');
  const body = JSON.parse(anthropicErrorBody('rate_limit_error', 'spendcap: key "dev" reached its cap')) as object;
  const e = APIError.generate(429, body, undefined, new Headers());
  assert.equal(e.message, '429 spendcap: key "dev" reached its cap');
});

test('error codes map to status and type', () => {
  const want: Array<[Parameters<typeof anthropicError>[0], number, string]> = [
    ['E_CAP_REACHED', 429, 'rate_limit_error'],
    ['E_KILLED', 429, 'rate_limit_error'],
    ['E_UNAUTHORIZED', 401, 'authentication_error'],
    ['E_UNKNOWN_MODEL', 400, 'invalid_request_error'],
    ['E_BAD_REQUEST', 400, 'invalid_request_error'],
    ['E_TOO_LARGE', 413, 'request_too_large'],
    ['E_NOT_FOUND', 404, 'not_found_error'],
    ['E_UPSTREAM', 502, 'api_error'],
  ];
  for (const [code, status, type] of want) {
    const e = anthropicError(code, 'm');
    assert.equal(e.status, status, code);
    assert.equal((JSON.parse(e.body) as { error: { type: string } }).error.type, type, code);
  }
});

test('spendcap\'s own refusals say x-should-retry: false; an unreachable provider stays retryable', () => {
  assert.equal(anthropicErrorReply('E_CAP_REACHED', 'm').headers['x-should-retry'], 'false');
  assert.equal(anthropicErrorReply('E_KILLED', 'm').headers['retry-after'], undefined);
  assert.deepEqual(anthropicErrorReply('E_UPSTREAM', 'm').headers, {});
});

test('usage of a non-streamed response, tolerant of missing and null fields', () => {
  assert.deepEqual(
    usageFromMessageJson({
      type: 'message',
      usage: { input_tokens: 12, output_tokens: 34, cache_read_input_tokens: 5, cache_creation_input_tokens: 30, cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 20 } },
    }),
    { inputTokens: 12, outputTokens: 34, cacheReadTokens: 5, cacheWrite5mTokens: 10, cacheWrite1hTokens: 20 },
  );
  assert.deepEqual(usageFromMessageJson({ usage: { input_tokens: 3, output_tokens: 4, cache_read_input_tokens: null, cache_creation_input_tokens: null, cache_creation: null } }), {
    inputTokens: 3,
    outputTokens: 4,
    cacheReadTokens: 0,
    cacheWrite5mTokens: 0,
    cacheWrite1hTokens: 0,
  });
  assert.deepEqual(usageFromMessageJson({ usage: { cache_creation_input_tokens: 7 } })?.cacheWrite5mTokens, 7);
  assert.equal(usageFromMessageJson({ type: 'error', error: {} }), null);
  assert.equal(usageFromMessageJson(null), null);
  assert.equal(usageFromMessageJson([1]), null);
});

test('adapter: the provider key goes upstream as x-api-key; the protocol is Messages', () => {
  assert.deepEqual(anthropicAdapter.authHeaders('sk-ant-1', 'anthropic'), { 'x-api-key': 'sk-ant-1' });
  assert.equal(anthropicAdapter.protocol, 'anthropic-messages');
});
