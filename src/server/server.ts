import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { Bank } from '../budgets/index.js';
import { PriceBook } from '../pricing/index.js';
import type { PriceOverride } from '../pricing/index.js';
import type { ProviderId } from '../pricing/index.js';
import { adapterFor, DEFAULT_BASE_URLS, mainProtocol, PROTOCOL_NAMES, readyAdapters, speaks, upstreamFor } from '../providers/index.js';
import type { Protocol, Upstream } from '../providers/index.js';
import { queryWithoutCredentials } from '../proxy/credentials.js';
import { authenticate, DEFAULT_PROXY_OPTIONS, relayMetered, sendError } from '../proxy/relay.js';
import type { ProxyContext, ProxyOptions, Route } from '../proxy/relay.js';
import { loadOrCreateAdminToken, loadOrCreateMasterKey } from '../secrets/index.js';
import { ensureDataDir, openStore } from '../store/index.js';
import type { PriceRecord, Store } from '../store/index.js';
import { providerKeyOpener } from '../keys/index.js';
import { createAdmin } from '../admin/index.js';
import { createDashboard, recordServer, sessionFromCookie } from '../dashboard/index.js';
import { AlertService, AskGate } from '../alerts/index.js';
import { OpenRouterCutReconciler } from '../reconcile/index.js';
import { acquireServerLock } from './lock.js';
import type { TeamMode } from '../store/postgres/team-mode.js';
import { passAllowedFor, passThrough } from './passthrough.js';
import { safeLogLine } from './log-line.js';
import { matchRoute } from './routes.js';

export const DEFAULT_PORT = 8787;

/**
 * Bench only: `SPENDCAP_BENCH_NO_METERING=1` forwards metered calls like free ones (authenticated,
 * not parsed, held, metered or capped, no ledger row), so `npm run bench` can price metering and caps
 * against the same process. Never set it for real use: no cap holds while it is on.
 */
export const BENCH_NO_METERING_ENV = 'SPENDCAP_BENCH_NO_METERING';
export const DEFAULT_HOST = '127.0.0.1';

/** The 404 for a path spendcap does not forward; the path is shown escaped (it is the client's text). */
function notFoundMessage(method: string, path: string): string {
  return `spendcap: no route for ${method} ${JSON.stringify(path.slice(0, 200)).slice(1, -1)}. spendcap forwards metered calls and a few free ones (the model list, one model by a well-formed id, token counting); see docs/agents.md for the paths each provider's clients use.`;
}

/**
 * How long a client may take, chosen so no real client trips them: SDKs send a request's headers
 * in one packet and its body at once, and a stream stays open as long as bytes flow. A slow or
 * hostile client (slowloris) loses its socket instead of keeping it forever.
 */
export interface ServerTimeouts {
  /** From connection (or the previous request) to the end of the request's headers. */
  headersMs: number;
  /** To the end of the whole request body (a 32 MB prompt on a slow link fits). Not the response: streams are unbounded. */
  requestMs: number;
  /** An open connection between requests. */
  keepAliveMs: number;
  /** No byte either way on a socket with a request in flight: the provider's own body timeout (600 s) would have cut it already. */
  idleMs: number;
}

export const DEFAULT_SERVER_TIMEOUTS: ServerTimeouts = { headersMs: 20_000, requestMs: 300_000, keepAliveMs: 65_000, idleMs: 610_000 };

export interface ServerOptions {
  dataDir: string;
  /** Team mode: a postgres:// URL shared by several instances (`--store`, SPENDCAP_STORE); absent: the SQLite file in dataDir. */
  store?: string;
  host?: string;
  port?: number;
  anthropicBaseUrl?: string;
  /** Upstream base URLs per provider (anthropicBaseUrl wins for Anthropic); the official APIs otherwise. */
  baseUrls?: Partial<Record<Exclude<ProviderId, 'openai-compatible'>, string>>;
  proxy?: Partial<ProxyOptions>;
  /** How often the server looks for changes made by CLI commands (kill must cut within 1 s). */
  pollMs?: number;
  log?: (line: string) => void;
  timeouts?: Partial<ServerTimeouts>;
  /**
   * Keep the process up on an uncaught exception (logged): the last resort so one request can never
   * end every other stream. `spendcap start` sets it; tests leave it off so their failures stay loud.
   */
  guardProcess?: boolean;
  /** How often the alert dispatcher runs (ms); tests shorten it. */
  alertTickMs?: number;
  /** Waits before each OpenRouter generation lookup of a cut row (tests shorten them). */
  cutReconcileDelaysMs?: readonly number[];
}

export interface RunningServer {
  url: string;
  port: number;
  bank: Bank;
  store: Store;
  recoveredHolds: number;
  alerts: AlertService;
  close(): Promise<void>;
}

const toOverride = (p: PriceRecord): PriceOverride => ({
  model: p.model,
  input: p.input,
  output: p.output,
  ...(p.cacheRead !== null ? { cacheRead: p.cacheRead } : {}),
  ...(p.cacheWrite !== null ? { cacheWrite: p.cacheWrite } : {}),
});

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const dataDir = ensureDataDir(opts.dataDir);
  const releaseLock = acquireServerLock(dataDir);
  let store: Store | null = null;
  let checkpointer: { stop(): Promise<void> } | null = null;
  let team: TeamMode | null = null;
  try {
    if (opts.store !== undefined) {
      // Loaded only in team mode: the SQLite path never loads pg.
      team = await (await import('../store/postgres/team-mode.js')).openTeamMode(opts.store, dataDir);
      store = team.store;
    } else store = await openStore(dataDir);
    checkpointer = store.background?.() ?? { stop: async () => {} };
    const walCheckpoints = checkpointer;
    const masterKey = loadOrCreateMasterKey(dataDir);
    const adminToken = loadOrCreateAdminToken(dataDir);
    const bank = new Bank(store, providerKeyOpener(masterKey));
    const prices = new PriceBook({ overrides: (await store.prices.list()).map(toOverride) });
    const s = store;
    bank.onReload = async () => prices.setOverrides((await s.prices.list()).map(toOverride));
    bank.onWriteError = (err) => log(`could not write to the store: ${(err as Error).message}`);
    team?.attach(bank, (line) => log(line));
    const recoveredHolds = await bank.recoverCrashedHolds();
    await bank.refresh();
    await readyAdapters(new Set((await s.keys.list()).map((k) => k.provider)));
    // The port is known once listening; requests only arrive after that.
    const admin = createAdmin({ dataDir, ...(opts.store !== undefined ? { storeSpec: opts.store } : {}), store: s, bank, prices, adminToken, alerts: () => alerts, port: () => (server.address() as AddressInfo).port, host: opts.host ?? DEFAULT_HOST, webSession: async (req) => (await sessionFromCookie(s, req.headers.cookie)) !== null });
    const dashboard = createDashboard({ store: s, port: () => (server.address() as AddressInfo).port, host: opts.host ?? DEFAULT_HOST });
    // Spend changes reach /api/live as they happen, not at the next poll.
    bank.onChange = () => admin.notify();

    const baseUrls = { ...DEFAULT_BASE_URLS, ...opts.baseUrls, ...(opts.anthropicBaseUrl ? { anthropic: opts.anthropicBaseUrl } : {}) };
    // Parsed once: a bad URL fails the start, not a request.
    const upstreams = new Map<string, Upstream>(Object.entries(baseUrls).map(([p, u]) => [p, upstreamFor(p as ProviderId, u)]));
    const upstreamOf = (provider: ProviderId, keyBaseUrl: string | null): Upstream => {
      const id = keyBaseUrl === null ? provider : `${provider} ${keyBaseUrl}`;
      let u = upstreams.get(id);
      if (u === undefined) {
        u = upstreamFor(provider, keyBaseUrl ?? '');
        upstreams.set(id, u);
      }
      return u;
    };
    const sink = opts.log;
    // Every line is built from client and provider text: no credential and no control character reaches the terminal.
    // Without a sink (quiet) nothing is redacted: that was ~5 µs a request for a line nobody reads.
    const log = sink === undefined ? (): void => {} : (line: string): void => sink(safeLogLine(line));
    // Alerts run on their own timer and their own writer connection: nothing here is awaited by a request.
    let alertWriter: Promise<Store> | null = null;
    let reconcileWriter: Promise<Store> | null = null;
    const alerts = new AlertService({
      store: s,
      masterKey,
      bank,
      dashboardUrl: () => `http://${(opts.host ?? DEFAULT_HOST).includes(':') ? `[${opts.host ?? DEFAULT_HOST}]` : (opts.host ?? DEFAULT_HOST)}:${(server.address() as AddressInfo).port}/dashboard`,
      writer: () => (alertWriter ??= openStore(opts.store ?? dataDir)),
      onChanged: async () => {
        await bank.refresh();
        admin.notify();
      },
      log,
      ...(opts.alertTickMs !== undefined ? { tickMs: opts.alertTickMs } : {}),
    });
    const askGate = new AskGate({ store: s, bank, service: alerts });
    askGate.onChange = () => admin.notify();
    const cutReconciler = new OpenRouterCutReconciler({ writer: () => (reconcileWriter ??= openStore(dataDir)), onCorrected: () => void bank.refresh(), log, ...(opts.cutReconcileDelaysMs ? { delaysMs: opts.cutReconcileDelaysMs } : {}) });
    const ctx: ProxyContext = {
      bank,
      prices,
      // No cap on upstream sockets: every open stream needs its own, and a pool limit would queue streams behind each other.
      dispatcher: new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connections: null }),
      options: { ...DEFAULT_PROXY_OPTIONS, ...opts.proxy },
      log,
      approval: askGate,
      cutReconciler,
    };

    const meteringOff = process.env[BENCH_NO_METERING_ENV] === '1';
    if (meteringOff) process.stderr.write(`spendcap: ${BENCH_NO_METERING_ENV}=1: metering and caps are OFF (for the benchmark only; nothing is capped or recorded)\n`);

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
      // Checked by prefix first: a provider request should not pay two awaits for pages it is not.
      if (path.startsWith('/dashboard') && (await dashboard.handle(req, res, path))) return;
      if ((path.startsWith('/api') || path === '/metrics') && (await admin.handle(req, res, path, query))) return;
      const match = matchRoute(method, path);
      // Errors before the key is known speak the protocol the path names (Anthropic's on shared paths).
      const shapeOf = (p: Protocol | 'by-key' | undefined): Protocol => (p === undefined || p === 'by-key' ? 'anthropic-messages' : p);
      if (match === null) {
        req.resume();
        // A client with a valid key gets the 404 in its own provider's shape.
        const known = await authenticate(ctx, req, new URLSearchParams(query));
        const shape = typeof known === 'string' ? shapeOf(undefined) : mainProtocol(known.record.provider);
        sendError(res, adapterFor(shape), 'E_NOT_FOUND', notFoundMessage(method, path));
        return;
      }
      const key = await authenticate(ctx, req, new URLSearchParams(query));
      if (typeof key === 'string') {
        req.resume();
        sendError(res, adapterFor(shapeOf(match.protocol)), 'E_UNAUTHORIZED', key);
        return;
      }
      const provider = key.record.provider;
      const protocol = match.protocol === 'by-key' ? mainProtocol(provider) : match.protocol;
      const adapter = adapterFor(protocol);
      if ((match.forced !== null && match.forced !== provider) || !speaks(provider, protocol)) {
        req.resume();
        const asked = match.forced ?? PROTOCOL_NAMES[protocol];
        sendError(res, adapter, 'E_BAD_REQUEST', `spendcap: key "${key.record.name}" is a ${provider} key, but this request is for ${asked}. Use a key made with --provider matching the client, or point this client at the provider the key is for.`);
        return;
      }
      if (match.kind === 'pass' && !passAllowedFor(provider, match.path)) {
        req.resume();
        sendError(res, adapter, 'E_NOT_FOUND', notFoundMessage(method, path));
        return;
      }
      const route: Route = { adapter, provider, upstream: upstreamOf(provider, key.record.baseUrl), path: match.path, query: queryWithoutCredentials(query) };
      if (match.kind === 'metered' && !meteringOff) return relayMetered(ctx, route, key, req, res);
      return passThrough(ctx, route, key, req, res);
    };

    const timeouts = { ...DEFAULT_SERVER_TIMEOUTS, ...opts.timeouts };
    // Node checks the header and request timeouts on this interval: a coarse one would let a slowloris keep its sockets for it.
    const checkEvery = Math.max(50, Math.min(1000, Math.floor(timeouts.headersMs / 4)));
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      handle(req, res).catch((err: unknown) => {
        log(`internal error on ${req.method} ${(req.url ?? '/').split('?')[0]}: ${(err as Error).message}`);
        if (!res.headersSent) sendError(res, adapterFor('anthropic-messages'), 'E_UPSTREAM', `spendcap internal error: ${(err as Error).message}`);
        else res.destroy();
      });
    };
    const server: Server = createServer({ headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, keepAliveTimeout: timeouts.keepAliveMs, connectionsCheckingInterval: checkEvery }, onRequest);
    // `Expect: 100-continue` (curl, on every body over 1 MB) is answered here, never forwarded: undici
    // refuses it. A body already declared past the limit is refused before the client sends it.
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      if (Number(req.headers['content-length'] ?? 0) <= ctx.options.maxBodyBytes) res.writeContinue();
      onRequest(req, res);
    });
    // Agents keep connections open between turns; streams may run for minutes while bytes flow.
    server.timeout = timeouts.idleMs;

    const poll = setInterval(() => {
      bank.refresh().catch((err: unknown) => log(`could not reload settings: ${(err as Error).message}`));
    }, opts.pollMs ?? 250);
    poll.unref();
    const onUncaught = (err: unknown): void => log(`internal error kept from ending the server: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (opts.guardProcess === true) {
      process.on('uncaughtException', onUncaught);
      process.on('unhandledRejection', onUncaught);
    }

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? DEFAULT_PORT, opts.host ?? DEFAULT_HOST, () => resolve());
    });
    await alerts.start();
    const port = (server.address() as AddressInfo).port;
    const host = opts.host ?? DEFAULT_HOST;
    const shownHost = host.includes(':') ? `[${host}]` : host;
    // `spendcap dashboard` reads it to print a sign-in link with this port.
    await recordServer(s, `http://${shownHost}:${port}`);
    return {
      url: `http://${shownHost}:${port}`,
      port,
      bank,
      store: s,
      recoveredHolds,
      alerts,
      close: async () => {
        clearInterval(poll);
        process.off('uncaughtException', onUncaught);
        process.off('unhandledRejection', onUncaught);
        await alerts.stop();
        if (alertWriter !== null) await (await alertWriter).close();
        cutReconciler.close();
        if (reconcileWriter !== null) await (await reconcileWriter).close();
        admin.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await ctx.dispatcher.close();
        // Team mode: the last batch (settles of the requests just closed) and the free slices go back.
        await team?.stop();
        await walCheckpoints.stop();
        await s.close();
        releaseLock();
      },
    };
  } catch (err) {
    await team?.stop().catch(() => undefined);
    await checkpointer?.stop();
    await store?.close();
    releaseLock();
    throw err;
  }
}
