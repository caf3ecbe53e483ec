import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSTANCE_ID_FILE, instanceIdFor } from './instance-id.js';

test('an instance keeps its id across restarts; two data dirs get two ids; a damaged file is replaced', () => {
  const a = mkdtempSync(join(tmpdir(), 'spendcap-iid-'));
  const b = mkdtempSync(join(tmpdir(), 'spendcap-iid-'));
  try {
    const first = instanceIdFor(a);
    assert.match(first, /^[\w.-]+-[0-9a-f]{8}$/);
    assert.equal(instanceIdFor(a), first, 'a restart is the same instance');
    assert.notEqual(instanceIdFor(b), first);
    writeFileSync(join(b, INSTANCE_ID_FILE), 'not an id; DROP TABLE holds');
    assert.match(instanceIdFor(b), /^[\w.-]+-[0-9a-f]{8}$/);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});
