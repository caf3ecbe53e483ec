// activate() on a stand-in for the `vscode` module (VS Code itself cannot be downloaded here), so the
// thin layer on the real API (extension.ts, vscode-host.ts) runs too: every command the manifest
// contributes is registered, the status bar item says "spendcap: off" for a spendcap that is not
// running, and against a real spendcap its text, icon and theme colour follow the budget's state.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Module from 'node:module';
import { addKey, freePort, removeDir, startMock, startServer, tempDir, TURN_OUTPUT, turn, waitFor } from './helpers/spendcap';
import type { MockAnthropic, Server } from './helpers/spendcap';

interface Item {
  text: string;
  tooltip?: string;
  command?: string;
  backgroundColor?: { id: string };
  shown: boolean;
}

/** What the stand-in recorded, reset before each test. */
const seen = {
  config: {} as Record<string, unknown>,
  commands: new Map<string, () => unknown>(),
  items: [] as Item[],
  messages: [] as string[],
  secrets: new Map<string, string>(),
};

const fake = {
  StatusBarAlignment: { Left: 1, Right: 2 },
  ViewColumn: { Beside: -2 },
  ThemeColor: class {
    constructor(readonly id: string) {}
  },
  Uri: { parse: (s: string) => s },
  window: {
    createStatusBarItem: () => {
      const it: Item & { show(): void; dispose(): void; name?: string } = { text: '', shown: false, show: () => (it.shown = true), dispose: () => {} };
      seen.items.push(it);
      return it;
    },
    createOutputChannel: () => ({ appendLine: () => {}, dispose: () => {} }),
    showInformationMessage: async (m: string) => (seen.messages.push(m), undefined),
    showWarningMessage: async (m: string) => (seen.messages.push(m), undefined),
    showErrorMessage: async (m: string) => (seen.messages.push(m), undefined),
  },
  commands: { registerCommand: (id: string, run: () => unknown) => (seen.commands.set(id, run), { dispose: () => {} }) },
  workspace: {
    getConfiguration: () => ({ get: (k: string, d: unknown) => seen.config[k] ?? d }),
    onDidChangeConfiguration: () => ({ dispose: () => {} }),
  },
  env: { clipboard: { writeText: async () => {} }, openExternal: async () => true },
};

const M = Module as unknown as { _load: (this: typeof Module, request: string, ...rest: unknown[]) => unknown };
const load = M._load;
M._load = (request: string, ...rest: unknown[]) => (request === 'vscode' ? fake : load.call(Module, request, ...rest));
// Loaded after the hook, so its `import 'vscode'` gets the stand-in.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ext = require('../src/extension') as typeof import('../src/extension');
M._load = load;

/** Activates the extension with these settings; the subscriptions to dispose after. */
function activate(config: Record<string, unknown>): Array<{ dispose(): unknown }> {
  seen.config = { command: 'spendcap', budget: '', notifications: true, ...config };
  const subs: Array<{ dispose(): unknown }> = [];
  const secrets = { get: async (k: string) => seen.secrets.get(k), store: async (k: string, v: string) => void seen.secrets.set(k, v) };
  ext.activate({ subscriptions: subs, secrets } as unknown as Parameters<typeof ext.activate>[0]);
  return subs;
}

function deactivate(subs: Array<{ dispose(): unknown }>): void {
  ext.deactivate();
  for (const s of subs) s.dispose();
}

beforeEach(() => {
  seen.commands.clear();
  seen.items = [];
  seen.messages = [];
});

test('activate registers every contributed command and shows "spendcap: off" when nothing listens', async () => {
  const port = await freePort();
  const dir = tempDir();
  const subs = activate({ url: `http://127.0.0.1:${port}`, dataDir: dir });
  try {
    const manifest = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { contributes: { commands: Array<{ command: string }> } };
    assert.deepEqual([...seen.commands.keys()].sort(), manifest.contributes.commands.map((c) => c.command).sort());
    const item = seen.items[0]!;
    assert.ok(item.shown);
    await waitFor('"spendcap: off"', () => item.text === '$(debug-disconnect) spendcap: off');
    assert.equal(item.command, 'spendcap.start');
    assert.equal(item.backgroundColor, undefined);
  } finally {
    deactivate(subs);
    removeDir(dir);
  }
});

describe('the status bar item in the editor, against a running spendcap', () => {
  let mock: MockAnthropic;
  let dir: string;
  let server: Server;
  let work: string;
  before(async () => {
    mock = await startMock({ outputTokens: TURN_OUTPUT, tokenIntervalMs: 0 });
    dir = tempDir();
    server = await startServer(dir, mock.url);
    work = await addKey(dir, 'work', 1);
  });
  after(async () => {
    await server.stop();
    await mock.close();
    removeDir(dir);
  });

  test('its text, icon and theme colour follow the state: ok, over 80 %, killed, cap reached', async () => {
    const subs = activate({ url: server.url, dataDir: dir });
    const item = () => seen.items[0]!;
    const bg = () => item().backgroundColor?.id;
    const api = (method: string, path: string, body?: unknown) =>
      fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${readFileSync(join(dir, 'admin-token'), 'utf8').trim()}`, 'content-type': 'application/json' }, body: body === undefined ? null : JSON.stringify(body) });
    try {
      await waitFor('ok', () => item().text === '$(pulse) $0.00 / $1');
      assert.equal(bg(), undefined, 'no colour when fine');
      assert.equal(item().command, 'spendcap.showDetails');

      // Real spend (about $0.09 a turn) until spendcap says more than 80 % of the $1 cap is used.
      const used = async () => {
        const list = ((await (await api('GET', '/api/budgets')).json()) as { budgets: Array<{ name: string; spentUsd: number; heldUsd: number }> }).budgets;
        const w = list.find((x) => x.name === 'work')!;
        return w.spentUsd + w.heldUsd;
      };
      for (let i = 0; i < 20 && (await used()) <= 0.8; i++) assert.equal(await turn(server.url, work), 200);
      await waitFor('the warning colour', () => bg() === 'statusBarItem.warningBackground');
      assert.match(item().text, /^\$\(warning\) \$0\.\d\d \/ \$1$/);

      await seen.commands.get('spendcap.kill')!();
      await waitFor('killed', () => bg() === 'statusBarItem.errorBackground');
      assert.match(item().text, /^\$\(circle-slash\) \$0\.\d\d \/ \$1 killed$/);
      assert.ok(seen.messages.some((m) => m.startsWith('spendcap: kill "work": now')));

      await seen.commands.get('spendcap.unkill')!();
      await waitFor('warning again', () => bg() === 'statusBarItem.warningBackground');
      assert.equal((await api('PATCH', '/api/budgets/work', { cap: 0.5 })).status, 200);
      await waitFor('cap reached', () => item().text.startsWith('$(error) ') && bg() === 'statusBarItem.errorBackground');
      assert.match(item().text, / \/ \$0\.50$/);
    } finally {
      deactivate(subs);
    }
  });
});
