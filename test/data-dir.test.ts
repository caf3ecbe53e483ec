// The data dir holds the key that decrypts every provider key: owner-only, also when it was made
// before spendcap first ran (mkdir by hand, a restored backup) with looser modes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli, startSpendcap, tempDataDir } from './helpers/spendcap.js';

const mode = (p: string): number => statSync(p).mode & 0o777;

function looseDataDir(): string {
  const dir = tempDataDir();
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'secret.key'), randomBytes(32).toString('base64') + '\n', { mode: 0o644 });
  chmodSync(join(dir, 'secret.key'), 0o644);
  return dir;
}

test('a pre-existing 0755 data dir and 0644 secret.key are tightened to 0700 / 0600 by the CLI, with a warning', async () => {
  const dir = looseDataDir();
  try {
    const r = await cli(dir, ['key', 'add', 'work', '--provider', 'anthropic', '--provider-key', 'sk-ant-x', '--cap', '1']);
    assert.equal(r.code, 0, r.err);
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(join(dir, 'secret.key')), 0o600);
    assert.match(r.err, /warning: .* was readable by others \(mode 0755\); set it to 0700/);
    assert.match(r.err, /secret\.key was readable by others \(mode 0644\); set it to 0600/);
    const again = await cli(dir, ['key', 'list']);
    assert.doesNotMatch(again.err, /warning/, 'no warning once the modes are right');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a server started on a loose data dir tightens it and its secret.key before it serves', async () => {
  const dir = looseDataDir();
  const sc = await startSpendcap(null, { dataDir: dir });
  try {
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(join(dir, 'secret.key')), 0o600);
  } finally {
    await sc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
