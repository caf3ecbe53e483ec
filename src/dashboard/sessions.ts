// Dashboard sign-in: one-time links (printed by `spendcap dashboard`, opened by `spendcap start`)
// traded for a server-side session held in an HttpOnly cookie. Both secrets are 256 random bits,
// stored only as SHA-256 in the SQLite store, so the CLI and the server share them through the file.
import { randomBytes } from 'node:crypto';
import { hashToken } from '../secrets/index.js';
import { lockHolder } from '../server/lock.js';
import type { SqliteStore } from '../store/index.js';

export const LINK_TTL_MS = 10 * 60_000;
export const SESSION_TTL_MS = 30 * 86_400_000;
export const COOKIE_NAME = 'spendcap_session';
/** A custom header a cross-site form cannot set, and a cross-site fetch cannot send without a CORS preflight we never grant. */
export { CSRF_HEADER } from '../admin/guard.js';
const LINK_PREFIX = 'sct-';
const SERVER_META = 'dashboard_server';

export function newLink(store: SqliteStore, now: number = Date.now()): { token: string; expiresAt: number } {
  const token = `${LINK_PREFIX}${randomBytes(32).toString('base64url')}`;
  const expiresAt = now + LINK_TTL_MS;
  store.insertDashboardLink(hashToken(token), now, expiresAt);
  return { token, expiresAt };
}

/** The token rides in the fragment: browsers never send it, so it stays out of server and proxy logs. */
export function signInUrl(base: string, token: string): string {
  return `${base.replace(/\/+$/, '')}/dashboard#token=${encodeURIComponent(token)}`;
}

/** Consumes a one-time token; a new session's secret when it was valid, else null. */
export function exchangeLink(store: SqliteStore, token: unknown, now: number = Date.now()): { sessionId: string; expiresAt: number } | null {
  if (typeof token !== 'string' || !token.startsWith(LINK_PREFIX) || token.length > 200) return null;
  if (!store.consumeDashboardLink(hashToken(token), now)) return null;
  const sessionId = randomBytes(32).toString('base64url');
  const expiresAt = now + SESSION_TTL_MS;
  store.insertDashboardSession(hashToken(sessionId), now, expiresAt);
  return { sessionId, expiresAt };
}

/** name → value of a Cookie header; the first of repeated names wins, as browsers send the most specific first. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name !== '' && !out.has(name)) out.set(name, value);
  }
  return out;
}

export interface WebSession {
  idHash: string;
  expiresAt: number;
}

/** The live session named by the request's cookie, or null. */
export function sessionFromCookie(store: SqliteStore, cookieHeader: string | undefined, now: number = Date.now()): WebSession | null {
  const id = parseCookies(cookieHeader).get(COOKIE_NAME);
  if (id === undefined || !/^[A-Za-z0-9_-]{20,100}$/.test(id)) return null;
  const idHash = hashToken(id);
  const expiresAt = store.dashboardSession(idHash, now);
  return expiresAt === null ? null : { idHash, expiresAt };
}

/** HttpOnly: page scripts never see it; SameSite=Strict: other sites' requests never carry it. */
export function sessionCookie(sessionId: string, maxAgeS: number): string {
  return `${COOKIE_NAME}=${sessionId}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}`;
}

export function clearedCookie(): string {
  return `${COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}

/** A browser can use the loopback name even when the server listens on every interface. */
export function browserBase(url: string): string {
  return url.replace(/^http:\/\/(0\.0\.0\.0|\[::\])(?=:|$)/, 'http://127.0.0.1');
}

/** The running server writes its URL at start, so `spendcap dashboard` can print a link with the right port. */
export function recordServer(store: SqliteStore, url: string, pid: number = process.pid): void {
  store.setMeta(SERVER_META, JSON.stringify({ url: browserBase(url), pid }));
}

/** The URL of the server running on this data dir, or null when none runs (no one holds its lock). */
export function runningServerUrl(dataDir: string, store: SqliteStore): string | null {
  const lockPid = lockHolder(dataDir);
  if (lockPid === null) return null;
  const raw = store.getMeta(SERVER_META);
  if (raw === null) return null;
  try {
    const rec = JSON.parse(raw) as { url?: unknown; pid?: unknown };
    return rec.pid === lockPid && typeof rec.url === 'string' ? rec.url : null;
  } catch {
    return null;
  }
}
