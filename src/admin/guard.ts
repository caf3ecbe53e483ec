import { safeEqual } from '../secrets/index.js';

/** Hosts that mean "every interface": a browser never sends them as Host, so only the loopback names stand for them. */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '']);

/**
 * The Host header values that name this server: the loopback names on its port, and the listening
 * host when it is a specific address. Anything else is a DNS-rebinding page or a misrouted request.
 */
export function allowedHosts(listenHost: string, port: number): Set<string> {
  const names = ['127.0.0.1', 'localhost', '[::1]'];
  const h = listenHost.trim().toLowerCase();
  if (!WILDCARD_HOSTS.has(h)) names.push(h.includes(':') && !h.startsWith('[') ? `[${h}]` : h);
  const out = new Set<string>();
  for (const n of names) {
    out.add(`${n}:${port}`);
    // Browsers and curl leave out the default port.
    if (port === 80) out.add(n);
  }
  return out;
}

export interface GuardHeaders {
  host?: string | undefined;
  origin?: string | undefined;
}

/**
 * Why a request must be refused for where it claims to come from, or null. The Host check stops DNS
 * rebinding (a page whose name resolves to 127.0.0.1 sends its own name as Host); the Origin check
 * stops other sites' pages, which a browser marks with their origin.
 */
export function checkHostAndOrigin(headers: GuardHeaders, allowed: ReadonlySet<string>): { field: 'host' | 'origin'; message: string } | null {
  const host = headers.host?.trim().toLowerCase();
  if (!host || !allowed.has(host)) {
    return { field: 'host', message: `spendcap admin API: Host "${headers.host ?? ''}" is not this server; use http://127.0.0.1:PORT or http://localhost:PORT` };
  }
  const origin = headers.origin;
  if (origin === undefined) return null;
  const o = origin.trim().toLowerCase();
  if (!o.startsWith('http://') || !allowed.has(o.slice('http://'.length))) {
    return { field: 'origin', message: `spendcap admin API: requests from origin "${origin}" are refused; only pages served by this server may call it` };
  }
  return null;
}

/** The header a change made with the dashboard's session cookie must carry: a cross-site form cannot set it. */
export const CSRF_HEADER = 'x-spendcap-csrf';

/** The token of an `Authorization: Bearer …` header, or null. */
export function bearerToken(authorization: string | undefined): string | null {
  if (authorization === undefined) return null;
  const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(authorization);
  return m ? m[1]! : null;
}

/** Constant-time check of a presented token against the admin token. */
export function tokenMatches(presented: string | null, adminToken: string): boolean {
  return presented !== null && adminToken.length > 0 && safeEqual(presented, adminToken);
}
