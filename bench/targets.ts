// The processes the benchmark measures, each its own child process on a loopback port:
// direct (the mock itself), spendcap, the floor (raw Node pipe), Portkey's gateway, nginx.

import { execFileSync, fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import Database from 'better-sqlite3';
import { freePort, processTree, sleep } from './common.js';
import type { Endpoint } from './common.js';

export type TargetName = 'direct' | 'spendcap' | 'floor' | 'portkey' | 'nginx';

export interface Target {
  readonly name: TargetName;
  readonly label: string;
  endpoint(): Endpoint;
  /** Processes to read CPU and memory from (empty for direct). */
  pids(): number[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface Env {
  repo: string;
  workDir: string;
  mockPort: number;
  /** Extra node flags for the spendcap process (e.g. --cpu-prof). */
  spendcapNodeArgs: string[];
  /** Extra node flags for the floor process. */
  floorNodeArgs?: string[];
  /** Extra environment for the spendcap process (what-if experiments). */
  spendcapEnv?: Record<string, string>;
  /** Label suffix for spendcap when it runs with a what-if preload. */
  spendcapLabel?: string;
}

const API_HEADERS = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };
export const PROVIDER_KEY = 'sk-ant-bench';

/** Resolves once something accepts TCP connections on the port. */
async function waitForPort(port: number, child: ChildProcess, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited during start (code ${child.exitCode ?? child.signalCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
}

/** Stops a child: SIGTERM, then SIGKILL after a grace period. */
export async function stopChild(child: ChildProcess | null, graceMs = 5000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Every child started here, so an abnormal exit can still kill them synchronously. */
export const liveChildren = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

function logFd(env: Env, name: string): number {
  return openSync(join(env.workDir, `${name}.log`), 'a');
}

/** Forks one of the bench's own helper scripts and waits for its { ready } message. */
export async function forkHelper(env: Env, script: string, args: string[], name: string, execArgv: string[] = []): Promise<ChildProcess> {
  const fd = logFd(env, name);
  const child = track(fork(join(env.repo, 'dist', 'bench', script), args, { stdio: ['ignore', fd, fd, 'ipc'], execArgv }));
  closeSync(fd);
  await new Promise<void>((resolve, reject) => {
    const onMsg = (m: unknown): void => {
      if (typeof m === 'object' && m !== null && 'ready' in m) {
        child.off('message', onMsg);
        resolve();
      }
    };
    child.on('message', onMsg);
    child.once('exit', (code) => reject(new Error(`${name} exited during start (code ${code}); see ${join(env.workDir, `${name}.log`)}`)));
  });
  return child;
}

export class DirectTarget implements Target {
  readonly name = 'direct';
  readonly label = 'direct to mock';
  constructor(private readonly env: Env) {}
  endpoint(): Endpoint {
    return { origin: `http://127.0.0.1:${this.env.mockPort}`, path: '/v1/messages', headers: { ...API_HEADERS, 'x-api-key': PROVIDER_KEY } };
  }
  pids(): number[] {
    return [];
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

export class FloorTarget implements Target {
  readonly name = 'floor';
  readonly label = 'raw Node pipe (floor)';
  #child: ChildProcess | null = null;
  #port = 0;
  constructor(private readonly env: Env) {}
  endpoint(): Endpoint {
    return { origin: `http://127.0.0.1:${this.#port}`, path: '/v1/messages', headers: { ...API_HEADERS, 'x-api-key': PROVIDER_KEY } };
  }
  pids(): number[] {
    return this.#child?.pid ? [this.#child.pid] : [];
  }
  async start(): Promise<void> {
    this.#port = await freePort();
    this.#child = await forkHelper(this.env, 'floor.js', [String(this.#port), String(this.env.mockPort)], 'floor', this.env.floorNodeArgs ?? []);
  }
  async stop(): Promise<void> {
    await stopChild(this.#child);
    this.#child = null;
  }
}

/** OpenAI Chat Completions through a target whose origin is `origin`, with `token` as the bearer key. */
export function chatEndpoint(origin: string, token: string): Endpoint {
  return { origin, path: '/v1/chat/completions', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } };
}

export class SpendcapTarget implements Target {
  readonly name = 'spendcap';
  readonly label: string;
  #child: ChildProcess | null = null;
  #port = 0;
  #token = '';
  #openaiToken = '';
  readonly dataDir: string;
  /**
   * `meteringOff`: the bench-only switch SPENDCAP_BENCH_NO_METERING=1 (metered calls forwarded like
   * free ones), so the same process prices its own metering and caps.
   */
  constructor(
    private readonly env: Env,
    dataDirName = 'spendcap-data',
    readonly meteringOff = false,
  ) {
    this.dataDir = join(env.workDir, dataDirName);
    this.label = meteringOff ? `spendcap, metering off (bench only${env.spendcapLabel ?? ''})` : `spendcap (caps + metering${env.spendcapLabel ?? ''})`;
  }
  endpoint(): Endpoint {
    return { origin: `http://127.0.0.1:${this.#port}`, path: '/v1/messages', headers: { ...API_HEADERS, 'x-api-key': this.#token } };
  }
  chatEndpoint(): Endpoint {
    return chatEndpoint(`http://127.0.0.1:${this.#port}`, this.#openaiToken);
  }
  pids(): number[] {
    return this.#child?.pid ? [this.#child.pid] : [];
  }
  async start(): Promise<void> {
    const bin = join(this.env.repo, 'bin', 'spendcap.js');
    if (!this.#token) {
      mkdirSync(this.dataDir, { recursive: true });
      const out = execFileSync(
        process.execPath,
        [bin, 'key', 'add', 'bench', '--provider', 'anthropic', '--provider-key', PROVIDER_KEY, '--cap', '1000000', '--period', 'total', '--json', '--data-dir', this.dataDir],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const parsed = JSON.parse(out) as { token?: unknown };
      if (typeof parsed.token !== 'string') throw new Error(`spendcap key add printed no token: ${out}`);
      this.#token = parsed.token;
      const oa = JSON.parse(
        execFileSync(process.execPath, [bin, 'key', 'add', 'bench-openai', '--provider', 'openai', '--provider-key', 'sk-bench-openai', '--cap', '1000000', '--period', 'total', '--json', '--data-dir', this.dataDir], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      ) as { token?: unknown };
      if (typeof oa.token !== 'string') throw new Error('spendcap key add (openai) printed no token');
      this.#openaiToken = oa.token;
    }
    this.#port = await freePort();
    const fd = logFd(this.env, 'spendcap');
    const child = track(
      spawn(process.execPath, [...this.env.spendcapNodeArgs, bin, 'start', '--data-dir', this.dataDir, '--port', String(this.#port), '--quiet'], {
        stdio: ['ignore', fd, fd],
        env: {
          ...process.env,
          ...this.env.spendcapEnv,
          SPENDCAP_ANTHROPIC_BASE_URL: `http://127.0.0.1:${this.env.mockPort}`,
          SPENDCAP_OPENAI_BASE_URL: `http://127.0.0.1:${this.env.mockPort}/v1`,
          ...(this.meteringOff ? { SPENDCAP_BENCH_NO_METERING: '1' } : {}),
        },
      }),
    );
    closeSync(fd);
    this.#child = child;
    await waitForPort(this.#port, child, 'spendcap');
  }
  async stop(): Promise<void> {
    await stopChild(this.#child, 10_000);
    this.#child = null;
  }
  /** Ledger rows by outcome, read from spendcap's own store (read-only). */
  ledger(): { rows: number; ok: number; outputTokens: number; okOutputTokens: number } {
    const db = new Database(join(this.dataDir, 'spendcap.db'), { readonly: true, fileMustExist: true });
    try {
      const r = db
        .prepare(
          "SELECT count(*) AS rows, coalesce(sum(outcome = 'ok'), 0) AS ok, coalesce(sum(output_tokens), 0) AS outputTokens, coalesce(sum(CASE WHEN outcome = 'ok' THEN output_tokens ELSE 0 END), 0) AS okOutputTokens FROM ledger",
        )
        .get() as { rows: number; ok: number; outputTokens: number; okOutputTokens: number };
      return r;
    } finally {
      db.close();
    }
  }
}

export class PortkeyTarget implements Target {
  readonly name = 'portkey';
  readonly label = '@portkey-ai/gateway';
  #child: ChildProcess | null = null;
  #port = 0;
  constructor(private readonly env: Env) {}
  static script(repo: string): string {
    // The bench's own package (bench/package.json), not spendcap's: a user's `npm install` never fetches a competitor.
    return join(repo, 'bench', 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  }
  endpoint(): Endpoint {
    return {
      origin: `http://127.0.0.1:${this.#port}`,
      path: '/v1/messages',
      headers: {
        ...API_HEADERS,
        'x-api-key': PROVIDER_KEY,
        'x-portkey-provider': 'anthropic',
        'x-portkey-custom-host': `http://127.0.0.1:${this.env.mockPort}/v1`,
      },
    };
  }
  pids(): number[] {
    return this.#child?.pid ? [this.#child.pid] : [];
  }
  async start(): Promise<void> {
    this.#port = await freePort();
    const fd = logFd(this.env, 'portkey');
    const child = track(
      spawn(process.execPath, [PortkeyTarget.script(this.env.repo), `--port=${this.#port}`, '--headless'], {
        stdio: ['ignore', fd, fd],
        env: { ...process.env, NODE_ENV: 'production' },
        cwd: this.env.workDir,
      }),
    );
    closeSync(fd);
    this.#child = child;
    await waitForPort(this.#port, child, 'portkey gateway', 30_000);
  }
  async stop(): Promise<void> {
    await stopChild(this.#child);
    this.#child = null;
  }
}

/** nginx from the system, if there is one. */
export function findNginx(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, 'nginx');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

export class NginxTarget implements Target {
  readonly name = 'nginx';
  readonly label = 'nginx proxy_pass (keepalive)';
  #child: ChildProcess | null = null;
  #port = 0;
  constructor(
    private readonly env: Env,
    private readonly binary: string,
  ) {}
  endpoint(): Endpoint {
    return { origin: `http://127.0.0.1:${this.#port}`, path: '/v1/messages', headers: { ...API_HEADERS, 'x-api-key': PROVIDER_KEY } };
  }
  pids(): number[] {
    return this.#child?.pid ? processTree(this.#child.pid) : [];
  }
  async start(): Promise<void> {
    this.#port = await freePort();
    const dir = join(this.env.workDir, 'nginx');
    mkdirSync(dir, { recursive: true });
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    // One worker, like the single-threaded Node proxies it is compared with.
    const conf = `
${root ? 'user root;' : ''}
worker_processes 1;
worker_rlimit_nofile 16384;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 32m;
  client_body_buffer_size 2m;
  keepalive_requests 1000000;
  keepalive_timeout 120s;
  upstream mock {
    server 127.0.0.1:${this.env.mockPort};
    keepalive 512;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
  }
  server {
    listen 127.0.0.1:${this.#port};
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 600s;
    }
  }
}
`;
    writeFileSync(join(dir, 'nginx.conf'), conf);
    const fd = logFd(this.env, 'nginx');
    const child = track(spawn(this.binary, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', fd, fd] }));
    closeSync(fd);
    this.#child = child;
    await waitForPort(this.#port, child, 'nginx');
  }
  async stop(): Promise<void> {
    // nginx: SIGQUIT is the graceful stop, SIGTERM the fast one; the fast one is what we want.
    await stopChild(this.#child);
    this.#child = null;
  }
}

export function portkeyInstalled(repo: string): boolean {
  return existsSync(PortkeyTarget.script(repo));
}
