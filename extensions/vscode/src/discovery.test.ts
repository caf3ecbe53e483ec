import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandWords, envLines, findTokens, resolvePlace, shellKind, startCommandLine } from './discovery';

const none = { url: '', dataDir: '' };

test('the place: the settings, else $SPENDCAP_HOME, else ~/.spendcap on port 8787', () => {
  assert.deepEqual(resolvePlace(none, {}, '/home/ann'), { url: 'http://127.0.0.1:8787', dataDir: '/home/ann/.spendcap' });
  assert.deepEqual(resolvePlace(none, { SPENDCAP_HOME: '/srv/sc' }, '/home/ann'), { url: 'http://127.0.0.1:8787', dataDir: '/srv/sc' });
  assert.deepEqual(resolvePlace({ url: ' http://127.0.0.1:9000/ ', dataDir: '~/sc' }, { SPENDCAP_HOME: '/srv/sc' }, '/home/ann'), { url: 'http://127.0.0.1:9000', dataDir: '/home/ann/sc' });
});

test('tokens: the data dir\'s file first, then the typed one, without duplicates', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-discovery-'));
  try {
    assert.deepEqual(await findTokens(dir, async () => undefined), []);
    assert.deepEqual(await findTokens(dir, async () => ' typed '), [{ token: 'typed', source: 'secret-storage' }]);
    writeFileSync(join(dir, 'admin-token'), 'from-file\n');
    assert.deepEqual(await findTokens(dir, async () => 'typed'), [
      { token: 'from-file', source: 'data-dir' },
      { token: 'typed', source: 'secret-storage' },
    ]);
    assert.deepEqual(await findTokens(dir, async () => 'from-file'), [{ token: 'from-file', source: 'data-dir' }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the start line names only what differs from the defaults, shell-quoted', () => {
  assert.deepEqual(commandWords('  node /opt/sc/bin/spendcap.js '), ['node', '/opt/sc/bin/spendcap.js']);
  assert.deepEqual(commandWords(''), ['spendcap']);
  assert.equal(startCommandLine('spendcap', { url: 'http://127.0.0.1:8787', dataDir: '/h/.spendcap' }, '/h/.spendcap'), 'spendcap start --no-open');
  assert.equal(startCommandLine('spendcap', { url: 'http://127.0.0.1:9000', dataDir: "/h/my data's" }, '/h/.spendcap'), `spendcap start --no-open --data-dir '/h/my data'\\''s' --port 9000`);
});

test('env lines in the syntax of the terminal\'s shell', () => {
  assert.equal(shellKind('/bin/zsh'), 'posix');
  assert.equal(shellKind('/usr/local/bin/fish'), 'fish');
  assert.equal(shellKind('C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe'), 'powershell');
  assert.equal(shellKind('C:\\Windows\\System32\\cmd.exe'), 'cmd');
  assert.equal(shellKind('', 'win32'), 'powershell');
  assert.equal(shellKind('', 'linux'), 'posix');
  const u = 'http://127.0.0.1:8787';
  assert.match(envLines(u, 'posix'), /^export OPENAI_BASE_URL=http:\/\/127\.0\.0\.1:8787\/v1$/m);
  assert.match(envLines(u, 'fish'), /^set -gx GOOGLE_GEMINI_BASE_URL http:\/\/127\.0\.0\.1:8787$/m);
  assert.match(envLines(u, 'powershell'), /^\$env:ANTHROPIC_BASE_URL = "http:\/\/127\.0\.0\.1:8787"$/m);
  assert.match(envLines(u, 'cmd'), /^set ANTHROPIC_BASE_URL=http:\/\/127\.0\.0\.1:8787$/m);
  assert.match(envLines(u, 'cmd'), /^rem and your spendcap key: set ANTHROPIC_API_KEY=sc-\.\.\./m);
});
