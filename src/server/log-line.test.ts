import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeControl, redactCredentials, safeLogLine } from './log-line.js';

test('log lines: credentials in queries, bearer headers and key shapes are redacted', () => {
  const key = 'sc-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-ab';
  const line = redactCredentials(`internal error on POST /v1beta/models/gemini-2.5-flash:generateContent?alt=sse&key=${key}: aborted`);
  assert.ok(!line.includes(key));
  assert.match(line, /alt=sse&key=\[redacted\]/);
  assert.ok(!redactCredentials(`got ${key} here`).includes(key));
  assert.equal(redactCredentials('Authorization: Bearer sk-proj-abcdefghijkl'), 'Authorization: Bearer [redacted]');
  assert.equal(redactCredentials('key AIzaSyA1234567890abcdefghijklmnop used'), 'key AIza[redacted] used');
  assert.equal(redactCredentials('ok claude-sonnet-4-5 $0.000100'), 'ok claude-sonnet-4-5 $0.000100');
});

test('log lines: a newline or an ANSI escape in client text cannot forge or repaint a line', () => {
  const model = 'claude-sonnet-4-5\nok admin claude-opus-4 $0.000000\u001b[2K\u001b[1A';
  const line = safeLogLine(`ok work ${model} $0.01`);
  assert.ok(!/[\n\r\u001b]/.test(line));
  assert.equal(line.split('\n').length, 1);
  assert.match(line, /\\n/);
  assert.match(line, /\\u001b\[2K/);
  assert.equal(escapeControl('tab\there\u202e'), 'tab\\there\\u202e');
  assert.equal(escapeControl('plain ünïcode ✓'), 'plain ünïcode ✓');
});
