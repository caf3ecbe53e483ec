import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ErrorCode } from '../types.js';
import { GEMINI_ERRORS, geminiErrorReply } from './errors.js';

const CODES: ErrorCode[] = ['E_CAP_REACHED', 'E_KILLED', 'E_UNAUTHORIZED', 'E_UNKNOWN_MODEL', 'E_BAD_REQUEST', 'E_TOO_LARGE', 'E_NOT_FOUND', 'E_UPSTREAM'];

test('every code has a Google RPC error body with the HTTP status in error.code', () => {
  for (const code of CODES) {
    const r = geminiErrorReply(code, `msg ${code}`);
    const body = JSON.parse(r.body) as { error: { code: number; message: string; status: string } };
    assert.equal(r.status, GEMINI_ERRORS[code].status);
    assert.equal(body.error.code, r.status);
    assert.equal(body.error.message, `msg ${code}`);
    assert.match(body.error.status, /^[A-Z_]+$/);
    assert.equal(r.headers['retry-after'], undefined);
  }
});

test('a cap refusal: 429 RESOURCE_EXHAUSTED, x-should-retry: false, a RetryInfo over 300 s (terminal for gemini-cli)', () => {
  const r = geminiErrorReply('E_CAP_REACHED', 'spendcap: key "dev" reached its cap');
  assert.equal(r.status, 429);
  assert.equal(r.headers['x-should-retry'], 'false');
  const body = JSON.parse(r.body) as { error: { status: string; details: Array<Record<string, string>> } };
  assert.equal(body.error.status, 'RESOURCE_EXHAUSTED');
  const retry = body.error.details.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.RetryInfo');
  assert.ok(retry && parseFloat(retry['retryDelay']!) > 300);
  assert.equal(geminiErrorReply('E_KILLED', 'x').status, 429);
});

test('an unreachable provider keeps the clients normal 5xx retry', () => {
  const r = geminiErrorReply('E_UPSTREAM', 'down');
  assert.equal(r.status, 502);
  assert.deepEqual(r.headers, {});
});
