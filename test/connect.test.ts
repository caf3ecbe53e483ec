// `spendcap connect / agents / disconnect` through the real CLI, against a temp HOME holding a real
// Claude Code settings file and a running spendcap in front of the billing mock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseJsonc } from 'jsonc-parser';
import { parse as parseToml } from '@decimalturn/toml-patch';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import { addKey, cli, startSpendcap } from './helpers/spendcap.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/agents/', import.meta.url));

async function ask(url: string, token: string): Promise<number> {
  const r = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': token, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
  });
  await r.arrayBuffer();
  return r.status;
}

interface AgentRow {
  agent: string;
  connected: boolean;
  key: string | null;
  url: string;
  pointsAtSpendcap: boolean | null;
}

test('connect claude writes a new token of the key into settings.json; agents sees it; disconnect restores the bytes and revokes the token', async () => {
  const mock = await startMockAnthropic({ tokenIntervalMs: 0, outputTokens: 5 });
  const sc = await startSpendcap(mock.url);
  const home = mkdtempSync(join(tmpdir(), 'spendcap-home-'));
  const env = { HOME: home };
  try {
    const settings = join(home, '.claude', 'settings.json');
    mkdirSync(join(home, '.claude'));
    copyFileSync(join(FIXTURES, 'claude-settings.json'), settings);
    const original = readFileSync(settings);
    const primary = await addKey(sc.dataDir, 'work', 5);

    const r = await cli(sc.dataDir, ['connect', 'claude', '--key', 'work', '--statusline'], env);
    assert.equal(r.code, 0, r.err);
    const backup = /backup: (\S+)/.exec(r.out)?.[1];
    assert.ok(backup && readFileSync(backup).equals(original), 'the printed backup holds the old bytes');
    assert.ok(!/sc-[A-Za-z0-9_-]{32}/.test(r.out), 'the token is not printed');

    const written = parseJsonc(readFileSync(settings, 'utf8')) as { env: Record<string, string>; statusLine: { command: string }; permissions: unknown };
    assert.equal(written.env.ANTHROPIC_BASE_URL, sc.url, '--url defaults to the running server');
    assert.notEqual(written.env.ANTHROPIC_API_KEY, primary, 'a token of its own, not the key add one');
    assert.equal(written.env.CLAUDE_CODE_ENABLE_TELEMETRY, '0');
    assert.match(written.statusLine.command, /statusline/);
    assert.equal(await ask(sc.url, written.env.ANTHROPIC_API_KEY!), 200, 'the written token spends the key');

    const tokens = JSON.parse((await cli(sc.dataDir, ['key', 'tokens', 'work', '--json'])).out) as Array<{ label: string; revokedAt: string | null }>;
    assert.deepEqual(tokens.filter((t) => t.revokedAt === null).map((t) => t.label).sort(), ['claude', 'primary']);

    let rows = JSON.parse((await cli(sc.dataDir, ['agents', '--json'], env)).out) as AgentRow[];
    assert.deepEqual(rows.find((x) => x.agent === 'claude'), { ...rows.find((x) => x.agent === 'claude'), connected: true, key: 'work', url: sc.url, pointsAtSpendcap: true });
    assert.equal(rows.find((x) => x.agent === 'codex')!.connected, false);

    const twice = await cli(sc.dataDir, ['connect', 'claude', '--key', 'work'], env);
    assert.equal(twice.code, 2);
    assert.match(twice.err, /already connected.*disconnect claude/);

    // The user points Claude Code elsewhere by hand: agents says so.
    const edited = JSON.stringify({ ...written, env: { ...written.env, ANTHROPIC_BASE_URL: 'https://api.anthropic.com' } });
    writeFileSync(settings, edited);
    rows = JSON.parse((await cli(sc.dataDir, ['agents', '--json'], env)).out) as AgentRow[];
    assert.equal(rows.find((x) => x.agent === 'claude')!.pointsAtSpendcap, false);
    assert.match((await cli(sc.dataDir, ['agents'], env)).out, /claude\s+connected, but the config no longer points at spendcap/);

    const d = await cli(sc.dataDir, ['disconnect', 'claude'], env);
    assert.equal(d.code, 0, d.err);
    assert.ok(readFileSync(settings).equals(original), 'restored byte for byte');
    assert.match(d.out, /edited after connect; that version is kept at (\S+)/);
    assert.equal(readFileSync(/kept at (\S+)/.exec(d.out)![1]!, 'utf8'), edited);
    assert.equal(await ask(sc.url, written.env.ANTHROPIC_API_KEY!), 401, 'the agent token is revoked');
    assert.equal(await ask(sc.url, primary), 200, 'the key itself still works');
    rows = JSON.parse((await cli(sc.dataDir, ['agents', '--json'], env)).out) as AgentRow[];
    assert.equal(rows.find((x) => x.agent === 'claude')!.connected, false);
  } finally {
    await sc.close();
    await mock.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('connect codex --provider … --cap creates the key, then writes config.toml and .env; a wrong agent or provider is refused', async () => {
  const sc = await startSpendcap(null);
  const home = mkdtempSync(join(tmpdir(), 'spendcap-home-'));
  const env = { HOME: home };
  try {
    const r = await cli(sc.dataDir, ['connect', 'codex', '--provider', 'openai', '--provider-key', 'sk-proj-test', '--cap', '3', '--session-cap', '1', '--url', 'http://127.0.0.1:9999'], env);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /new file/);
    const keys = JSON.parse((await cli(sc.dataDir, ['key', 'list', '--json'])).out) as Array<{ name: string; provider: string; capUsd: number; sessionCapUsd: number }>;
    assert.deepEqual(keys.map((k) => [k.name, k.provider, k.capUsd, k.sessionCapUsd]), [['codex', 'openai', 3, 1]]);
    const toml = parseToml(readFileSync(join(home, '.codex', 'config.toml'), 'utf8')) as { model_provider: string; model_providers: { spendcap: { base_url: string } } };
    assert.equal(toml.model_provider, 'spendcap');
    assert.equal(toml.model_providers.spendcap.base_url, 'http://127.0.0.1:9999/v1');
    assert.match(readFileSync(join(home, '.codex', '.env'), 'utf8'), /^SPENDCAP_API_KEY=sc-/m);

    const gemini = await cli(sc.dataDir, ['connect', 'gemini', '--key', 'codex'], env);
    assert.equal(gemini.code, 2);
    assert.match(gemini.err, /Gemini CLI cannot use "openai" keys/);
    const cursor = await cli(sc.dataDir, ['connect', 'cursor', '--key', 'codex'], env);
    assert.equal(cursor.code, 2);
    assert.match(cursor.err, /cannot configure Cursor/);

    assert.equal((await cli(sc.dataDir, ['disconnect', 'codex'], env)).code, 0);
    assert.throws(() => readFileSync(join(home, '.codex', 'config.toml')), /ENOENT/);
  } finally {
    await sc.close();
    rmSync(home, { recursive: true, force: true });
  }
});
