import type { IncomingHttpHeaders } from 'node:http';

/** Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection']);

/**
 * What the client sent, minus what must not reach the provider: hop-by-hop headers, the host and
 * length (undici sets them), spendcap's own headers (X-Budget-Id is one, by another name), and the
 * headers that carry the spendcap key.
 * When `identity` is set the provider is asked not to compress, so spendcap can read usage from
 * the very bytes it relays.
 */
export function requestHeadersForUpstream(headers: IncomingHttpHeaders, credentialHeaders: readonly string[], identity: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || name === 'host' || name === 'content-length' || name.startsWith('x-spendcap-') || name === 'x-budget-id') continue;
    if (credentialHeaders.includes(name)) continue;
    const v = headers[name];
    if (v === undefined) continue;
    out[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  if (identity) out['accept-encoding'] = 'identity';
  return out;
}

/** The provider's response headers as sent, minus hop-by-hop ones (Node frames the body itself). */
export function responseHeadersForClient(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name)) continue;
    const v = headers[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}
