import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectFiles, ConnectorError, findConnector } from '../../connectors/index.js';
import type { AgentConnector, AgentHome } from '../../connectors/index.js';
import { runningServerUrl } from '../../dashboard/sessions.js';
import { createKey, issueToken, KeySpecError } from '../../keys/index.js';
import type { KeyField } from '../../keys/index.js';
import { resolveDataDir } from '../../store/index.js';
import type { Store } from '../../store/index.js';
import { optionalUsd, parse, period, requireName, str, usd } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';

export const DEFAULT_URL = 'http://127.0.0.1:8787';
const FLAGS: Record<KeyField, string> = { name: '--key', provider: '--provider', providerKey: '--provider-key', baseUrl: '--base-url', mode: '--mode', ceiling: '--ceiling' };

/** The user's home as the agents see it ($HOME first, so tests and sandboxes can move it). */
export function agentHome(io: Io): AgentHome {
  return { home: io.env.HOME || homedir(), env: io.env, platform: process.platform };
}

/** --url, else the server running on this data dir, else the default address. */
export async function serverUrl(flag: string | undefined, dataDir: string, store: Store): Promise<string> {
  if (flag !== undefined) {
    let u: URL;
    try {
      u = new URL(flag);
    } catch {
      throw new UsageError(`--url "${flag}" is not a URL (e.g. http://127.0.0.1:8787)`);
    }
    return u.href.replace(/\/+$/, '');
  }
  return ((await runningServerUrl(dataDir, store)) ?? DEFAULT_URL).replace(/\/+$/, '');
}

/** Connector failures are the user's to fix: printed as usage errors (exit 2). */
export function connector(name: string): AgentConnector {
  try {
    return findConnector(name);
  } catch (err) {
    if (err instanceof ConnectorError) throw new UsageError(err.message);
    throw err;
  }
}

const shellQuote = (s: string) => (/^[A-Za-z0-9_./:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The command Claude Code runs for its status line: this very spendcap, on this data dir. */
export function statuslineCommand(dataDir: string, env: NodeJS.ProcessEnv): string {
  const bin = fileURLToPath(new URL('../../../../bin/spendcap.js', import.meta.url));
  const parts = [process.execPath, bin, 'statusline'];
  if (resolve(dataDir) !== resolveDataDir(undefined, { ...env, SPENDCAP_HOME: '' })) parts.push('--data-dir', dataDir);
  return parts.map(shellQuote).join(' ');
}

async function askYesNo(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const a = (await rl.question(`${question} [Y/n] `)).trim().toLowerCase();
    return a === '' || a === 'y' || a === 'yes';
  } finally {
    rl.close();
  }
}

export async function connect(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {
    key: { type: 'string' },
    url: { type: 'string' },
    provider: { type: 'string' },
    'provider-key': { type: 'string' },
    cap: { type: 'string' },
    period: { type: 'string' },
    'session-cap': { type: 'string' },
    'base-url': { type: 'string' },
    statusline: { type: 'boolean' },
    'no-statusline': { type: 'boolean' },
  });
  const agent = connector(requireName(positionals, 'agent', 'spendcap connect AGENT --key NAME [--url URL]'));
  const creating = values.provider !== undefined || values['provider-key'] !== undefined || values.cap !== undefined;
  const keyName = str(values.key) ?? (creating ? agent.id : undefined);
  if (keyName === undefined) throw new UsageError(`--key NAME is required (a spendcap key; or create one here: --provider P --provider-key K --cap USD)`);

  const { store, dataDir, masterKey } = openStore(values['data-dir'], io);
  try {
    const existing = await store.connections.get(agent.id);
    if (existing) throw new UsageError(`${agent.name} is already connected (key "${existing.keyName}"); run spendcap disconnect ${agent.id} first`);
    if (creating) {
      try {
        await createKey(store, masterKey, { name: keyName, provider: str(values.provider) ?? agent.providers[0]!, providerKey: str(values['provider-key']) ?? io.env.SPENDCAP_PROVIDER_KEY, capNanos: usd(values.cap, '--cap'), period: period(values.period), sessionCapNanos: optionalUsd(values['session-cap'], '--session-cap'), ceilingNanos: null, mode: 'hard', clamp: false, baseUrl: str(values['base-url']) }, 'cli', (f) => FLAGS[f]);
      } catch (err) {
        if (err instanceof KeySpecError) throw new UsageError(err.message);
        throw err;
      }
    }
    const key = (await store.keys.byName(keyName));
    if (!key) throw new UsageError(`no key named "${keyName}" (see: spendcap key list), or create it here with --provider P --provider-key K --cap USD`);
    if (!agent.providers.includes(key.provider)) throw new UsageError(`${agent.name} cannot use "${key.provider}" keys; it takes ${agent.providers.join(', ')} keys`);

    const url = await serverUrl(str(values.url), dataDir, store);
    let statusline = agent.id === 'claude' && values.statusline === true;
    if (agent.id === 'claude' && values.statusline === undefined && values['no-statusline'] !== true && process.stdin.isTTY && process.stdout.isTTY && !values.json) {
      statusline = await askYesNo('Also show spendcap in Claude Code\'s status line (session spend, today of the cap, burn rate)?');
    }

    const h = agentHome(io);
    const now = Date.now();
    const { token, record } = await issueToken(store, keyName, agent.id, now);
    const backupDir = join(dataDir, 'backups', `${agent.id}-${new Date(now).toISOString().replace(/[:.]/g, '-')}`);
    let files;
    try {
      ({ files } = connectFiles(agent, h, { url, token, provider: key.provider, ...(statusline ? { statuslineCommand: statuslineCommand(dataDir, io.env) } : {}) }, backupDir));
    } catch (err) {
      // Nothing points at the new token: take it back.
      await store.tokens.revokeId(record.id, now);
      if (err instanceof ConnectorError) throw new UsageError(err.message);
      throw err;
    }
    await store.connections.save({ agent: agent.id, keyName, tokenId: record.id, url, files, connectedAt: now });

    if (values.json) {
      io.out(JSON.stringify({ agent: agent.id, key: keyName, tokenId: record.id, url, statusline, files: files.map((f) => ({ path: f.path, backup: f.backup })) }, null, 2) + '\n');
      return 0;
    }
    io.out(`Connected ${agent.name} to key "${keyName}" through ${url} (token ${record.id} "${record.label}", ${record.tokenHint}).\n`);
    for (const f of files) io.out(`  wrote ${f.path}  ${f.backup === null ? '(new file)' : `backup: ${f.backup}`}\n`);
    if (statusline) io.out('  installed the spendcap status line\n');
    if (agent.afterConnect) io.out(`${agent.afterConnect}\n`);
    io.out(`Undo: spendcap disconnect ${agent.id}  (restores the files byte for byte and revokes the token)\n`);
    return 0;
  } finally {
    await store.close();
  }
}
