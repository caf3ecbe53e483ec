import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openaiErrorReply } from './errors.js';
import { anthropicErrorReply } from '../anthropic/errors.js';
import { wantsRefusalAs400 } from '../clients.js';

test('a cap refusal is a 429 insufficient_quota that the SDKs do not retry', () => {
  const r = openaiErrorReply('E_CAP_REACHED', 'spendcap: key "k" reached its cap');
  assert.equal(r.status, 429);
  assert.equal(r.headers['x-should-retry'], 'false');
  assert.deepEqual(JSON.parse(r.body), { error: { message: 'spendcap: key "k" reached its cap', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } });
});

test('Codex gets the refusal as a 400, which it prints (it hides a 429 behind its own text)', () => {
  assert.equal(openaiErrorReply('E_KILLED', 'x', { originator: 'codex_exec' }).status, 400);
  assert.equal(openaiErrorReply('E_CAP_REACHED', 'x', { 'user-agent': 'codex-tui/0.169' }).status, 400);
  assert.equal(openaiErrorReply('E_CAP_REACHED', 'x', { 'user-agent': 'OpenAI/JS 7.57.0' }).status, 429);
  assert.equal(wantsRefusalAs400(undefined), false);
});

test('other codes keep their status; an upstream failure may be retried', () => {
  assert.equal(openaiErrorReply('E_UNKNOWN_MODEL', 'x').status, 400);
  assert.equal((JSON.parse(openaiErrorReply('E_UNKNOWN_MODEL', 'x').body) as { error: { code: string } }).error.code, 'model_not_priced');
  assert.equal(openaiErrorReply('E_UNAUTHORIZED', 'x').status, 401);
  assert.deepEqual(openaiErrorReply('E_UPSTREAM', 'x').headers, {});
});

test('the AI SDK (opencode) retries any 429, so it gets the refusal as a 400 in every protocol', () => {
  const ua = { 'user-agent': 'opencode/1.18.33 (linux; x64) ai-sdk/provider-utils/4.0.40 runtime/bun/1.3.14' };
  assert.equal(openaiErrorReply('E_CAP_REACHED', 'x', ua).status, 400);
  assert.equal(anthropicErrorReply('E_CAP_REACHED', 'x', ua).status, 400);
  assert.equal(anthropicErrorReply('E_CAP_REACHED', 'x', { 'user-agent': 'claude-cli/2.1.197' }).status, 429);
  assert.equal(anthropicErrorReply('E_UNAUTHORIZED', 'x', ua).status, 401);
  assert.equal(wantsRefusalAs400({ 'user-agent': 'ai-sdk/anthropic/2.0.1' }), true);
  assert.equal(wantsRefusalAs400({ 'user-agent': 'google-genai-sdk/1.30.0 gl-node/v20.20.2' }), false);
});
