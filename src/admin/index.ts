// The admin HTTP API (docs/admin-api.md): JSON under /api/, an SSE stream, a badge, /metrics.
// Every change goes through src/budgets/actions.ts (channel "api", or "web" when the dashboard's
// session cookie authenticated it), so it is audited like the CLI's.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { autotuneSuggestion, budgetReport, createBudget, deleteBudget, killBudget, liftBudget, readSettings, setCap, timeZoneOf, unkillBudget, writeSettings } from '../budgets/index.js';
import type { Settings } from '../budgets/index.js';
import { createKey, howToPoint, KeySpecError, removeKey } from '../keys/index.js';
import type { KeyField } from '../keys/index.js';
import { ADMIN_TOKEN_FILE, loadOrCreateMasterKey, safeEqual } from '../secrets/index.js';
import { DB_FILE } from '../store/index.js';
import type { EventChannel } from '../store/index.js';
import type { ActionResult, Bank, BudgetStatus, CapChanges, LiftHow } from '../budgets/index.js';
import { PROVIDER_IDS, usdToNanos } from '../pricing/index.js';
import type { PriceBook, ProviderId } from '../pricing/index.js';
import { openStore, StoreError } from '../store/index.js';
import type { Store } from '../store/index.js';
import { badgePath, badgeToken, renderBadge } from './badge.js';
import type { AlertService } from '../alerts/index.js';
import { alertFieldsSent, registerAlertRoutes } from './alerts-routes.js';
import { lastReconcile } from '../reconcile/index.js';
import { allowedHosts, bearerToken, checkHostAndOrigin, CSRF_HEADER, tokenMatches } from './guard.js';
import { readJsonBody, sendApiError, sendJson } from './http.js';
import { LiveFeed } from './live.js';
import { buildMetrics, DURATION_BUCKETS_S, renderMetrics } from './metrics.js';
import { budgetByModel, charts, eventsPage, keySessions, metricsRows, modelsInUse, stats, usagePage } from './queries.js';
import {
  ApiError,
  badgeQuerySchema,
  createBudgetSchema,
  createKeySchema,
  emptyQuerySchema,
  emptySchema,
  eventsQuerySchema,
  liftSchema,
  parseWith,
  priceSchema,
  queryObject,
  settingsPatchSchema,
  statsQuerySchema,
  updateBudgetSchema,
  usageQuerySchema,
} from './schemas.js';
import { budgetView, chartsView, eventView, inUseView, keyView, liveBudget, modelView, priceView, reconcileView, sessionView, statsView, suggestionView, usageView } from './views.js';

export { LiveFeed } from './live.js';

export interface AdminDeps {
  dataDir: string;
  /** Team mode: the postgres:// URL admin writes go to (absent: the data dir's SQLite file). */
  storeSpec?: string;
  /** The server's store: every read goes through it. */
  store: Store;
  bank: Bank;
  prices: PriceBook;
  adminToken: string;
  port: () => number;
  host: string;
  /** Whether the request carries a live dashboard session cookie: then it may stand in for the admin token (channel "web"). */
  webSession?: (req: IncomingMessage) => Promise<boolean>;
  /** The alert dispatcher (channels, tests, held requests); absent, the alert routes are not served. */
  alerts?: () => AlertService;
}

export interface Admin {
  /** Answers /api/* (except /api/hello) and /metrics; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<boolean>;
  /** Money moved (a hold opened, grew or settled, a request was blocked): /api/live pushes the change. */
  notify(): void;
  close(): void;
}

/** The default window of /api/stats: 30 days keeps the scan bounded; `since` widens it. */
const STATS_DEFAULT_DAYS = 30;
const BADGE_MAX_AGE_S = 5;
/** "Prices in use" looks this far back, and lists at most this many models: bounded however busy the ledger. */
const IN_USE_DAYS = 90;
const IN_USE_MAX = 200;
/** A key's sessions listed: those seen in the last 14 days (the overview's span), at most 30. */
const SESSIONS_DAYS = 14;
const SESSIONS_MAX = 30;
/** /api/stats' byDayKey and byDayModel cover this many local days, today included. */
const CHART_DAYS = 14;

type Handler = (ctx: RequestCtx) => Promise<void> | void;
interface RequestCtx {
  req: IncomingMessage;
  res: ServerResponse;
  params: string[];
  query: Record<string, string>;
  /** Who is acting, for the audit trail: "api" with the admin token, "web" with the dashboard's cookie. */
  channel: EventChannel;
}

export function createAdmin(deps: AdminDeps): Admin {
  const { store, bank } = deps;
  // Changes are written on a connection of their own: the server's connection then sees a new
  // PRAGMA data_version and the bank reloads budgets and prices, exactly as after a CLI command.
  let writer: Promise<Store> | null = null;
  const write = (): Promise<Store> => (writer ??= openStore(deps.storeSpec ?? deps.dataDir));
  let allowed: { port: number; hosts: Set<string> } | null = null;
  const hosts = (): Set<string> => {
    const port = deps.port();
    if (allowed === null || allowed.port !== port) allowed = { port, hosts: allowedHosts(deps.host, port) };
    return allowed.hosts;
  };

  const report = (): Promise<BudgetStatus[]> => budgetReport(store);
  const feed = new LiveFeed(async () => (await report()).map(liveBudget));

  /** A budget path segment: its name, or the numeric id GET /api/budgets gives (a name wins when both match). */
  const budgetName = async (segment: string): Promise<string> => {
    if (!/^[1-9]\d{0,15}$/.test(segment) || (await store.budgets.byName(segment)) !== undefined) return segment;
    return (await store.budgets.list()).find((b) => b.id === Number(segment))?.name ?? segment;
  };

  const checkBadgeToken = async (presented: string, rawSegment: string | undefined): Promise<void> => {
    let record;
    try {
      record = await store.budgets.byName(await budgetName(decodeURIComponent(rawSegment ?? '')));
    } catch {
      record = undefined;
    }
    if (record === undefined || !safeEqual(presented, badgeToken(deps.adminToken, record.id))) {
      throw new ApiError(401, "spendcap admin API: ?token= on a badge must be that budget's badge token (its badgeUrl in GET /api/budgets/:name, or spendcap budget badge NAME); the admin token goes in the Authorization header only", 'token');
    }
  };

  const findBudget = async (name: string): Promise<{ status: BudgetStatus; view: ReturnType<typeof budgetView> }> => {
    const status = (await report()).find((b) => b.name === name);
    if (status === undefined) throw new ApiError(404, `no budget named "${name}" (GET /api/budgets lists them)`);
    return { status, view: budgetView(status, await store.budgets.byName(name)) };
  };

  /** Runs an action, applies it to the running server at once, and answers with the budget after and the event row. */
  const act = async (res: ServerResponse, field: string | null, status: number, action: (s: Store) => Promise<ActionResult>): Promise<void> => {
    let result: ActionResult;
    try {
      result = await action(await write());
    } catch (err) {
      if (err instanceof StoreError) throw storeToApi(err, field);
      throw err;
    }
    await bank.refresh();
    feed.notify();
    const name = result.after?.name ?? result.before?.name ?? '';
    sendJson(res, status, {
      budget: result.after === null ? null : (await findBudget(name)).view,
      ...(result.after === null ? { deleted: name } : {}),
      event: eventView(result.event),
    });
  };

  let masterKey: Buffer | undefined;
  /** The base URL agents should use: loopback when listening on every interface. */
  const proxyBase = (): string => {
    const h = deps.host === '0.0.0.0' || deps.host === '::' || deps.host === '' ? '127.0.0.1' : deps.host;
    return `http://${h.includes(':') ? `[${h}]` : h}:${deps.port()}`;
  };

  const body = async <T>(req: IncomingMessage, parse: (b: unknown) => T): Promise<T> => parse((await readJsonBody(req)) ?? {});

  const routes: Array<{ method: string; pattern: RegExp; handler: Handler; tokenInQuery: boolean }> = [];
  const route = (method: string, path: string, handler: Handler, tokenInQuery = false) => {
    // ":x" matches one path segment (URL-encoded: a model id with "/" is sent as %2F).
    const source = path
      .split(/(:[a-z]+)/)
      .map((part) => (part.startsWith(':') ? '([^/]+)' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    routes.push({ method, pattern: new RegExp(`^${source}$`), handler, tokenInQuery });
  };

  route('GET', '/api/budgets', async ({ res, query }) => {
    parseWith(emptyQuerySchema, query, 'query');
    const records = new Map((await store.budgets.list()).map((b) => [b.name, b]));
    sendJson(res, 200, { budgets: (await report()).map((s) => budgetView(s, records.get(s.name))) });
  });
  route('POST', '/api/budgets', async ({ req, res, channel }) => {
    const b = await body(req, (x) => parseWith(createBudgetSchema, x, 'body'));
    await act(res, 'name', 201, (s) =>
      createBudget(s, { name: b.name, scope: b.scope, capNanos: usdToNanos(b.cap), period: b.period as BudgetStatus['period'], mode: b.mode, ceilingNanos: b.ceiling === null ? null : usdToNanos(b.ceiling), clamp: b.clamp, autotune: b.autotune }, channel),
    );
  });
  route('GET', '/api/budgets/:name', async ({ res, params, query }) => {
    parseWith(emptyQuerySchema, query, 'query');
    const { status, view } = await findBudget(params[0]!);
    const record = (await store.budgets.byName(status.name))!;
    const now = Date.now();
    const tz = timeZoneOf(await readSettings(store));
    // Every key budget lists its recent sessions (capped or not); "open" when a request of that session holds money right now.
    let sessions: ReturnType<typeof sessionView>[] = [];
    if (record.keyId !== null) {
      const inFlight = new Map<string, number>();
      for (const h of bank.openHolds) if (h.key.record.id === record.keyId && h.session !== null && !h.settled) inFlight.set(h.session, Math.max(inFlight.get(h.session) ?? 0, h.startedAt));
      const listed = await keySessions(store, record.keyId, now - SESSIONS_DAYS * 86_400_000, SESSIONS_MAX);
      // A session whose first request is still running has no ledger row yet: it leads the list.
      const known = new Set(listed.map((x) => x.session));
      const fresh = [...inFlight].filter(([id]) => !known.has(id)).sort((a, b) => b[1] - a[1]).map(([id, ts]) => ({ session: id, requests: 0, spentNanos: 0, lastTs: ts, lastOutcome: null }));
      sessions = [...fresh, ...listed].slice(0, SESSIONS_MAX).map((x) => sessionView(x, status.effectiveSessionCapNanos, inFlight.has(x.session)));
    }
    sendJson(res, 200, {
      ...view,
      // Read-only, this budget's badge only: safe to put in an <img> on a page.
      badgeUrl: `${proxyBase()}${badgePath(deps.adminToken, record.id)}`,
      sessions,
      byModel: (await budgetByModel(store, record, status.periodStart)).map(modelView),
      // The same rule `creep` applies, for every budget whatever its auto-tune mode, so the page never recomputes it.
      autotuneSuggestion: suggestionView(await autotuneSuggestion(store, record, now, tz)),
    });
  });
  route('PATCH', '/api/budgets/:name', async ({ req, res, params, channel }) => {
    const b = await body(req, (x) => parseWith(updateBudgetSchema, x, 'body'));
    const changes: CapChanges = {
      ...(b.cap !== undefined ? { capNanos: usdToNanos(b.cap) } : {}),
      ...(b.period !== undefined ? { period: b.period as BudgetStatus['period'] } : {}),
      ...(b.mode !== undefined ? { mode: b.mode } : {}),
      ...(b.ceiling !== undefined ? { ceilingNanos: b.ceiling === null ? null : usdToNanos(b.ceiling) } : {}),
      ...(b.sessionCap !== undefined ? { sessionCapNanos: b.sessionCap === null ? null : usdToNanos(b.sessionCap) } : {}),
      ...(b.clamp !== undefined ? { clamp: b.clamp } : {}),
      ...(b.autotune !== undefined ? { autotune: b.autotune } : {}),
    };
    const field = b.sessionCap !== undefined && b.cap === undefined ? 'sessionCap' : b.cap !== undefined ? 'cap' : (Object.keys(b)[0] ?? null);
    await act(res, field, 200, (s) => setCap(s, params[0]!, changes, channel));
  });
  route('DELETE', '/api/budgets/:name', async ({ req, res, params, channel }) => {
    await body(req, (x) => parseWith(emptySchema, x, 'body'));
    await act(res, null, 200, (s) => deleteBudget(s, params[0]!, channel));
  });
  route('POST', '/api/budgets/:name/kill', async ({ req, res, params, channel }) => {
    await body(req, (x) => parseWith(emptySchema, x, 'body'));
    await act(res, null, 200, (s) => killBudget(s, params[0]!, channel));
  });
  route('POST', '/api/budgets/:name/unkill', async ({ req, res, params, channel }) => {
    await body(req, (x) => parseWith(emptySchema, x, 'body'));
    await act(res, null, 200, (s) => unkillBudget(s, params[0]!, channel));
  });
  route('POST', '/api/budgets/:name/lift', async ({ req, res, params, channel }) => {
    const b = await body(req, (x) => parseWith(liftSchema, x, 'body'));
    const how: LiftHow = b.add !== undefined ? { add: usdToNanos(b.add) } : b.double === true ? { double: true } : { toCeiling: true };
    await act(res, b.add !== undefined ? 'add' : b.double === true ? 'double' : 'toCeiling', 200, (s) => liftBudget(s, params[0]!, how, channel));
  });
  route('GET', '/api/budgets/:name/badge.svg', async ({ res, params, query }) => {
    const q = parseWith(badgeQuerySchema, query, 'query');
    const { status } = await findBudget(params[0]!);
    const svg = renderBadge(q.label ?? 'spend', status);
    res.writeHead(200, {
      'content-type': 'image/svg+xml; charset=utf-8',
      'content-length': String(Buffer.byteLength(svg)),
      // Private: the badge is behind a token; a few seconds spare a page's reloads.
      'cache-control': `private, max-age=${BADGE_MAX_AGE_S}`,
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    });
    res.end(svg);
  }, true);

  route('GET', '/api/keys', async ({ res, query }) => {
    parseWith(emptyQuerySchema, query, 'query');
    const budgets = new Map((await store.budgets.list()).filter((b) => b.keyId !== null).map((b) => [b.keyId, b]));
    sendJson(res, 200, { keys: (await store.keys.list()).map((k) => keyView(k, budgets.get(k.id))) });
  });
  route('GET', '/api/keys/:name', async ({ res, params, query }) => {
    parseWith(emptyQuerySchema, query, 'query');
    const k = await store.keys.byName(params[0]!);
    if (k === undefined) throw new ApiError(404, `no key named "${params[0]!}" (GET /api/keys lists them)`);
    sendJson(res, 200, keyView(k, (await store.budgets.list()).find((b) => b.keyId === k.id)));
  });
  // The same code as `spendcap key add`: the token is in this answer only; the provider key never comes back.
  route('POST', '/api/keys', async ({ req, res, channel }) => {
    const b = await body(req, (x) => parseWith(createKeySchema, x, 'body'));
    let created;
    try {
      created = await createKey(
        await write(),
        () => (masterKey ??= loadOrCreateMasterKey(deps.dataDir)),
        { name: b.name, provider: b.provider, providerKey: b.providerKey, capNanos: usdToNanos(b.capUsd), period: b.period as BudgetStatus['period'], sessionCapNanos: b.sessionCapUsd === null ? null : usdToNanos(b.sessionCapUsd), ceilingNanos: b.ceilingUsd === null ? null : usdToNanos(b.ceilingUsd), mode: b.mode, clamp: b.clamp, baseUrl: b.baseUrl },
        channel,
        (f) => KEY_FIELDS[f],
      );
    } catch (err) {
      if (err instanceof KeySpecError) throw new ApiError(400, err.message, KEY_FIELDS[err.field]);
      if (err instanceof StoreError) throw storeToApi(err, 'name');
      throw err;
    }
    await bank.refresh();
    feed.notify();
    const k = (await store.keys.byName(b.name))!;
    sendJson(res, 201, { key: keyView(k, (await store.budgets.list()).find((x) => x.keyId === k.id)), token: created.token, howToPoint: howToPoint(created.provider, created.token, proxyBase()), event: eventView(created.event) });
  });
  route('DELETE', '/api/keys/:name', async ({ req, res, params, channel }) => {
    await body(req, (x) => parseWith(emptySchema, x, 'body'));
    let event;
    try {
      event = await removeKey(await write(), params[0]!, channel);
    } catch (err) {
      if (err instanceof StoreError) throw storeToApi(err, null);
      throw err;
    }
    await bank.refresh();
    feed.notify();
    sendJson(res, 200, { deleted: params[0]!, event: eventView(event) });
  });

  route('GET', '/api/settings', async ({ res, query }) => {
    parseWith(emptyQuerySchema, query, 'query');
    sendJson(res, 200, settingsView(await readSettings(store)));
  });
  route('PATCH', '/api/settings', async ({ req, res, channel }) => {
    const b = await body(req, (x) => parseWith(settingsPatchSchema, x, 'body'));
    let result;
    try {
      result = await writeSettings(await write(), {
        ...(b.timeZone !== undefined ? { timeZone: b.timeZone } : {}),
        ...(b.thresholds !== undefined ? { thresholds: b.thresholds } : {}),
        ...(b.retainDays !== undefined ? { retainDays: b.retainDays } : {}),
        ...(b.defaultSessionCapUsd !== undefined ? { defaultSessionCapNanos: b.defaultSessionCapUsd === null ? null : usdToNanos(b.defaultSessionCapUsd) } : {}),
      }, channel);
    } catch (err) {
      if (err instanceof StoreError) throw storeToApi(err, settingsField(err.message));
      throw err;
    }
    await bank.refresh();
    feed.notify();
    sendJson(res, 200, { settings: settingsView(result.after), event: result.event === null ? null : eventView(result.event) });
  });

  // What the trust page shows: where the data lives, how each file is protected, what leaves the machine.
  route('GET', '/api/trust', async ({ res, query }) => {
    parseWith(emptyQuerySchema, query, 'query');
    const files = TRUST_FILES.map(([name, what]) => {
      const path = join(deps.dataDir, name);
      if (!existsSync(path)) return { name, path, exists: false, mode: null, bytes: null, what };
      const st = statSync(path);
      return { name, path, exists: true, mode: `0${(st.mode & 0o777).toString(8).padStart(3, '0')}`, bytes: st.size, what };
    });
    sendJson(res, 200, {
      dataDir: deps.dataDir,
      listen: proxyBase(),
      files,
      encrypted: ['provider API keys (AES-256-GCM with secret.key)', 'provider admin and management keys (spendcap provider-admin; AES-256-GCM with secret.key)'],
      hashed: ['spendcap keys (SHA-256; shown once at creation)', 'dashboard sign-in links and sessions (SHA-256)'],
      plaintext: ['budgets, caps and settings', 'ledger: model, token counts and cost of each request (no prompts or outputs)', 'audit events', 'price overrides', 'admin-token (owner-only file)'],
      neverStored: ['prompts and completions', 'request and response bodies'],
      alertChannels: await alertFieldsSent(deps.alerts?.() ?? null),
      tokenStorage: 'spendcap keys and dashboard sessions are stored as SHA-256 hashes; the admin token is a file readable by its owner only',
    });
  });

  if (deps.alerts) registerAlertRoutes(route, deps.alerts, () => feed.notify());
  // The last `spendcap reconcile`: when it ran and how far the ledger was from what providers report.
  route('GET', '/api/reconcile', async ({ res, query }) => {
    parseWith(emptyQuerySchema, query, 'query');
    sendJson(res, 200, { last: reconcileView(await lastReconcile(store)) });
  });

  route('GET', '/api/usage', async ({ res, query }) => {
    const q = parseWith(usageQuerySchema, query, 'query');
    const page = await usagePage(store, q);
    sendJson(res, 200, { total: page.total, limit: q.limit, offset: q.offset, items: page.rows.map(usageView) });
  });
  route('GET', '/api/events', async ({ res, query }) => {
    const q = parseWith(eventsQuerySchema, query, 'query');
    const page = await eventsPage(store, q);
    sendJson(res, 200, { total: page.total, limit: q.limit, offset: q.offset, items: page.rows.map(eventView) });
  });
  route('GET', '/api/stats', async ({ res, query }) => {
    const q = parseWith(statsQuerySchema, query, 'query');
    const since = q.since ?? Date.now() - STATS_DEFAULT_DAYS * 86_400_000;
    const tz = timeZoneOf(await readSettings(store));
    const s = await stats(store, { since, until: q.until ?? Number.MAX_SAFE_INTEGER, key: q.key }, tz);
    // The overview's charts: a fixed window (last 14 days, today by hour) whatever since/until say; `key` applies.
    const c = await charts(store, { now: Date.now(), key: q.key }, tz, CHART_DAYS);
    sendJson(res, 200, { ...statsView(s, since, q.until ?? null), ...chartsView(c), timeZone: tz });
  });

  route('GET', '/api/pricing', async ({ res, query }) => {
    parseWith(emptyQuerySchema, query, 'query');
    // The rates the proxy charges today for each model the ledger saw lately, resolved by the server's own PriceBook.
    const inUse = (await modelsInUse(store, Date.now() - IN_USE_DAYS * 86_400_000, IN_USE_MAX)).map((m) => inUseView(m.provider, m.model, (PROVIDER_IDS as readonly string[]).includes(m.provider) ? deps.prices.resolve(m.provider as ProviderId, m.model) : null));
    sendJson(res, 200, { unit: 'USD per million tokens', overrides: (await store.prices.list()).map(priceView), inUse });
  });
  route('PUT', '/api/pricing/:model', async ({ req, res, params, channel }) => {
    const model = modelId(params[0]!);
    const b = await body(req, (x) => parseWith(priceSchema, x, 'body'));
    const p = { model, input: usdToNanos(b.input), output: usdToNanos(b.output), cacheRead: b.cacheRead === null ? null : usdToNanos(b.cacheRead), cacheWrite: b.cacheWrite === null ? null : usdToNanos(b.cacheWrite) };
    // The same row and event `spendcap price set` writes, in one transaction.
    const event = { ts: Date.now(), kind: 'price-set', budget: null, channel, capBeforeNanos: null, capAfterNanos: null, detail: JSON.stringify(p) };
    const w = await write();
    await w.prices.set(p, event);
    await bank.refresh();
    const saved = (await store.prices.list()).find((x) => x.model === model);
    const stored = (await store.events.list(1, { sinceMs: event.ts })).find((e) => e.kind === 'price-set') ?? { id: 0, ...event };
    sendJson(res, 200, { price: saved === undefined ? null : priceView(saved), event: eventView(stored) });
  });
  route('DELETE', '/api/pricing/:model', async ({ req, res, params, channel }) => {
    const model = modelId(params[0]!);
    await body(req, (x) => parseWith(emptySchema, x, 'body'));
    const event = { ts: Date.now(), kind: 'price-rm', budget: null, channel, capBeforeNanos: null, capAfterNanos: null, detail: JSON.stringify({ model }) };
    const w = await write();
    if (!(await w.prices.remove(model, event))) throw new ApiError(404, `no price override for "${model}" (GET /api/pricing lists them)`);
    await bank.refresh();
    const stored = (await store.events.list(1, { sinceMs: event.ts })).find((e) => e.kind === 'price-rm') ?? { id: 0, ...event };
    sendJson(res, 200, { deleted: model, event: eventView(stored) });
  });

  route('GET', '/api/live', async ({ req, res, query }) => {
    parseWith(emptyQuerySchema, query, 'query');
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' });
      res.end();
      return;
    }
    await feed.subscribe(res);
  });

  route('GET', '/metrics', async ({ res, query }) => {
    parseWith(emptyQuerySchema, query, 'query');
    const budgets = await report();
    const rows = await metricsRows(store, DURATION_BUCKETS_S);
    let held = 0;
    for (const h of bank.openHolds) held += h.amountNanos;
    const text = renderMetrics(buildMetrics({ budgets, requests: rows.requests, duration: rows.duration, openRequests: bank.openHolds.size, heldNanos: held }));
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
  });

  const dispatch = async (req: IncomingMessage, res: ServerResponse, path: string, rawQuery: string): Promise<void> => {
    const guard = checkHostAndOrigin({ host: req.headers.host, origin: req.headers.origin }, hosts());
    if (guard !== null) throw new ApiError(403, guard.message, guard.field);
    const query = queryObject(rawQuery);
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const matching = routes.map((r) => ({ r, m: r.pattern.exec(path) })).filter((x) => x.m !== null);
    const hit = matching.find((x) => x.r.method === method);
    // Only the badge may carry a token in its URL (an <img> cannot send a header), and only its own
    // read-only badge token: the admin token never goes in a URL.
    const isBadge = hit !== undefined && hit.r.tokenInQuery;
    const presented = bearerToken(req.headers.authorization);
    let channel: EventChannel;
    if (isBadge && presented === null && query.token !== undefined) {
      await checkBadgeToken(query.token, hit.m![1]);
      channel = 'api';
    } else if (tokenMatches(presented, deps.adminToken)) channel = 'api';
    else if (presented === null && (await deps.webSession?.(req)) === true) {
      // The cookie rides along on any request the browser makes, so a change must also prove it comes from our page.
      if (method !== 'GET' && req.headers[CSRF_HEADER] !== '1') {
        throw new ApiError(403, `spendcap admin API: a change made with the dashboard's session cookie must carry the header "${CSRF_HEADER}: 1"`, CSRF_HEADER);
      }
      channel = 'web';
    } else {
      throw new ApiError(401, 'spendcap admin API: send the admin token as "Authorization: Bearer <token>"; it is in <data-dir>/admin-token (or sign in to the dashboard: spendcap dashboard)', 'authorization');
    }
    delete query.token;
    if (hit === undefined) {
      if (matching.length > 0) {
        const allow = [...new Set(matching.map((x) => x.r.method))];
        if (allow.includes('GET')) allow.push('HEAD');
        throw Object.assign(new ApiError(405, `${req.method ?? ''} is not allowed on ${path}; use ${allow.join(', ')}`), { allow: allow.join(', ') });
      }
      throw new ApiError(404, `no admin endpoint ${path} (see docs/admin-api.md)`);
    }
    let params: string[];
    try {
      params = hit.m!.slice(1).map((p) => decodeURIComponent(p));
      if (path.startsWith('/api/budgets/') && params[0] !== undefined) params[0] = await budgetName(params[0]);
    } catch {
      throw new ApiError(400, `the path ${path} is not valid URL encoding`);
    }
    await hit.r.handler({ req, res, params, query, channel });
  };

  return {
    async handle(req, res, path, query) {
      if (path !== '/metrics' && !path.startsWith('/api/') && path !== '/api') return false;
      if (path === '/api/hello') return false;
      try {
        await dispatch(req, res, path, query);
      } catch (caught) {
        // Anything unexpected (a busy database, say) still answers in the API's own shape.
        const err = caught instanceof ApiError ? caught : new ApiError(500, `spendcap admin API internal error: ${(caught as Error).message}`);
        req.resume();
        if (res.headersSent) res.destroy();
        else {
          const extra: Record<string, string> = {};
          if (err.status === 401) extra['www-authenticate'] = 'Bearer realm="spendcap"';
          // The rest of an oversized body is not read: the connection cannot carry another request.
          if (err.status === 413) extra.connection = 'close';
          const allow = (err as ApiError & { allow?: string }).allow;
          if (allow !== undefined) extra.allow = allow;
          sendApiError(res, err, extra);
        }
      }
      return true;
    },
    notify: () => feed.notify(),
    close() {
      feed.close();
      void writer?.then((w) => w.close());
      writer = null;
    },
  };
}

/** src/keys names fields as the CLI does internally; the API answers with its body field names. */
const KEY_FIELDS: Record<KeyField, string> = { name: 'name', provider: 'provider', providerKey: 'providerKey', baseUrl: 'baseUrl', mode: 'mode', ceiling: 'ceilingUsd' };

const TRUST_FILES: readonly [name: string, what: string][] = [
  [DB_FILE, 'SQLite store: keys (provider keys encrypted), budgets, ledger, events, settings'],
  [`${DB_FILE}-wal`, 'SQLite write-ahead log of the store'],
  [`${DB_FILE}-shm`, 'SQLite shared-memory index of the write-ahead log'],
  ['secret.key', 'master key that encrypts provider keys at rest'],
  [ADMIN_TOKEN_FILE, 'admin API token (Authorization: Bearer)'],
  ['server.pid', 'the pid of the running server (for messages)'],
  ['server.lock', 'lock: one server per data dir (an exclusive SQLite lock the OS frees when the server exits)'],
];

function settingsView(s: Settings) {
  return { timeZone: s.timeZone, effectiveTimeZone: timeZoneOf(s), thresholds: s.thresholds, retainDays: s.retainDays, defaultSessionCapUsd: s.defaultSessionCapNanos === null ? null : s.defaultSessionCapNanos / 1e9 };
}

/** Which body field a settings rule refused, from its message (src/budgets/settings.ts words them). */
function settingsField(message: string): string | null {
  if (/time zone/i.test(message)) return 'timeZone';
  if (/threshold/i.test(message)) return 'thresholds';
  if (/retain/i.test(message)) return 'retainDays';
  if (/session cap/i.test(message)) return 'defaultSessionCapUsd';
  return null;
}

/** A model id from the path: trimmed, non-empty, bounded. */
function modelId(raw: string): string {
  const m = raw.trim();
  if (m === '' || m.length > 200) throw new ApiError(400, 'model: must be 1–200 characters (URL-encode "/" as %2F)', 'model');
  return m;
}

function storeToApi(err: StoreError, field: string | null): ApiError {
  switch (err.code) {
    case 'E_NOT_FOUND':
      return new ApiError(404, err.message);
    case 'E_EXISTS':
      return new ApiError(409, err.message, field);
    case 'E_LOCKED':
      return new ApiError(409, err.message);
    default:
      return new ApiError(400, err.message, field);
  }
}
