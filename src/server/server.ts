import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { Bank } from '../budgets/index.js';
import { PriceBook } from '../pricing/index.js';
import type { PriceOverride } from '../pricing/index.js';
import { anthropicAdapter } from '../providers/anthropic/index.js';
import { DEFAULT_PROXY_OPTIONS, relayMetered, sendError } from '../proxy/relay.js';
import type { ProxyContext, ProxyOptions, Upstream } from '../proxy/relay.js';
import { loadOrCreateMasterKey } from '../secrets/index.js';
import { ensureDataDir, SqliteStore } from '../store/index.js';
import type { PriceRecord } from '../store/index.js';
import { acquireServerLock } from './lock.js';
import { passThrough } from './passthrough.js';

export const DEFAULT_PORT = 8787;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_ANTHROPIC_BASE_URL = 'https://api.anthropic.com';

export interface ServerOptions {
  dataDir: string;
  host?: string;
  port?: number;
  anthropicBaseUrl?: string;
  proxy?: Partial<ProxyOptions>;
  /** How often the server looks for changes made by CLI commands (kill must cut within 1 s). */
  pollMs?: number;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  bank: Bank;
  store: SqliteStore;
  recoveredHolds: number;
  close(): Promise<void>;
}

export function parseUpstream(baseUrl: string): Upstream {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new Error(`upstream base URL "${baseUrl}" is not a URL (expected e.g. https://api.anthropic.com)`);
  }
  return { origin: u.origin, basePath: u.pathname.replace(/\/+$/, '') };
}

const toOverride = (p: PriceRecord): PriceOverride => ({
  model: p.model,
  input: p.input,
  output: p.output,
  ...(p.cacheRead !== null ? { cacheRead: p.cacheRead } : {}),
  ...(p.cacheWrite !== null ? { cacheWrite: p.cacheWrite } : {}),
});

/** Paths of the Anthropic Messages API, with or without /v1 (Claude Code adds it, the AI SDK expects it in the base URL). */
function anthropicPath(path: string): string | null {
  const p = path.startsWith('/anthropic/') ? path.slice('/anthropic'.length) : path;
  if (p.startsWith('/v1/')) return p;
  if (p === '/messages' || p.startsWith('/messages/') || p === '/models' || p.startsWith('/models/')) return `/v1${p}`;
  return null;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const dataDir = ensureDataDir(opts.dataDir);
  const releaseLock = acquireServerLock(dataDir);
  let store: SqliteStore | null = null;
  try {
    store = new SqliteStore(dataDir);
    const masterKey = loadOrCreateMasterKey(dataDir);
    const bank = new Bank(store, masterKey);
    const prices = new PriceBook({ overrides: store.listPrices().map(toOverride) });
    const s = store;
    bank.onReload = () => prices.setOverrides(s.listPrices().map(toOverride));
    const recoveredHolds = bank.recoverCrashedHolds();
    bank.refresh();

    const anthropic = parseUpstream(opts.anthropicBaseUrl ?? DEFAULT_ANTHROPIC_BASE_URL);
    const log = opts.log ?? (() => {});
    const ctx: ProxyContext = {
      bank,
      prices,
      dispatcher: new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connections: 256 }),
      options: { ...DEFAULT_PROXY_OPTIONS, ...opts.proxy },
      log,
    };

    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      const query = q === -1 ? '' : url.slice(q);
      const method = req.method ?? 'GET';

      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
        return;
      }
      // Claude Code warms its connection with HEAD / and probes HEAD /api/hello.
      if ((method === 'HEAD' || method === 'GET') && (path === '/' || path === '/api/hello')) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(method === 'HEAD' ? undefined : 'spendcap\n');
        return;
      }
      const ap = anthropicPath(path);
      if (ap !== null) {
        if (method === 'POST' && ap === '/v1/messages') return relayMetered(ctx, anthropicAdapter, anthropic, ap + query, req, res);
        if (method === 'POST' && ap === '/v1/messages/count_tokens') return passThrough(ctx, anthropicAdapter, anthropic, ap + query, req, res);
        if (method === 'GET' && (ap === '/v1/models' || ap.startsWith('/v1/models/'))) return passThrough(ctx, anthropicAdapter, anthropic, ap + query, req, res);
      }
      req.resume();
      sendError(res, anthropicAdapter, 'E_NOT_FOUND', `spendcap: no route for ${method} ${path}. The proxy serves POST /v1/messages, POST /v1/messages/count_tokens and GET /v1/models.`);
    };

    const server: Server = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        log(`internal error on ${req.method} ${req.url}: ${(err as Error).message}`);
        if (!res.headersSent) sendError(res, anthropicAdapter, 'E_UPSTREAM', `spendcap internal error: ${(err as Error).message}`);
        else res.destroy();
      });
    });
    // Agents keep connections open between turns; streams may run for minutes.
    server.keepAliveTimeout = 65_000;
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;

    const poll = setInterval(() => {
      try {
        bank.refresh();
      } catch (err) {
        log(`could not reload settings: ${(err as Error).message}`);
      }
    }, opts.pollMs ?? 250);
    poll.unref();

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? DEFAULT_PORT, opts.host ?? DEFAULT_HOST, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const host = opts.host ?? DEFAULT_HOST;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    return {
      url: `http://${shownHost}:${port}`,
      port,
      bank,
      store: s,
      recoveredHolds,
      close: async () => {
        clearInterval(poll);
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await ctx.dispatcher.close();
        s.close();
        releaseLock();
      },
    };
  } catch (err) {
    store?.close();
    releaseLock();
    throw err;
  }
}
