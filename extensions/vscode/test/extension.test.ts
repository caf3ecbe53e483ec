// The extension's behaviour against a real spendcap (the root CLI in a child process, a real SQLite
// data dir) in front of the root's mock Anthropic upstream: only VS Code is replaced (TestHost).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdminClient } from '../src/api';
import { Controller, PLUS_FIVE } from '../src/controller';
import { LIFT_STEPS, fromUsd } from '../src/money';
import { spendText } from '../src/model';
import { buildReport } from '../src/report';
import { TestHost } from './helpers/host';
import { addKey, COMMAND, freePort, MODEL, removeDir, send, startMock, startServer, stopChild, tempDir, TURN_OUTPUT, turn, waitFor } from './helpers/spendcap';
import type { MockAnthropic, Server } from './helpers/spendcap';

/** Counts every fetch this process makes, to prove the extension does not poll when idle. */
const realFetch = globalThis.fetch;
let fetches = 0;
globalThis.fetch = ((...args: Parameters<typeof fetch>) => {
  fetches++;
  return realFetch(...args);
});

const settings = (url: string, dataDir: string) => ({ url, dataDir, command: COMMAND, budget: '', notifications: true });
const fast = { live: { backoff: () => 100 }, settleMs: 100 };

describe('against a running spendcap', () => {
  let mock: MockAnthropic;
  let dir: string;
  let server: Server;
  let host: TestHost;
  let c: Controller;
  let work: string;
  let adminToken: string;
  let api: AdminClient;
  const budget = async (name: string) => (await api.budgets()).find((b) => b.name === name)!;

  before(async () => {
    // Plausible usage only: input tokens counted from the prompt the mock received, output tokens as it
    // writes them (the mock's defaults). A turn costs cents, so the caps are small enough for real spend
    // to reach their thresholds.
    mock = await startMock({ outputTokens: TURN_OUTPUT, tokenIntervalMs: 0 });
    dir = tempDir();
    server = await startServer(dir, mock.url);
    work = await addKey(dir, 'work', 1, ['--ceiling', '100']);
    await addKey(dir, 'side', 200);
    assert.equal(await turn(server.url, work), 200);
    adminToken = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
    api = new AdminClient({ url: server.url, token: adminToken });
    host = new TestHost(settings(server.url, dir));
    c = new Controller(host, fast);
    await c.start();
  });
  after(async () => {
    c.stop();
    await server.stop();
    await mock.close();
    removeDir(dir);
  });

  test('the status bar shows the budget nearest its cap as "$0.10 / $1", then follows spend live', async () => {
    const first = await budget('work');
    assert.ok(first.spent > 0);
    await waitFor('the first figures', () => host.status?.text === spendText(first));
    assert.match(host.status!.text, /^\$0\.\d\d \/ \$1$/);
    assert.equal(host.status?.state, 'ok');
    assert.equal(host.status?.command, 'spendcap.showDetails');
    const t0 = Date.now();
    assert.equal(await turn(server.url, work), 200);
    const t1 = Date.now();
    const second = await budget('work');
    assert.ok(second.spent > first.spent);
    await waitFor('the second request in the status bar', () => host.status?.text === spendText(second));
    console.log(`# status bar showed the new spend ${Date.now() - t1} ms after the response ended (request took ${t1 - t0} ms)`);
  });

  test('idle means silent: no request at all while nothing is spent', async () => {
    // The one settle check after the last spend (cut responses, an open panel) may land late on a
    // loaded machine: wait until nothing was fetched for a second, then watch three more.
    let last = fetches;
    let quietSince = Date.now();
    await waitFor('the settle check after the last spend', () => {
      if (fetches !== last) [last, quietSince] = [fetches, Date.now()];
      return Date.now() - quietSince >= 1_000;
    });
    const before = fetches;
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(fetches, before, 'no fetch in 3 s of idle');
    assert.equal(c.follower?.connects, 1, 'one stream, never reopened');
  });

  test('passing 80 % notifies with "+$5" and "Open dashboard"; "+$5" lifts the cap', async () => {
    host.answer = (s) => (s.message.includes('passed 80 %') ? PLUS_FIVE : undefined);
    const passed80 = () => c.alerts.some((a) => a.kind === 'threshold' && a.budget === 'work' && a.message.includes('passed 80 %'));
    // Real spend, a turn at a time (about $0.09 each), until 80 % of the $1 cap is used. "Used" is
    // charged + held, as spendcap measures a new request: the alert may come while the last turn's
    // hold is open, and the "+$5" click may land before this loop sees the budget again.
    for (let i = 0; i < 20 && !passed80(); i++) {
      assert.equal(await turn(server.url, work), 200);
      const b = await budget('work');
      if (b.spent + b.held > b.cap * 0.8) break;
    }
    await waitFor('the 80 % alert', passed80);
    const note = host.notes.find((n) => n.message.includes('passed 80 %'));
    assert.deepEqual(note?.buttons, ['+$5', 'Open dashboard']);
    const warn = host.statuses.find((s) => s.state === 'warn');
    assert.ok(warn !== undefined, 'the bar turned to warning');
    assert.match(warn.text, /^\$0\.\d\d \/ \$1$/);
    await waitFor('the lift to $6 in spendcap and in the bar', async () => {
      const b = await budget('work');
      return b.cap === fromUsd(6) && b.held === 0 && host.status?.text === spendText(b) && host.status.state === 'ok';
    });
    const spent = (await budget('work')).spent;
    assert.ok(spent > fromUsd(0.7) && spent < fromUsd(1), `$${spent / fromUsd(1)} really charged: the 80 % came from real spend`);
  });

  test('lift +$1, +$10 and to the ceiling change the cap in spendcap, one audited event each', async () => {
    const [one, , ten] = LIFT_STEPS;
    assert.equal((await c.lift(one!))?.cap, fromUsd(7));
    assert.equal((await c.lift(ten!))?.cap, fromUsd(17));
    assert.equal((await c.lift('ceiling'))?.cap, fromUsd(100));
    assert.match(host.status!.text, / \/ \$100$/);
    const ev = (await api.request('GET', '/api/events?budget=work&kind=lift')) as { items: Array<{ channel: string; capAfterUsd: number }> };
    assert.deepEqual(ev.items.map((e) => [e.channel, e.capAfterUsd]), [['api', 100], ['api', 17], ['api', 7], ['api', 6]]);
    assert.equal(await c.lift(ten!), null, 'past the ceiling: refused');
    assert.match(host.notes[host.notes.length - 1]!.message, /^spendcap: could not lift by \$10 "work": /);
    assert.equal((await budget('work')).cap, fromUsd(100));
  });

  test('kill cuts the open stream: the bar says killed, and the cut is notified', async () => {
    mock.options = { outputTokens: 5000, tokenIntervalMs: 10 };
    const streaming = send(server.url, work, { stream: true, maxTokens: 8000 });
    await waitFor('the stream to open', () => mock.openStreams === 1);
    await c.kill();
    await waitFor('killed in the status bar', () => host.status?.state === 'killed');
    assert.match(host.status!.text, / killed$/);
    await streaming;
    await waitFor('the cut alert', () => c.alerts.some((a) => a.kind === 'cut' && a.budget === 'work'));
    assert.ok(host.notes.some((n) => n.message.includes('cut at the cap') && n.buttons.includes('Open dashboard')));
    assert.equal(await send(server.url, work), 429, 'a killed budget blocks the next request');
  });

  test('the report: every budget, today by key and model, burn rate, blocked and cut counts', async () => {
    const r = await buildReport(api);
    const w = r.budgets.find((l) => l.budget.name === 'work')!;
    assert.equal(w.state, 'killed');
    assert.equal(w.budget.cap, fromUsd(100));
    assert.equal(w.burnPerHour, w.budget.spent, 'all of it was spent in the last hour');
    assert.equal(r.blockedToday, 1);
    assert.equal(r.cutToday, 1);
    assert.deepEqual(r.byKey.map((k) => k.label), ['work']);
    assert.deepEqual(r.byModel.map((m) => m.label), [MODEL]);
    assert.equal(r.spentToday, w.budget.spent);
    // The spend was real: every answered request charged from the mock's own (plausible) usage, none
    // flagged by spendcap's usage guard and charged at a ceiling instead.
    const rows = (await api.usage({ limit: 1000 })).items;
    const ok = rows.filter((row) => row.outcome === 'ok');
    assert.ok(ok.length >= 8, `${ok.length} answered requests reached 80 % of $1`);
    for (const row of ok) assert.deepEqual([row.usageSource, row.detail, row.outputTokens], ['provider', null, TURN_OUTPUT], JSON.stringify(row));
    const side = r.budgets.find((l) => l.budget.name === 'side')!;
    assert.equal(side.burnPerHour, 0);
    assert.equal(side.capReachedAt, null);
  });

  test('unkill re-opens it; the forecast says when the cap is reached at the current rate', async () => {
    await c.unkill();
    await waitFor('ok again', () => host.status?.state === 'ok');
    const w = (await buildReport(api)).budgets.find((l) => l.budget.name === 'work')!;
    const hoursLeft = (w.budget.cap - w.budget.spent - w.budget.held) / w.burnPerHour;
    const expected = Date.now() + hoursLeft * 3_600_000;
    if (w.capReachedAt !== null) assert.ok(Math.abs(w.capReachedAt.getTime() - expected) < 5_000);
    else assert.ok(w.budget.periodEnd !== null && expected >= Date.parse(w.budget.periodEnd), 'no forecast only when the period resets first');
  });

  test('a kill from elsewhere (CLI, dashboard, Slack) is notified with "+$5"; the button re-opens it', async () => {
    host.answer = (s) => (s.message.includes('was killed') ? PLUS_FIVE : undefined);
    await api.request('PATCH', '/api/budgets/work', { ceiling: null }); // the cap is at its ceiling: make room for +$5
    const before = await budget('work');
    await api.kill('work');
    await waitFor('the kill alert', () => c.alerts.some((a) => a.kind === 'killed' && a.budget === 'work')).catch((err: Error) => {
      throw new Error(`${err.message}; the extension saw: ${JSON.stringify(c.budgets.map((x) => [x.name, x.killed, x.cap]))}, log: ${host.logs.slice(-8).join(' | ')}`);
    });
    assert.ok(host.notes.some((n) => n.message.includes('"work" was killed') && n.buttons.includes(PLUS_FIVE)));
    await waitFor('re-opened by the lift', async () => (await budget('work')).cap === before.cap + fromUsd(5) && !(await budget('work')).killed);
    await waitFor('the bar after the lift', () => host.status?.state === 'ok');
  });

  test('the click lists every budget with spent, held and cap; picking one puts it in the status bar; the panel renders', async () => {
    let rows: Array<{ label: string; description: string; budget?: string }> = [];
    host.choose = (r) => {
      rows = r;
      return r.find((x) => x.budget === 'side');
    };
    await c.showDetails();
    assert.ok(rows.some((r) => r.label.startsWith('work  $') && r.description.startsWith('held $')));
    assert.ok(rows.some((r) => r.label.startsWith('Today $') && r.description === '1 blocked · 1 cut'));
    assert.ok(rows.some((r) => r.label === `model ${MODEL}`));
    assert.equal(host.status?.text, '$0.00 / $200');
    host.choose = (r) => r.find((x) => x.budget === 'action:report');
    await c.showDetails();
    const html = host.reports[host.reports.length - 1]!;
    assert.match(html, /<b>work<\/b>/);
    assert.match(html, /cut today<b>1<\/b>/);
    assert.doesNotMatch(html, /<script/i);
  });

  test('open dashboard gets a one-time link from the CLI that signs a browser in exactly once', async () => {
    const url = await c.openDashboard();
    assert.ok(url !== null, host.notes[host.notes.length - 1]?.message);
    assert.equal(host.opened[host.opened.length - 1], url);
    const m = new RegExp(`^${server.url.replace(/[.]/g, '\\.')}/dashboard#token=(sct-[A-Za-z0-9_-]+)$`).exec(url);
    assert.ok(m, url);
    const exchange = () => fetch(`${server.url}/dashboard/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-spendcap-csrf': '1' }, body: JSON.stringify({ token: decodeURIComponent(m[1]!) }) });
    const first = await exchange();
    assert.equal(first.status, 200);
    assert.match(first.headers.get('set-cookie') ?? '', /spendcap_session_\d+=/);
    assert.equal((await exchange()).status, 401, 'used once');
  });

  test('open dashboard works while agents are spending: the CLI is not refused by the busy server', async () => {
    mock.options = { outputTokens: 50, tokenIntervalMs: 0 };
    let stop = false;
    const agent = async () => {
      while (!stop) assert.equal(await send(server.url, work), 200);
    };
    const busy = Promise.all([agent(), agent()]);
    try {
      for (let i = 0; i < 10; i++) {
        const url = await c.openDashboard();
        assert.ok(url !== null, host.notes[host.notes.length - 1]?.message);
      }
    } finally {
      stop = true;
      await busy;
    }
  });

  test('copy env vars puts the base URLs for this spendcap on the clipboard, in the terminal shell\'s syntax', async () => {
    host.shellPath = '/bin/bash';
    const text = await c.copyEnv();
    assert.equal(host.clipboard, text);
    // Pasted in a POSIX shell, the lines point an Anthropic client at this spendcap.
    const env = await new Promise<string>((res, rej) => execFile('sh', ['-c', `${text}\nenv`], (err, out) => (err !== null ? rej(new Error(`sh: ${err.message}`)) : res(out))));
    assert.match(env, new RegExp(`^ANTHROPIC_BASE_URL=${server.url}$`, 'm'));
    assert.match(env, new RegExp(`^OPENAI_BASE_URL=${server.url}/v1$`, 'm'));
    const base = /^ANTHROPIC_BASE_URL=(.*)$/m.exec(env)![1]!;
    assert.equal(await send(base, work), 200, 'a request to that base URL with a spendcap key is answered');
    host.shellPath = '/usr/bin/fish';
    assert.match(await c.copyEnv(), new RegExp(`^set -gx ANTHROPIC_BASE_URL ${server.url}$`, 'm'));
    host.shellPath = 'C:\\Program Files\\PowerShell\\7\\pwsh.exe';
    assert.match(await c.copyEnv(), new RegExp(`^\\$env:OPENAI_BASE_URL = "${server.url}/v1"$`, 'm'));
  });

  test('the admin token appears in no log line and no notification', () => {
    assert.ok(host.logs.length > 0);
    for (const line of [...host.logs, ...host.notes.map((n) => n.message), ...host.statuses.map((s) => s.tooltip)]) assert.ok(!line.includes(adminToken), line);
  });
});

describe('when spendcap is not running', () => {
  let mock: MockAnthropic;
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  before(async () => {
    mock = await startMock({ outputTokens: 5, tokenIntervalMs: 1 });
  });
  after(async () => {
    for (const ch of children) await stopChild(ch);
    await mock.close();
    for (const d of dirs) removeDir(d);
  });

  test('"spendcap: off", click starts it in a terminal, the bar comes alive; a restart is followed with backoff', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const port = await freePort();
    const host = new TestHost(settings(`http://127.0.0.1:${port}`, dir));
    // The "terminal" runs the line it is given in a shell, as VS Code's would.
    host.onTerminal = (line) => children.push(spawn('sh', ['-c', `exec ${line}`], { stdio: 'ignore', env: { ...process.env, SPENDCAP_ANTHROPIC_BASE_URL: mock.url } }));
    const c = new Controller(host, fast);
    try {
      await c.start();
      assert.equal(host.status?.text, 'spendcap: off');
      assert.equal(host.status?.command, 'spendcap.start');
      c.startServerInTerminal();
      assert.match(host.terminals[0]!.line, new RegExp(`spendcap\\.js start --no-open --data-dir ${dir} --port ${port}$`));
      await waitFor('the started server', () => host.status?.text === 'spendcap: no budget', 15_000);
      const token = await addKey(dir, 'k', 5);
      await waitFor('the new key', () => host.status?.text === '$0.00 / $5');

      await stopChild(children[0]!);
      await waitFor('off after the stop', () => host.status?.text === 'spendcap: off');
      assert.equal(host.status?.command, 'spendcap.start');
      const connects = c.follower!.connects;
      const again = await startServer(dir, mock.url, port);
      children.push(again.child);
      await waitFor('reconnected', () => host.status?.text === '$0.00 / $5', 15_000);
      assert.ok(c.follower!.connects > connects);
      assert.equal(await send(again.url, token), 200);
      await waitFor('live after the reconnect', () => host.status?.text === '$0.01 / $5');
    } finally {
      c.stop();
    }
  });

  test('a refused token says so; the typed one is kept in secret storage and used', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const server = await startServer(dir, mock.url);
    children.push(server.child);
    const real = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
    const elsewhere = tempDir(); // a data dir without the token, as for a spendcap of another user
    dirs.push(elsewhere);
    const host = new TestHost(settings(server.url, elsewhere));
    host.secrets.set('spendcap.adminToken', 'sc-admin-wrong');
    const c = new Controller(host, fast);
    try {
      await c.start();
      await waitFor('refused', () => host.status?.text === 'spendcap: token?');
      assert.equal(host.status?.command, 'spendcap.setToken');
      host.typed = real;
      await c.setToken();
      assert.equal(host.secrets.get('spendcap.adminToken'), real);
      await waitFor('live with the typed token', () => host.status?.text === 'spendcap: no budget');
      for (const line of host.logs) assert.ok(!line.includes(real) && !line.includes('sc-admin-wrong'), line);
    } finally {
      c.stop();
    }
  });
});
