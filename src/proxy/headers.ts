import type { IncomingHttpHeaders } from 'node:http';
import type { ForwardedHeaders } from '../providers/types.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection']);

/**
 * Headers every protocol's clients send that the provider may use: the body's type, what the
 * client accepts, who it is (the Stainless SDKs' x-stainless-* family: retry count, timeout, OS,
 * runtime) and an idempotency key.
 */
const COMMON_NAMES = ['content-type', 'accept', 'accept-encoding', 'user-agent', 'idempotency-key'];
const COMMON_PREFIXES = ['x-stainless-'];

/**
 * The client's headers the provider needs, and nothing else: an allowlist (the common names above
 * and the protocol's own), so a browser's Cookie, a proxy's headers, spendcap's own (X-Budget-Id,
 * X-Spendcap-*) and the headers that carried the spendcap key never leave the machine.
 * content-length, host and content-encoding are set by undici for the body actually sent.
 * When `identity` is set the provider is asked not to compress, so spendcap can read usage from
 * the very bytes it relays.
 */
export function requestHeadersForUpstream(headers: IncomingHttpHeaders, allowed: ForwardedHeaders, identity: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    if (!isForwarded(name, allowed)) continue;
    const v = headers[name];
    if (v === undefined) continue;
    out[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  if (identity) out['accept-encoding'] = 'identity';
  return out;
}

function isForwarded(name: string, allowed: ForwardedHeaders): boolean {
  if (COMMON_NAMES.includes(name) || allowed.names.includes(name)) return true;
  for (const p of COMMON_PREFIXES) if (name.startsWith(p)) return true;
  for (const p of allowed.prefixes) if (name.startsWith(p)) return true;
  return false;
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
