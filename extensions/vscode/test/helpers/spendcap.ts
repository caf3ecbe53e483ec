// A real spendcap for the extension's tests: the root's CLI (`node bin/spendcap.js start`, built by
// the root's tsc) in a child process, on a fresh data dir and a loopback port, in front of the root's
// mock Anthropic upstream. Needs the root built first (the root `npm test` does it).
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = resolve(__dirname, '../../../../..');
export const BIN = join(ROOT, 'bin/spendcap.js');
/** The spendcap.command setting that runs this checkout's CLI. */
export const COMMAND = `${process.execPath} ${BIN}`;
export const MODEL = 'claude-sonnet-4-5';

export interface MockAnthropic {
  url: string;
  options: { outputTokens?: number; inputTokens?: number; tokenIntervalMs?: number };
  readonly openStreams: number;
  waitIdle(): Promise<void>;
  close(): Promise<void>;
}

export async function startMock(opts: MockAnthropic['options']): Promise<MockAnthropic> {
  const href = pathToFileURL(join(ROOT, 'dist/test/helpers/mock-anthropic.js')).href;
  const mod = (await import(href)) as { startMockAnthropic(o: MockAnthropic['options']): Promise<MockAnthropic> };
  return mod.startMockAnthropic(opts);
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'spendcap-vscode-test-'));
}

/** A loopback port nothing listens on (just released by the OS). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

export interface Server {
  url: string;
  dataDir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `spendcap start` on `port` (0: any) and `dataDir`; resolves once it prints its URL. */
export function startServer(dataDir: string, upstream: string, port = 0): Promise<Server> {
  const child = spawn(process.execPath, [BIN, 'start', '--data-dir', dataDir, '--port', String(port), '--no-open', '--quiet'], {
    env: { ...process.env, SPENDCAP_ANTHROPIC_BASE_URL: upstream, SPENDCAP_OPENAI_BASE_URL: 'http://127.0.0.1:9', SPENDCAP_GEMINI_BASE_URL: 'http://127.0.0.1:9', SPENDCAP_OPENROUTER_BASE_URL: 'http://127.0.0.1:9' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((res, rej) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => rej(new Error(`spendcap did not start in 20 s: ${out}${err}`)), 20_000);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /spendcap is running on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res({ url: m[1]!, dataDir, child, stop: () => stopChild(child) });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`spendcap exited with ${code}: ${out}${err}`));
    });
  });
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    child.once('exit', () => res());
    child.kill('SIGTERM');
  });
}

/** The root CLI on `dataDir`; its stdout. */
export function cli(dataDir: string, args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    execFile(process.execPath, [BIN, ...args, '--data-dir', dataDir], (err, stdout, stderr) => (err ? rej(new Error(`spendcap ${args.join(' ')}: ${stderr}`)) : res(stdout)));
  });
}

/** Makes a key (and its budget) and returns its sc- token. */
export async function addKey(dataDir: string, name: string, capUsd: number, extra: string[] = []): Promise<string> {
  const out = await cli(dataDir, ['key', 'add', name, '--provider', 'anthropic', '--provider-key', `sk-test-${name}`, '--cap', String(capUsd), '--json', ...extra]);
  return (JSON.parse(out) as { token: string }).token;
}

/**
 * A long prompt (about 10k tokens, as an agent sends with a few files in context), so a request costs
 * cents on claude-sonnet-4-5 by its real size: the mock bills input tokens counted from the prompt it
 * received, and spendcap believes no count past what the request could hold.
 */
export const LONG_PROMPT = Array.from({ length: 400 }, (_, i) => `Line ${i} of the file under review: the function reads the config, checks the cap and returns the remaining budget.`).join('\n');

/** One Anthropic Messages request through spendcap; its HTTP status (the body is read to the end). */
export async function send(url: string, token: string, opts: { stream?: boolean; maxTokens?: number; prompt?: string } = {}): Promise<number> {
  const res = await fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': token, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, max_tokens: opts.maxTokens ?? 100, stream: opts.stream ?? false, messages: [{ role: 'user', content: opts.prompt ?? 'Say hi.' }] }),
  });
  await res.text();
  return res.status;
}

/** Output tokens of one "agent turn": with LONG_PROMPT about $0.09 on claude-sonnet-4-5 (a $1 cap is reached in a dozen). */
export const TURN_OUTPUT = 4_000;

/** One agent turn on `token`: the long prompt and a whole 4k-token answer (start the mock with outputTokens: TURN_OUTPUT). */
export function turn(url: string, token: string): Promise<number> {
  return send(url, token, { prompt: LONG_PROMPT, maxTokens: TURN_OUTPUT });
}

/** Polls `cond` every 20 ms until true or `ms` passed (then throws with `what`); generous, for a loaded machine. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
