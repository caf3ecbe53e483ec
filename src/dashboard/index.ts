// The web dashboard's server side (contract: src/dashboard/README.md): the app shell or the sign-in
// page under /dashboard, the web build's assets, and the one-time-link → session-cookie exchange.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allowedHosts, checkHostAndOrigin } from '../admin/guard.js';
import { readJsonBody, sendApiError, sendJson } from '../admin/http.js';
import { ApiError } from '../admin/schemas.js';
import type { Store } from '../store/index.js';
import { PLACEHOLDER_SHELL, SECURITY_HEADERS, SIGN_IN_CSS, SIGN_IN_HTML, SIGN_IN_JS } from './pages.js';
import { CSRF_HEADER } from '../admin/guard.js';
import { clearedCookie, exchangeLink, sessionCookie, sessionFromCookie } from './sessions.js';
import type { WebSession } from './sessions.js';
import { pickEncoding, StaticDir } from './static.js';
import type { StaticFile } from './static.js';

export { CSRF_HEADER, COOKIE_NAME, cookieName, sessionCookiePair, newLink, signInUrl, runningServerUrl, recordServer, browserBase, sessionFromCookie, LINK_TTL_MS } from './sessions.js';

/** dist/web, next to dist/src where this file is compiled to. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

export interface DashboardDeps {
  store: Store;
  port: () => number;
  host: string;
  /** Where the web build is; dist/web by default. */
  webDir?: string;
}

export interface Dashboard {
  /** Answers /dashboard and everything below it; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>;
  /** The session of a request's cookie (the admin API accepts it in place of the admin token). */
  session(req: IncomingMessage): Promise<WebSession | null>;
}

const inline = (text: string, type: string): StaticFile => ({ type, body: Buffer.from(text), br: null, gzip: null, cacheControl: 'no-cache' });
const SIGN_IN_PAGE = inline(SIGN_IN_HTML, 'text/html; charset=utf-8');
const PLACEHOLDER = inline(PLACEHOLDER_SHELL, 'text/html; charset=utf-8');
const OWN_FILES = new Map<string, StaticFile>([
  ['/dashboard/signin.js', inline(SIGN_IN_JS, 'text/javascript; charset=utf-8')],
  ['/dashboard/signin.css', inline(SIGN_IN_CSS, 'text/css; charset=utf-8')],
]);

export function createDashboard(deps: DashboardDeps): Dashboard {
  const webDir = deps.webDir ?? DEFAULT_WEB_DIR;
  const assets = new StaticDir([join(webDir, 'assets'), webDir]);
  const root = new StaticDir([webDir]);
  let allowed: { port: number; hosts: Set<string> } | null = null;
  const hosts = (): Set<string> => {
    const port = deps.port();
    if (allowed === null || allowed.port !== port) allowed = { port, hosts: allowedHosts(deps.host, port) };
    return allowed.hosts;
  };
  const session = (req: IncomingMessage): Promise<WebSession | null> => sessionFromCookie(deps.store, req.headers.cookie, Date.now(), deps.port());

  const send = (req: IncomingMessage, res: ServerResponse, file: StaticFile, extra: Record<string, string> = {}): void => {
    const enc = pickEncoding(req.headers['accept-encoding']);
    const body = enc === 'br' && file.br ? file.br : enc === 'gzip' && file.gzip ? file.gzip : file.body;
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      'content-type': file.type,
      'content-length': String(body.length),
      'cache-control': file.cacheControl,
      ...extra,
    };
    if (file.br || file.gzip) headers.vary = headers.vary ? `${headers.vary}, Accept-Encoding` : 'Accept-Encoding';
    if (body !== file.body) headers['content-encoding'] = enc!;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  /** State changes need the custom header: a cross-site form cannot send one. */
  const requireCsrf = (req: IncomingMessage): void => {
    if (req.headers[CSRF_HEADER] !== '1') throw new ApiError(403, `send the header "${CSRF_HEADER}: 1" with every change made with the dashboard's session cookie`, CSRF_HEADER);
  };

  const dispatch = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const guard = checkHostAndOrigin({ host: req.headers.host, origin: req.headers.origin }, hosts());
    if (guard !== null) throw new ApiError(403, guard.message.replace('admin API', 'dashboard'), guard.field);
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';

    if (path === '/dashboard/session') {
      if (read) {
        const s = await session(req);
        if (s === null) sendJson(res, 401, { signedIn: false });
        else sendJson(res, 200, { signedIn: true, expiresAt: new Date(s.expiresAt).toISOString() });
        return;
      }
      if (method !== 'POST') throw Object.assign(new ApiError(405, `${method} is not allowed on ${path}; use GET, POST`), { allow: 'GET, HEAD, POST' });
      requireCsrf(req);
      const body = (await readJsonBody(req)) as { token?: unknown } | undefined;
      const made = await exchangeLink(deps.store, body?.token);
      if (made === null) throw new ApiError(401, 'this sign-in link was already used, has expired or is not one: run `spendcap dashboard` for a new one', 'token');
      sendJson(res, 200, { ok: true, expiresAt: new Date(made.expiresAt).toISOString() }, { 'set-cookie': await sessionCookie(deps.store, deps.port(), made.sessionId, Math.floor((made.expiresAt - Date.now()) / 1000)) });
      return;
    }
    if (path === '/dashboard/logout') {
      if (method !== 'POST') throw Object.assign(new ApiError(405, `${method} is not allowed on ${path}; use POST`), { allow: 'POST' });
      requireCsrf(req);
      req.resume();
      const s = await session(req);
      if (s !== null) await deps.store.sessions.removeSession(s.idHash);
      sendJson(res, 200, { ok: true }, { 'set-cookie': clearedCookie(deps.port()) });
      return;
    }
    if (!read) throw Object.assign(new ApiError(405, `${method} is not allowed on ${path}; use GET`), { allow: 'GET, HEAD' });
    req.resume();

    const own = OWN_FILES.get(path);
    if (own !== undefined) return send(req, res, own);
    if (path.startsWith('/dashboard/assets/')) {
      const file = assets.get(decodePath(path.slice('/dashboard/assets/'.length)));
      if (file === null) throw new ApiError(404, `no dashboard asset ${path}`);
      return send(req, res, file);
    }
    const last = path.slice(path.lastIndexOf('/') + 1);
    if (last.includes('.')) {
      // A file at the build's top level (favicon.ico, robots.txt); client routes never have a dot.
      const file = root.get(decodePath(path.slice('/dashboard/'.length)));
      if (file === null || last === 'index.html') throw new ApiError(404, `no dashboard file ${path}`);
      return send(req, res, file);
    }
    // Pages vary by the cookie: a shared cache must never hand the app shell to a signed-out browser.
    if ((await session(req)) === null) return send(req, res, SIGN_IN_PAGE, { vary: 'Cookie' });
    send(req, res, root.get('index.html') ?? PLACEHOLDER, { vary: 'Cookie', 'cache-control': 'no-cache' });
  };

  return {
    session,
    async handle(req, res, path) {
      if (path !== '/dashboard' && !path.startsWith('/dashboard/')) return false;
      try {
        await dispatch(req, res, path);
      } catch (caught) {
        const err = caught instanceof ApiError ? caught : new ApiError(500, `spendcap dashboard internal error: ${(caught as Error).message}`);
        req.resume();
        if (res.headersSent) res.destroy();
        else {
          const allow = (err as ApiError & { allow?: string }).allow;
          sendApiError(res, err, { ...SECURITY_HEADERS, ...(allow !== undefined ? { allow } : {}) });
        }
      }
      return true;
    },
  };
}

function decodePath(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    return '';
  }
}
