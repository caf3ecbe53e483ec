import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowedHosts, bearerToken, checkHostAndOrigin, tokenMatches } from './guard.js';

test('allowed hosts are the loopback names on the port, plus a specific listening address', () => {
  assert.deepEqual([...allowedHosts('127.0.0.1', 8787)].sort(), ['127.0.0.1:8787', '[::1]:8787', 'localhost:8787']);
  assert.ok(allowedHosts('::1', 9000).has('[::1]:9000'));
  assert.ok(allowedHosts('192.168.1.5', 8787).has('192.168.1.5:8787'));
  assert.equal(allowedHosts('0.0.0.0', 8787).size, 3, 'a wildcard listen address is not a name a browser sends');
  assert.ok(allowedHosts('127.0.0.1', 80).has('localhost'), 'port 80 is left out of Host by clients');
});

test('Host must name this server; Origin, when sent, must be one of its http origins', () => {
  const allowed = allowedHosts('127.0.0.1', 8787);
  assert.equal(checkHostAndOrigin({ host: '127.0.0.1:8787' }, allowed), null);
  assert.equal(checkHostAndOrigin({ host: 'LOCALHOST:8787', origin: 'http://localhost:8787' }, allowed), null);
  assert.equal(checkHostAndOrigin({ host: 'evil.example:8787' }, allowed)?.field, 'host');
  assert.equal(checkHostAndOrigin({ host: '127.0.0.1:8788' }, allowed)?.field, 'host');
  assert.equal(checkHostAndOrigin({}, allowed)?.field, 'host');
  assert.equal(checkHostAndOrigin({ host: '127.0.0.1:8787', origin: 'http://evil.example' }, allowed)?.field, 'origin');
  assert.equal(checkHostAndOrigin({ host: '127.0.0.1:8787', origin: 'null' }, allowed)?.field, 'origin');
  assert.equal(checkHostAndOrigin({ host: '127.0.0.1:8787', origin: 'https://127.0.0.1:8787' }, allowed)?.field, 'origin');
});

test('bearer tokens are read from Authorization and compared whole', () => {
  assert.equal(bearerToken('Bearer abc'), 'abc');
  assert.equal(bearerToken('bearer   abc '), 'abc');
  assert.equal(bearerToken('Basic abc'), null);
  assert.equal(bearerToken(undefined), null);
  assert.equal(tokenMatches('abc', 'abc'), true);
  assert.equal(tokenMatches('ab', 'abc'), false);
  assert.equal(tokenMatches(null, 'abc'), false);
  assert.equal(tokenMatches('', ''), false, 'an empty admin token never matches');
});
