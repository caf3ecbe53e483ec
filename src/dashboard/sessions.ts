// Dashboard sign-in: one-time links (printed by `spendcap dashboard`, opened by `spendcap start`)
// traded for a server-side session held in an HttpOnly cookie. Both secrets are 256 random bits,
// stored only as SHA-256 in the SQLite store, so the CLI and the server share them through the file.
import { randomBytes } from 'node:crypto';
import { hashToken } from '../secrets/index.js';
import { lockHolder } from '../server/lock.js';
import type { Store } from '../store/index.js';

export const LINK_TTL_MS = 10 * 60_000;
export const SESSION_TTL_MS = 30 * 86_400_000;
/** The session cookie's name stem; the full name carries the port (cookieName). */
export const COOKIE_NAME = 'spendcap_session';
const DATA_DIR_ID_META = 'data_dir_id';
/** A custom header a cross-site form cannot set, and a cross-site fetch cannot send without a CORS preflight we never grant. */
export { CSRF_HEADER } from '../admin/guard.js';
const LINK_PREFIX = 'sct-';
const SERVER_META = 'dashboard_server';

export async function newLink(store: Store, now: number = Date.now()): Promise<{ token: string; expiresAt: number }> {
  const token = `${LINK_PREFIX}${randomBytes(32).toString('base64url')}`;
  const expiresAt = now + LINK_TTL_MS;
  await store.sessions.insertLink(hashToken(token), now, expiresAt);
  return { token, expiresAt };
}

/** The token rides in the fragment: browsers never send it, so it stays out of server and proxy logs. */
export function signInUrl(base: string, token: string): string {
  return `${base.replace(/\/+$/, '')}/dashboard#token=${encodeURIComponent(token)}`;
}

/** Consumes a one-time token; a new session's secret when it was valid, else null. */
export async function exchangeLink(store: Store, token: unknown, now: number = Date.now()): Promise<{ sessionId: string; expiresAt: number } | null> {
  if (typeof token !== 'string' || !token.startsWith(LINK_PREFIX) || token.length > 200) return null;
  if (!(await store.sessions.consumeLink(hashToken(token), now))) return null;
  const sessionId = randomBytes(32).toString('base64url');
  const expiresAt = now + SESSION_TTL_MS;
  await store.sessions.insertSession(hashToken(sessionId), now, expiresAt);
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

/**
 * Browsers do not scope cookies by port: every service on localhost receives every localhost
 * cookie. The name carries the port, so two spendcaps (or another local app using the same name)
 * never overwrite or read each other's, and the value starts with this data dir's id, so a cookie
 * issued by another spendcap is refused before any lookup.
 */
export function cookieName(port: number): string {
  return `${COOKIE_NAME}_${port}`;
}

/** A random id of this data dir, made once and kept in its database. */
export async function dataDirId(store: Store): Promise<string> {
  const existing = await store.settings.getMeta(DATA_DIR_ID_META);
  if (existing !== null) return existing;
  const id = randomBytes(9).toString('base64url');
  await store.settings.setMeta(DATA_DIR_ID_META, id);
  return id;
}

/** The port the running server recorded at start (recordServer), or null. */
async function recordedPort(store: Store): Promise<number | null> {
  const raw = await store.settings.getMeta(SERVER_META);
  if (raw === null) return null;
  try {
    const port = Number(new URL((JSON.parse(raw) as { url: string }).url).port);
    return Number.isInteger(port) && port > 0 ? port : null;
  } catch {
    return null;
  }
}

/** The live session named by the request's cookie for this server's port, issued by this data dir, or null. */
export async function sessionFromCookie(store: Store, cookieHeader: string | undefined, now: number = Date.now(), portGiven?: number | null): Promise<WebSession | null> {
  const port = portGiven === undefined ? await recordedPort(store) : portGiven;
  if (port === null) return null;
  const value = parseCookies(cookieHeader).get(cookieName(port));
  if (value === undefined) return null;
  const dot = value.indexOf('.');
  if (dot === -1 || value.slice(0, dot) !== (await dataDirId(store))) return null;
  const id = value.slice(dot + 1);
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(id)) return null;
  const idHash = hashToken(id);
  const expiresAt = await store.sessions.session(idHash, now);
  return expiresAt === null ? null : { idHash, expiresAt };
}

/** "name=value" of a session's cookie, as a browser sends it back. */
export async function sessionCookiePair(store: Store, port: number, sessionId: string): Promise<string> {
  return `${cookieName(port)}=${await dataDirId(store)}.${sessionId}`;
}

/** HttpOnly: page scripts never see it; SameSite=Strict: other sites' requests never carry it. */
export async function sessionCookie(store: Store, port: number, sessionId: string, maxAgeS: number): Promise<string> {
  return `${await sessionCookiePair(store, port, sessionId)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}`;
}

export function clearedCookie(port: number): string {
  return `${cookieName(port)}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}

/** A browser can use the loopback name even when the server listens on every interface. */
export function browserBase(url: string): string {
  return url.replace(/^http:\/\/(0\.0\.0\.0|\[::\])(?=:|$)/, 'http://127.0.0.1');
}

/** The running server writes its URL at start, so `spendcap dashboard` can print a link with the right port. */
export function recordServer(store: Store, url: string, pid: number = process.pid): Promise<void> {
  return store.settings.setMeta(SERVER_META, JSON.stringify({ url: browserBase(url), pid }));
}

/** The URL of the server running on this data dir, or null when none runs (no one holds its lock). */
export async function runningServerUrl(dataDir: string, store: Store): Promise<string | null> {
  const lockPid = lockHolder(dataDir);
  if (lockPid === null) return null;
  const raw = await store.settings.getMeta(SERVER_META);
  if (raw === null) return null;
  try {
    const rec = JSON.parse(raw) as { url?: unknown; pid?: unknown };
    return rec.pid === lockPid && typeof rec.url === 'string' ? rec.url : null;
  } catch {
    return null;
  }
}
