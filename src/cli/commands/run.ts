import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createBudget, deleteBudget } from '../../budgets/index.js';
import { issueToken, revokeKeyToken } from '../../keys/index.js';
import type { ProviderId } from '../../pricing/index.js';
import { formatUsd } from '../../pricing/index.js';
import { optionalUsd, parse, str } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { serverUrl } from './connect.js';

const USAGE = 'spendcap run --key NAME [--cap USD] [--url URL] -- CMD ARGS…';

/**
 * The variables that point a command's agents and SDKs at spendcap with the run's token. The token
 * itself is bound to the run's session (and cap); the session header is also sent where the agent
 * has a variable for extra headers (Claude Code's ANTHROPIC_CUSTOM_HEADERS), so logs name it too.
 */
export function runEnv(base: NodeJS.ProcessEnv, provider: ProviderId, url: string, token: string, session: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, SPENDCAP_API_KEY: token, SPENDCAP_SESSION: session, SPENDCAP_URL: url };
  if (provider === 'anthropic') {
    env.ANTHROPIC_BASE_URL = url;
    env.ANTHROPIC_API_KEY = token;
    delete env.ANTHROPIC_AUTH_TOKEN;
    const header = `x-spendcap-session: ${session}`;
    env.ANTHROPIC_CUSTOM_HEADERS = base.ANTHROPIC_CUSTOM_HEADERS ? `${base.ANTHROPIC_CUSTOM_HEADERS}\n${header}` : header;
  } else if (provider === 'gemini') {
    env.GOOGLE_GEMINI_BASE_URL = url;
    env.GEMINI_API_KEY = token;
    env.GOOGLE_API_KEY = token;
  } else {
    env.OPENAI_BASE_URL = `${url}/v1`;
    env.OPENAI_API_KEY = token;
  }
  return env;
}

/** Runs the child with the terminal; Ctrl-C goes to it (same process group), spendcap waits for its exit. */
function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env });
    const ignore = () => {};
    process.on('SIGINT', ignore);
    process.on('SIGTERM', ignore);
    const done = (code: number) => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', ignore);
      resolve(code);
    };
    child.on('error', (err) => {
      process.stderr.write(`spendcap run: cannot start ${cmd}: ${err.message}\n`);
      done(127);
    });
    child.on('exit', (code, signal) => done(code ?? (signal ? 128 + (signalNumber(signal) ?? 1) : 1)));
  });
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Partial<Record<NodeJS.Signals, number>>)[signal];
}

export async function run(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { key: { type: 'string' }, cap: { type: 'string' }, url: { type: 'string' } });
  const keyName = str(values.key);
  if (keyName === undefined) throw new UsageError(`--key NAME is required. Usage: ${USAGE}`);
  const [cmd, ...args] = positionals;
  if (cmd === undefined) throw new UsageError(`missing command. Usage: ${USAGE}`);
  const capNanos = optionalUsd(values.cap, '--cap');

  const session = `run-${randomBytes(6).toString('hex')}`;
  const { store, dataDir } = openStore(values['data-dir'], io);
  let token: string;
  let tokenId: number;
  let provider: ProviderId;
  let url: string;
  try {
    const key = (await store.keys.byName(keyName));
    if (!key) throw new UsageError(`no key named "${keyName}" (see: spendcap key list)`);
    provider = key.provider;
    url = await serverUrl(str(values.url), dataDir, store);
    // The run's own cap is a tag budget the run's token always charges; it goes away with the run.
    if (capNanos !== null) await createBudget(store, { name: session, scope: 'tag', capNanos, period: 'total' }, 'cli', { detail: `spendcap run ${cmd}` });
    ({ token, record: { id: tokenId } } = await issueToken(store, keyName, `run:${session}`, Date.now(), { session, ...(capNanos !== null ? { budget: session } : {}) }));
  } finally {
    await store.close();
  }

  const code = await runChild(cmd, args, runEnv(io.env, provider, url, token, session));

  const after = openStore(values['data-dir'], io).store;
  try {
    const key = await after.keys.byName(keyName);
    const spent = key ? await after.ledger.spentBySession(key.id, session) : 0;
    try {
      await revokeKeyToken(after, keyName, String(tokenId));
    } catch {
      // the key was removed during the run
    }
    if (capNanos !== null) {
      try {
        await deleteBudget(after, session, 'cli', { detail: 'spendcap run ended' });
      } catch {
        // removed by hand during the run
      }
    }
    io.err(`spendcap: session ${session} of key "${keyName}" spent ${formatUsd(spent)}${capNanos !== null ? ` of its ${formatUsd(capNanos)} cap` : ''}; ${cmd} exited ${code}.\n`);
  } finally {
    await after.close();
  }
  return code;
}
