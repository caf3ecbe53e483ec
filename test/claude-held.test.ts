import Database from 'better-sqlite3';
// What the real Claude Code CLI does while spendcap holds its request for approval (`--mode ask`):
// the key's cap is already too small, the request waits, and `spendcap approve` / `deny` (the real
// CLI, its own process) answers it after about 5 s. Every chunk Claude Code prints is timed; the
// test prints the transcript (docs/alerts.md quotes it) and asserts the promised outcome.
// Claude Code is installed once into a cache dir outside the repo, as test/real-agents.test.ts does.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import { addKey, ledgerRows, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

const CACHE = process.env.SPENDCAP_AGENT_CACHE ?? join(tmpdir(), 'spendcap-agent-cache');
const CLAUDE = join(CACHE, 'node_modules', '.bin', 'claude');
const SPENDCAP = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'spendcap.js');
const WAIT_MS = 5_000;

before(() => {
  if (existsSync(CLAUDE)) return;
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(join(CACHE, 'package.json'))) writeFileSync(join(CACHE, 'package.json'), '{"name":"spendcap-agent-cache","private":true}\n');
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '@anthropic-ai/claude-code@2.1.197'], { cwd: CACHE, stdio: 'inherit', timeout: 600_000 });
});

interface Chunk { ms: number; stream: 'out' | 'err'; text: string }
interface Run { code: number | null; chunks: Chunk[]; out: string; err: string; ms: number }

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): { done: Promise<Run>; t0: number } {
  const t0 = Date.now();
  const home = String(env.HOME);
  const p = spawn(cmd, args, { cwd: home, env: { PATH: process.env.PATH, TERM: 'dumb', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Chunk[] = [];
  p.stdout.on('data', (d: Buffer) => chunks.push({ ms: Date.now() - t0, stream: 'out', text: d.toString() }));
  p.stderr.on('data', (d: Buffer) => chunks.push({ ms: Date.now() - t0, stream: 'err', text: d.toString() }));
  const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
  const done = new Promise<Run>((resolve) => {
    p.on('exit', (code) => {
      clearTimeout(timer);
      const join2 = (s: 'out' | 'err') => chunks.filter((c) => c.stream === s).map((c) => c.text).join('');
      resolve({ code, chunks, out: join2('out'), err: join2('err'), ms: Date.now() - t0 });
    });
  });
  return { done, t0 };
}

function transcript(label: string, r: Run, answeredAt: number): string {
  const lines = r.chunks.map((c) => `  [${(c.ms / 1000).toFixed(1)} s ${c.stream}] ${c.text.replace(/\n$/, '').replace(/\n/g, '\n      ')}`);
  return `# ${label}: answered at ${(answeredAt / 1000).toFixed(1)} s, exit ${r.code} at ${(r.ms / 1000).toFixed(1)} s\n${lines.join('\n') || '  (nothing printed)'}`;
}

interface AskJson { state: string; created_ms: number; decided_ms: number | null; expires_ms: number }

/** Every held request of one key, with times relative to the run's start (the store's own rows). */
function asksOf(sc: TestSpendcap, name: string, t0: number): AskJson[] {
  // The file itself, read-only: a test may look at the rows the store wrote.
  const db = new Database(join(sc.dataDir, 'spendcap.db'), { readonly: true });
  const rows = db.prepare('SELECT state, created_at, decided_at, expires_at FROM alert_asks WHERE budget = ? ORDER BY created_at').all(name) as Array<{ state: string; created_at: number; decided_at: number | null; expires_at: number }>;
  db.close();
  return rows.map((r) => ({ state: r.state, created_ms: r.created_at - t0, decided_ms: r.decided_at === null ? null : r.decided_at - t0, expires_ms: r.expires_at - t0 }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `claude -p` on a held key and answers its held request with the real CLI ~5 s after it is
 * held. `every`: answer each later held request too, as soon as it appears (else they wait out --ask-timeout).
 */
async function heldRun(sc: TestSpendcap, name: string, answer: 'approve' | 'deny', claudeArgs: string[], every = false): Promise<{ r: Run; heldAt: number; answeredAt: number; answerOut: string; asks: AskJson[] }> {
  const token = await addKey(sc.dataDir, name, 0.0001, ['--mode', 'ask', '--ask-timeout', '30']);
  const home = mkdtempSync(join(tmpdir(), 'spendcap-held-home-'));
  try {
    const { done, t0 } = run(CLAUDE, ['-p', 'say hi', '--model', 'claude-sonnet-4-5', ...claudeArgs], { HOME: home, ANTHROPIC_BASE_URL: sc.url, ANTHROPIC_API_KEY: token, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1' });
    let exited = false;
    void done.then(() => (exited = true));
    const asks = sc.server.store.alerts;
    let heldAt = -1;
    for (let i = 0; i < 600 && heldAt < 0; i++) {
      if ((await asks.pendingAsks(Date.now(), name)).length > 0) heldAt = Date.now() - t0;
      else await sleep(50);
    }
    assert.ok(heldAt >= 0, 'Claude Code\'s request is held');
    await sleep(WAIT_MS);
    const answeredAt = Date.now() - t0;
    const a = execFileSync(process.execPath, [SPENDCAP, answer, name, '--data-dir', sc.dataDir], { encoding: 'utf8' });
    while (every && !exited) {
      if ((await asks.pendingAsks(Date.now(), name)).length > 0) execFileSync(process.execPath, [SPENDCAP, answer, name, '--data-dir', sc.dataDir], { encoding: 'utf8' });
      await sleep(100);
    }
    const r = await done;
    return { r, heldAt, answeredAt, answerOut: a, asks: asksOf(sc, name, t0) };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

test('Claude Code on a held request: waits silently, then answers after `spendcap approve`, or fails with the cap message after `spendcap deny`', { timeout: 300_000 }, async () => {
  const mock = await startMockAnthropic({ tokenIntervalMs: 1, outputTokens: 12 });
  const sc = await startSpendcap(mock.url);
  try {
    const ok = await heldRun(sc, 'held-ok', 'approve', []);
    console.log(`# spendcap approve printed: ${ok.answerOut.trim()}`);
    console.log(transcript(`claude -p, approve (held at ${(ok.heldAt / 1000).toFixed(1)} s)`, ok.r, ok.answeredAt));
    console.log(`# held requests: ${JSON.stringify(ok.asks)}`);
    assert.equal(ok.r.code, 0, ok.r.err);
    assert.ok(ok.r.chunks.every((c) => c.ms >= ok.answeredAt), 'nothing printed while held');
    assert.ok(ok.r.out.trim().length > 0, 'the answer is printed after approval');
    const rows = (await ledgerRows<{ keyName: string; outcome: string; costNanos: number }>(sc)).filter((x) => x.keyName === 'held-ok');
    assert.ok(rows.some((x) => x.outcome === 'ok' && x.costNanos > 0), 'the approved request is billed');

    const okJson = await heldRun(sc, 'held-json', 'approve', ['--output-format', 'stream-json', '--verbose']);
    console.log(transcript(`claude -p --output-format stream-json --verbose, approve (held at ${(okJson.heldAt / 1000).toFixed(1)} s)`, okJson.r, okJson.answeredAt));
    assert.equal(okJson.r.code, 0, okJson.r.err);

    const no = await heldRun(sc, 'held-no', 'deny', []);
    console.log(`# spendcap deny printed: ${no.answerOut.trim()}`);
    console.log(transcript(`claude -p, deny (held at ${(no.heldAt / 1000).toFixed(1)} s)`, no.r, no.answeredAt));
    console.log(`# held requests: ${JSON.stringify(no.asks)}`);
    assert.notEqual(no.r.code, 0, 'a denied request fails the run');
    assert.match(no.r.out + no.r.err, /reached its cap/);
    // Claude Code falls back to a non-streamed request after the denied stream: after a deny that
    // retry is refused at once, so one "no" ends the run instead of a second wait.
    assert.equal(no.asks[0]?.state, 'denied');
    assert.equal(no.asks.length, 1, `the retry after a deny is not held again: ${JSON.stringify(no.asks)}`);
    assert.ok(no.r.ms - no.answeredAt < 10_000, `Claude Code ended ${no.r.ms - no.answeredAt} ms after the deny`);

    const noJson = await heldRun(sc, 'held-no-json', 'deny', ['--output-format', 'stream-json', '--verbose'], true);
    console.log(transcript(`claude -p --output-format stream-json --verbose, deny every held request (first held at ${(noJson.heldAt / 1000).toFixed(1)} s)`, noJson.r, noJson.answeredAt));
    console.log(`# held requests: ${JSON.stringify(noJson.asks)}`);
    assert.notEqual(noJson.r.code, 0);
    assert.ok(noJson.asks.every((x) => x.state === 'denied'));
  } finally {
    await sc.close();
    await mock.close();
  }
});
