// The contract every connector keeps, run against each with a temp HOME and real-format fixtures
// (comments, unrelated settings): after connect the agent points at spendcap, the user's other
// settings and comments survive, the backup is the old bytes, and restore puts them back exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONNECTORS, connectFiles, findConnector, readTexts, restoreFiles } from './index.js';
import type { AgentConnector, AgentHome, ConnectTarget } from './index.js';
import { parseEnv, parseJsonc, parseToml, parseYaml } from './formats.js';
import type { ProviderId } from '../pricing/index.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/agents/', import.meta.url));
const URL_ = 'http://127.0.0.1:18787';
const TOKEN = 'sc-TESTtokenTESTtokenTESTtokenTESTtok';

interface Case {
  /** Fixture file → where it goes, relative to HOME. */
  fixtures: Record<string, string>;
  provider: ProviderId;
  /** Leaf paths (dotted) connect may change; every other leaf of the fixture must survive. */
  owned: string[];
}

const CASES: Record<string, Case[]> = {
  claude: [{ fixtures: { 'claude-settings.json': '.claude/settings.json' }, provider: 'anthropic', owned: ['env.ANTHROPIC_BASE_URL', 'env.ANTHROPIC_API_KEY', 'statusLine'] }],
  codex: [{ fixtures: { 'codex-config.toml': '.codex/config.toml', 'codex.env': '.codex/.env' }, provider: 'openai', owned: ['model_provider', 'model_providers.spendcap', 'SPENDCAP_API_KEY'] }],
  opencode: [
    { fixtures: { 'opencode.jsonc': '.config/opencode/opencode.jsonc' }, provider: 'anthropic', owned: ['provider.anthropic'] },
    { fixtures: { 'opencode.jsonc': '.config/opencode/opencode.jsonc' }, provider: 'openrouter', owned: ['provider.openrouter'] },
  ],
  aider: [
    { fixtures: { 'aider.conf.yml': '.aider.conf.yml' }, provider: 'anthropic', owned: ['anthropic-api-key', 'set-env'] },
    { fixtures: { 'aider.conf.yml': '.aider.conf.yml' }, provider: 'openai', owned: ['openai-api-base', 'openai-api-key'] },
  ],
  gemini: [{ fixtures: { 'gemini-settings.json': '.gemini/settings.json', 'gemini.env': '.gemini/.env' }, provider: 'gemini', owned: ['security', 'GEMINI_API_KEY', 'GOOGLE_GEMINI_BASE_URL'] }],
  roo: [{ fixtures: { 'vscode-settings.json': '.config/Code/User/settings.json' }, provider: 'anthropic', owned: ['roo-cline.autoImportSettingsPath'] }],
};

function parseAny(path: string, text: string | null): Record<string, unknown> {
  if (path.endsWith('.toml')) return parseToml(text, path);
  if (path.endsWith('.yml') || path.endsWith('.yaml')) return parseYaml(text, path);
  if (path.endsWith('.env')) return parseEnv(text);
  return parseJsonc(text, path);
}

/** Leaves as dotted paths (keys containing dots stay whole: "roo-cline.allowedCommands"). */
function leaves(v: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) for (const [p, y] of leaves(x, prefix ? `${prefix}.${k}` : k)) out.set(p, y);
  } else out.set(prefix, JSON.stringify(v));
  return out;
}

/** Comment lines and trailing comments of a fixture, which must still be in the written file. */
function comments(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /(?:^|\s)(#.*|\/\/.*|\/\*.*\*\/)$/.exec(line);
    if (m?.[1]) out.push(m[1].trim());
  }
  return out;
}

function home(): AgentHome {
  return { home: mkdtempSync(join(tmpdir(), 'spendcap-home-')), env: {}, platform: 'linux' };
}

function place(h: AgentHome, c: Case): Map<string, Buffer> {
  const originals = new Map<string, Buffer>();
  for (const [fixture, rel] of Object.entries(c.fixtures)) {
    const path = join(h.home, rel);
    mkdirSync(dirname(path), { recursive: true });
    copyFileSync(join(FIXTURES, fixture), path);
    originals.set(path, readFileSync(path));
  }
  return originals;
}

const target = (provider: ProviderId): ConnectTarget => ({ url: URL_, token: TOKEN, provider });
const isOwned = (owned: string[], leaf: string) => owned.some((o) => leaf === o || leaf.startsWith(`${o}.`));

test('every connector has contract cases', () => {
  assert.deepEqual(CONNECTORS.map((c) => c.id).sort(), Object.keys(CASES).sort());
});

for (const connector of CONNECTORS) {
  for (const c of CASES[connector.id] ?? []) {
    test(`${connector.name} (${c.provider} key): connect over the user's real config keeps it, restore is byte for byte`, () => {
      const h = home();
      try {
        const originals = place(h, c);
        const before = readTexts(connector.files(h));
        assert.equal(connector.pointsAtSpendcap(before, URL_, h), false, 'the fixture does not point at spendcap yet');
        assert.ok(connector.detect(h, existsSync));

        const { files } = connectFiles(connector, h, target(c.provider), join(h.home, 'backups'));
        const after = readTexts(connector.files(h));
        assert.equal(connector.pointsAtSpendcap(after, URL_, h), true);
        assert.equal(connector.pointsAtSpendcap(after, 'http://127.0.0.1:9999', h), false, 'another URL is not spendcap at this URL');

        for (const [path, bytes] of originals) {
          const f = files.find((x) => x.path === path);
          assert.ok(f, `${relative(h.home, path)} was rewritten`);
          assert.ok(f.backup !== null && readFileSync(f.backup).equals(bytes), 'the backup holds the old bytes');
          const text = after.get(path)!;
          for (const [leaf, value] of leaves(parseAny(path, bytes.toString('utf8')))) {
            if (!isOwned(c.owned, leaf)) assert.equal(leaves(parseAny(path, text)).get(leaf), value, `${relative(h.home, path)}: ${leaf} survives`);
          }
          for (const comment of comments(bytes.toString('utf8'))) assert.ok(text.includes(comment), `${relative(h.home, path)}: comment "${comment}" survives`);
        }
        assert.ok([...after.values()].some((t) => t?.includes(TOKEN)), 'the token is written');

        restoreFiles(files);
        for (const [path, bytes] of originals) assert.ok(readFileSync(path).equals(bytes), `${relative(h.home, path)} restored byte for byte`);
        for (const f of files) if (f.backup === null) assert.equal(existsSync(f.path), false, `${relative(h.home, f.path)} (created by connect) is removed`);
      } finally {
        rmSync(h.home, { recursive: true, force: true });
      }
    });
  }

  test(`${connector.name}: connect on an empty HOME creates the files, disconnect removes them`, () => {
    const h = home();
    try {
      const provider = connector.providers[0]!;
      const { files } = connectFiles(connector, h, target(provider), join(h.home, 'backups'));
      assert.ok(files.length > 0 && files.every((f) => f.backup === null));
      assert.equal(connector.pointsAtSpendcap(readTexts(connector.files(h)), URL_, h), true);
      restoreFiles(files);
      for (const f of files) assert.equal(existsSync(f.path), false);
    } finally {
      rmSync(h.home, { recursive: true, force: true });
    }
  });
}

test('Claude Code: the statusline is installed when asked, beside the env', () => {
  const h = home();
  try {
    const c = findConnector('claude-code');
    connectFiles(c, h, { ...target('anthropic'), statuslineCommand: 'spendcap statusline' }, join(h.home, 'b'));
    const s = parseJsonc(readFileSync(c.configPath(h), 'utf8'), 'settings.json');
    assert.deepEqual(s.statusLine, { type: 'command', command: 'spendcap statusline', padding: 0 });
  } finally {
    rmSync(h.home, { recursive: true, force: true });
  }
});

test('Codex: the provider block is what Codex needs, and the token comes from $CODEX_HOME/.env', () => {
  const h = home();
  try {
    const c: AgentConnector = findConnector('codex');
    h.env.CODEX_HOME = join(h.home, 'elsewhere');
    connectFiles(c, h, target('openai'), join(h.home, 'b'));
    const doc = parseToml(readFileSync(join(h.home, 'elsewhere', 'config.toml'), 'utf8'), 'config.toml');
    assert.equal(doc.model_provider, 'spendcap');
    assert.deepEqual(JSON.parse(JSON.stringify(doc.model_providers)), { spendcap: { name: 'spendcap', base_url: `${URL_}/v1`, env_key: 'SPENDCAP_API_KEY', wire_api: 'responses' } });
    assert.equal(parseEnv(readFileSync(join(h.home, 'elsewhere', '.env'), 'utf8')).SPENDCAP_API_KEY, TOKEN);
  } finally {
    rmSync(h.home, { recursive: true, force: true });
  }
});

test('Cursor and Cline are refused with the reason, an unknown agent with the list', () => {
  assert.throws(() => findConnector('cursor'), /cannot configure Cursor: .*own servers/);
  assert.throws(() => findConnector('cline'), /secret storage/);
  assert.throws(() => findConnector('vim'), /unknown agent "vim"; one of: claude, codex/);
});
