// `spendcap watch` driven in a real terminal (tmux, with a private socket): the screen shows the
// budgets and the requests as they settle, + lifts, k kills, u unkills, and a resize redraws to the
// new width.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import { addKey, budgetStatus, cli, startSpendcap } from './helpers/spendcap.js';

const BIN = fileURLToPath(new URL('../../bin/spendcap.js', import.meta.url));
const SOCKET = `spendcap-watch-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
const screen = () => tmux('capture-pane', '-p', '-t', 'w');

async function until(what: string, ok: (s: string) => boolean, ms = 15_000): Promise<string> {
  const end = Date.now() + ms;
  let s = '';
  while (Date.now() < end) {
    s = screen();
    if (ok(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}; the screen was:\n${s}`);
}

test('watch: live bars and requests, lift/kill/unkill keys, redraw on resize', async () => {
  const mock = await startMockAnthropic({ tokenIntervalMs: 0, outputTokens: 30 });
  const sc = await startSpendcap(mock.url, { pollMs: 100 });
  try {
    const token = await addKey(sc.dataDir, 'work', 15);
    await addKey(sc.dataDir, 'other', 2);
    tmux('new-session', '-d', '-s', 'w', '-x', '100', '-y', '30', `${process.execPath} ${BIN} watch --data-dir ${sc.dataDir}`);
    await until('both budgets show, live', (s) => /> other\s+\[/.test(s) && /work\s+\[/.test(s) && s.includes('live'));

    const r = await fetch(`${sc.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': token, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await r.arrayBuffer();
    await until('the request appears as it settles', (s) => /\d\d:\d\d:\d\d work claude-sonnet-4-5 \$0\.\d+ ok/.test(s));

    // "other" is selected first (sorted by name); move to "work".
    tmux('send-keys', '-t', 'w', 'Down');
    await until('work is selected', (s) => /> work\s+\[/.test(s));
    tmux('send-keys', '-t', 'w', '+');
    await until('the lift shows', (s) => s.includes('lifted work by $5') && /work\s+\[.*of \$20\.00 day/.test(s));
    assert.equal((await budgetStatus(sc, 'work')).capUsd, 20);
    tmux('send-keys', '-t', 'w', 'k');
    await until('killed', (s) => /> work .*KILLED/.test(s));
    assert.match((await cli(sc.dataDir, ['status'])).out, /work.*KILLED/);
    tmux('send-keys', '-t', 'w', 'u');
    await until('re-opened', (s) => s.includes('re-opened work') && !/work .*KILLED/.test(s));

    tmux('resize-window', '-t', 'w', '-x', '60', '-y', '20');
    const narrow = await until('redrawn at 60 columns', (s) => s.split('\n').length <= 21 && s.includes('q quit') && /> work\s+\[/.test(s));
    assert.ok(narrow.split('\n').every((l) => [...l].length <= 60), narrow);

    tmux('send-keys', '-t', 'w', 'q');
    const end = Date.now() + 10_000;
    let gone = false;
    while (!gone && Date.now() < end) {
      try {
        tmux('has-session', '-t', 'w');
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        gone = true; // q ended watch, and with it the only session
      }
    }
    assert.ok(gone, 'q quits watch');
  } finally {
    try {
      tmux('kill-server');
    } catch {
      // already gone with its only session
    }
    await sc.close();
    await mock.close();
  }
});
