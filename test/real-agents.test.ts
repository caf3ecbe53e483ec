// The real Claude Code and Codex CLI, run through spendcap after `spendcap connect` and nothing
// else: a temp HOME, no API key or base URL in the environment. The billing mocks stand in for the
// providers. Both CLIs are npm packages with their native binary in an optional dependency; they
// are installed once into a cache dir outside the repo (too heavy for devDependencies: ~250 MB).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import { startMockOpenAI } from './helpers/mock-openai.js';
import { cli, ledgerRows, startSpendcap } from './helpers/spendcap.js';

const CACHE = process.env.SPENDCAP_AGENT_CACHE ?? join(tmpdir(), 'spendcap-agent-cache');
const PACKAGES = ['@anthropic-ai/claude-code@2.1.197', '@openai/codex@0.169.0'];
const bin = (name: string) => join(CACHE, 'node_modules', '.bin', name);

before(() => {
  if (existsSync(bin('claude')) && existsSync(bin('codex'))) return;
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(join(CACHE, 'package.json'))) writeFileSync(join(CACHE, 'package.json'), '{"name":"spendcap-agent-cache","private":true}\n');
  execFileSync('npm', ['install', '--no-audit', '--no-fund', ...PACKAGES], { cwd: CACHE, stdio: 'inherit', timeout: 600_000 });
});

function runAgent(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    // Nothing but PATH and HOME: whatever else the agent needs must come from what connect wrote.
    const p = spawn(cmd, args, { cwd, env: { PATH: process.env.PATH, TERM: 'dumb', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 90_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

interface Row {
  keyName: string;
  outcome: string;
  costNanos: number;
  session: string | null;
  model: string;
}

test('Claude Code, after `spendcap connect claude`, answers through spendcap and the ledger bills its run', async () => {
  const mock = await startMockAnthropic({ tokenIntervalMs: 1, outputTokens: 12 });
  const sc = await startSpendcap(mock.url);
  const home = mkdtempSync(join(tmpdir(), 'spendcap-cc-home-'));
  const work = mkdtempSync(join(tmpdir(), 'spendcap-cc-work-'));
  try {
    const c = await cli(sc.dataDir, ['connect', 'claude', '--provider', 'anthropic', '--provider-key', 'sk-ant-test', '--cap', '5', '--session-cap', '1'], { HOME: home });
    assert.equal(c.code, 0, c.err);
    const r = await runAgent(bin('claude'), ['-p', 'say hi', '--model', 'claude-sonnet-4-5'], { HOME: home }, work);
    console.log(`claude -p printed (exit ${r.code}):\n${r.out}${r.err}`);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.trim().length > 0);
    const rows = (await ledgerRows<Row>(sc)).filter((x) => x.keyName === 'claude');
    assert.ok(rows.length >= 1 && rows.every((x) => x.outcome === 'ok'), JSON.stringify(rows));
    assert.ok(rows.every((x) => x.session !== null), 'each row carries the run\'s own session id');
    assert.equal(mock.bills.length, rows.length, 'every request the provider billed is in the ledger');
  } finally {
    await sc.close();
    await mock.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
});

test('Codex CLI, after `spendcap connect codex`, answers through spendcap with the token from ~/.codex/.env', async () => {
  const mock = await startMockOpenAI({ tokenIntervalMs: 1, outputTokens: 12 });
  const sc = await startSpendcap(null, { baseUrls: { openai: `${mock.url}/v1` } });
  const home = mkdtempSync(join(tmpdir(), 'spendcap-cx-home-'));
  const work = mkdtempSync(join(tmpdir(), 'spendcap-cx-work-'));
  try {
    const c = await cli(sc.dataDir, ['connect', 'codex', '--provider', 'openai', '--provider-key', 'sk-proj-test', '--cap', '5'], { HOME: home });
    assert.equal(c.code, 0, c.err);
    const r = await runAgent(bin('codex'), ['exec', '--skip-git-repo-check', '--ephemeral', '-m', 'gpt-5', '--color', 'never', 'say hi'], { HOME: home }, work);
    console.log(`codex exec printed (exit ${r.code}):\n${r.out}${r.err}`);
    assert.equal(r.code, 0, r.err);
    const rows = (await ledgerRows<Row>(sc)).filter((x) => x.keyName === 'codex');
    assert.ok(rows.length >= 1 && rows.every((x) => x.outcome === 'ok'), JSON.stringify(rows));
    assert.equal(mock.bills.length, rows.length);
  } finally {
    await sc.close();
    await mock.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
});
