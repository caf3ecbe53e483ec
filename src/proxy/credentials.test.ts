import { test } from 'node:test';
import assert from 'node:assert/strict';
import { credentialFrom, queryWithoutCredentials } from './credentials.js';

const q = (s = '') => new URLSearchParams(s);

test('credentials: the spendcap key from any header an SDK puts an API key in', () => {
  assert.equal(credentialFrom({ 'x-api-key': 'sc-1' }, q()), 'sc-1');
  assert.equal(credentialFrom({ authorization: 'Bearer sc-2' }, q()), 'sc-2');
  assert.equal(credentialFrom({ 'x-goog-api-key': 'sc-3' }, q()), 'sc-3');
  assert.equal(credentialFrom({}, q('key=sc-4&alt=sse')), 'sc-4');
  assert.equal(credentialFrom({ authorization: 'Basic abc' }, q()), undefined);
  assert.equal(credentialFrom({ 'x-api-key': '  ' }, q()), undefined);
  assert.equal(credentialFrom({}, q()), undefined);
});

test('credentials: ?key= never goes upstream; other query parameters stay as sent', () => {
  assert.equal(queryWithoutCredentials('?alt=sse&key=sc-1'), '?alt=sse');
  assert.equal(queryWithoutCredentials('?key=sc-1'), '');
  assert.equal(queryWithoutCredentials('?beta=true'), '?beta=true');
  assert.equal(queryWithoutCredentials(''), '');
});
