// Starts a real spendcap server (in this process) on a fresh data dir, and runs CLI commands
// against the same data dir through the real CLI entry.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import type { ProxyOptions } from '../../src/proxy/relay.js';
import { startServer } from '../../src/server/server.js';
import type { RunningServer, ServerOptions } from '../../src/server/server.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'spendcap-test-'));
}

export async function cli(dataDir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  let out = '';
  let err = '';
  const code = await main([...args, '--data-dir', dataDir], { out: (t) => (out += t), err: (t) => (err += t), env });
  return { code, out, err };
}

/** Creates a key through the CLI and returns its token. */
export async function addKey(dataDir: string, name: string, capUsd: number, extra: string[] = [], provider = 'anthropic'): Promise<string> {
  const r = await cli(dataDir, ['key', 'add', name, '--provider', provider, '--provider-key', `sk-test-${provider}-${name}`, '--cap', String(capUsd), '--json', ...extra]);
  if (r.code !== 0) throw new Error(`key add failed: ${r.err}`);
  return (JSON.parse(r.out) as { token: string }).token;
}

const BIN = fileURLToPath(new URL('../../../bin/spendcap.js', import.meta.url));

export interface SpendcapProcess {
  proc: ChildProcess;
  url: string;
  /** Everything it printed so far (stdout and stderr). */
  output: () => string;
}

/** `spendcap start` as a real child process on `dataDir` (upstreams from `env`); resolves once its banner is out. */
export async function startSpendcapProcess(dataDir: string, env: NodeJS.ProcessEnv, extraArgs: string[] = []): Promise<SpendcapProcess> {
  const proc = spawn(process.execPath, [BIN, 'start', '--data-dir', dataDir, '--port', '0', '--no-open', ...extraArgs], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`spendcap did not start: ${out}`)), 15_000);
    proc.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /running on (http:\/\/[^\s]+)/.exec(out);
      // The banner is complete once it says how to point the SDK at it.
      if (m && out.includes('Anthropic SDK:')) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => reject(new Error(`spendcap exited (${code}): ${out}`)));
  });
  return { proc, url, output: () => out };
}

export interface TestSpendcap {
  dataDir: string;
  server: RunningServer;
  url: string;
  log: string[];
  close(): Promise<void>;
}

/** Upstream base URLs per provider, e.g. { openai: mock.url + '/v1' }. */
export type TestBaseUrls = NonNullable<ServerOptions['baseUrls']>;

/**
 * A spendcap whose Anthropic upstream is `upstreamUrl` (null: none), and whose other providers'
 * upstreams come from `opts.baseUrls`. Requests never leave the machine: providers not given point at a closed port.
 */
export async function startSpendcap(upstreamUrl: string | null, opts: { dataDir?: string; proxy?: Partial<ProxyOptions>; pollMs?: number; baseUrls?: TestBaseUrls; cutReconcileDelaysMs?: number[] } = {}): Promise<TestSpendcap> {
  const dataDir = opts.dataDir ?? tempDataDir();
  const log: string[] = [];
  const nowhere = 'http://127.0.0.1:9';
  const baseUrls: TestBaseUrls = { anthropic: upstreamUrl ?? nowhere, openai: nowhere, openrouter: nowhere, gemini: nowhere, ...opts.baseUrls };
  const server = await startServer({ dataDir, port: 0, baseUrls, log: (l) => log.push(l), ...(opts.proxy ? { proxy: opts.proxy } : {}), ...(opts.pollMs ? { pollMs: opts.pollMs } : {}), ...(opts.cutReconcileDelaysMs ? { cutReconcileDelaysMs: opts.cutReconcileDelaysMs } : {}) });
  return {
    dataDir,
    server,
    url: server.url,
    log,
    close: async () => {
      await server.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The ledger as `spendcap log --json` prints it (newest first); each test names the fields it reads. */
export async function ledgerRows<T>(sc: { dataDir: string }): Promise<T[]> {
  const r = await cli(sc.dataDir, ['log', '--json', '--limit', '1000']);
  if (r.code !== 0) throw new Error(`spendcap log failed: ${r.err}`);
  return JSON.parse(r.out) as T[];
}

export interface BudgetStatusJson {
  name: string;
  capUsd: number;
  spentUsd: number;
  heldUsd: number;
}

/** One budget's line of `spendcap status --json`. */
export async function budgetStatus(sc: { dataDir: string }, name: string): Promise<BudgetStatusJson> {
  const r = await cli(sc.dataDir, ['status', '--json']);
  const found = (JSON.parse(r.out) as BudgetStatusJson[]).find((b) => b.name === name);
  if (!found) throw new Error(`no budget named ${name} in spendcap status`);
  return found;
}
