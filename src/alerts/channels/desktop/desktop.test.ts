import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelContract } from '../../channel-contract.js';
import { createDesktopChannel, notifyCommand } from './index.js';

/** A fake notify-send first on PATH: it appends its arguments to a file (or fails, with exit 1). */
function fakeNotifySend(fail = false): { dir: string; log: string; restore(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-notify-'));
  const log = join(dir, 'calls.txt');
  writeFileSync(join(dir, 'notify-send'), fail ? '#!/bin/sh\necho "no display" >&2\nexit 1\n' : `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> "${log}"; done\nprintf '\\036\\n' >> "${log}"\n`);
  chmodSync(join(dir, 'notify-send'), 0o755);
  const before = process.env.PATH;
  process.env.PATH = `${dir}${delimiter}${before ?? ''}`;
  return {
    dir,
    log,
    restore() {
      process.env.PATH = before;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const read = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').split('\u001e\n').filter((m) => m.length > 0) : []);

channelContract(
  'desktop',
  async () => {
    const f = fakeNotifySend();
    return { channel: createDesktopChannel({ name: 'desktop', kind: 'desktop', budgets: [], events: [], settings: { platform: 'linux' } }), delivered: () => read(f.log), close: async () => f.restore() };
  },
  {
    failing: async () => {
      const f = fakeNotifySend(true);
      return { channel: createDesktopChannel({ name: 'desktop', kind: 'desktop', budgets: [], events: [], settings: { platform: 'linux' } }), delivered: () => read(f.log), close: async () => f.restore() };
    },
  },
);

test('desktop: the title and body are arguments, never a shell string, on every platform', () => {
  const evil = 'key "w"; rm -rf ~ `x` $(y)';
  assert.deepEqual(notifyCommand('linux', evil, 'b'), { cmd: 'notify-send', args: ['--app-name=spendcap', evil, 'b'] });
  const mac = notifyCommand('darwin', evil, 'b');
  assert.equal(mac.cmd, 'osascript');
  assert.equal(mac.args[1], 'display notification "b" with title "key \\"w\\"; rm -rf ~ `x` $(y)"');
  assert.equal(notifyCommand('win32', "it's", 'b').cmd, 'powershell.exe');
  assert.match(notifyCommand('win32', "it's", 'b').args[3]!, /'it''s'/);
});
