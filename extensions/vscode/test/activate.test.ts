// activate() on a stand-in for the `vscode` module (VS Code itself cannot be downloaded here): every
// command the manifest contributes is registered, and the status bar item says "spendcap: off" for a
// spendcap that is not running. The behaviour behind it is tested in extension.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Module from 'node:module';
import { freePort, removeDir, tempDir, waitFor } from './helpers/spendcap';

interface Item {
  text: string;
  command?: string;
  backgroundColor?: unknown;
  shown: boolean;
}

test('activate registers every contributed command and shows "spendcap: off" when nothing listens', async () => {
  const port = await freePort();
  const dir = tempDir();
  const registered: string[] = [];
  const items: Item[] = [];
  const config: Record<string, unknown> = { url: `http://127.0.0.1:${port}`, dataDir: dir, command: 'spendcap', budget: '', notifications: true };
  const fake = {
    StatusBarAlignment: { Left: 1, Right: 2 },
    ViewColumn: { Beside: -2 },
    ThemeColor: class {
      constructor(readonly id: string) {}
    },
    Uri: { parse: (s: string) => s },
    window: {
      createStatusBarItem: () => {
        const it: Item & { show(): void; dispose(): void; name?: string; tooltip?: string } = { text: '', shown: false, show: () => (it.shown = true), dispose: () => {} };
        items.push(it);
        return it;
      },
      createOutputChannel: () => ({ appendLine: () => {}, dispose: () => {} }),
      showInformationMessage: async () => undefined,
      showWarningMessage: async () => undefined,
      showErrorMessage: async () => undefined,
    },
    commands: { registerCommand: (id: string) => (registered.push(id), { dispose: () => {} }) },
    workspace: {
      getConfiguration: () => ({ get: (k: string, d: unknown) => config[k] ?? d }),
      onDidChangeConfiguration: () => ({ dispose: () => {} }),
    },
    env: { clipboard: { writeText: async () => {} }, openExternal: async () => true },
  };
  const M = Module as unknown as { _load: (this: typeof Module, request: string, ...rest: unknown[]) => unknown };
  const load = M._load;
  M._load = (request: string, ...rest: unknown[]) => (request === 'vscode' ? fake : load.call(Module, request, ...rest));
  const subs: Array<{ dispose(): unknown }> = [];
  try {
    // Loaded after the hook, so its `import 'vscode'` gets the stand-in.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ext = require('../src/extension') as typeof import('../src/extension');
    ext.activate({ subscriptions: subs, secrets: { get: async () => undefined, store: async () => {} } } as unknown as Parameters<typeof ext.activate>[0]);
    const manifest = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { contributes: { commands: Array<{ command: string }> } };
    assert.deepEqual([...registered].sort(), manifest.contributes.commands.map((c) => c.command).sort());
    const item = items[0]!;
    assert.ok(item.shown);
    await waitFor('"spendcap: off"', () => item.text.endsWith('spendcap: off'));
    assert.equal(item.command, 'spendcap.start');
    ext.deactivate();
  } finally {
    M._load = load;
    for (const s of subs) s.dispose();
    removeDir(dir);
  }
});
