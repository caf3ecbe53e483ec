import { sendError } from './context.js';
import type { Exchange } from './exchange.js';
import { requestHeadersForUpstream } from './headers.js';
import { finish } from './settle.js';
import { callUpstream } from './upstream-call.js';
import type { UpstreamResponse } from './upstream-call.js';

/**
 * Errors that leave before a byte of the request reached the provider: the connection was never
 * made, or undici refused the request itself (an option or header it does not support). Any other
 * failure may come after the provider read the prompt, so it is charged.
 */
const SENT_NOTHING = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_INVALID_ARG', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE']);

export function sentNothing(code: string): boolean {
  return SENT_NOTHING.has(code);
}

/** The client's forwarded headers with the provider's auth written into the same object (no second copy per request). */
function upstreamHeaders(x: Exchange): Record<string, string> {
  const { route, res, life } = x;
  const out = requestHeadersForUpstream(res.req.headers, route.adapter.forwardedHeaders, true);
  const auth = route.adapter.authHeaders(life.hold.key.providerKey, route.provider);
  for (const name in auth) out[name] = auth[name]!;
  return out;
}

/** Ten minutes: a provider may think that long before its headers, and a stream may pause that long. */
const UPSTREAM_TIMEOUT_MS = 600_000;

/**
 * Step 2, dispatch: send the admitted request to the provider with its real key. Null: the request
 * ended here (unreachable provider, or settled meanwhile by a kill, a cut or the client leaving);
 * the client has its answer.
 */
export async function dispatch(x: Exchange): Promise<UpstreamResponse | null> {
  const { ctx, route, res, life } = x;
  const { adapter, upstream } = route;
  let upstreamRes: UpstreamResponse;
  try {
    upstreamRes = await callUpstream(
      ctx.dispatcher,
      {
        origin: upstream.origin,
        path: upstream.basePath + route.path + route.query,
        method: 'POST',
        headers: upstreamHeaders(x),
        body: x.admitted.body,
        headersTimeout: UPSTREAM_TIMEOUT_MS,
        bodyTimeout: UPSTREAM_TIMEOUT_MS,
      },
      x.abort,
    );
  } catch (err) {
    life.stopClock();
    if (x.settled) return null;
    const code = (err as { code?: string }).code ?? '';
    const nothingSent = sentNothing(code);
    finish(x, 'error', null, nothingSent ? 0 : Math.min(life.amountNanos, x.admitted.model.inputEstimateNanos), `upstream unreachable: ${code || (err as Error).message}`);
    sendError(res, adapter, 'E_UPSTREAM', `spendcap could not reach the provider at ${upstream.origin}: ${code || (err as Error).message}`);
    return null;
  }
  life.stopClock();
  life.providerAnswered(upstreamRes.answeredAfterMs);
  x.status = upstreamRes.statusCode;
  // OpenRouter's generation id (header or body) is what GET /generation?id= answers for: spendcap reconcile.
  const generationId = upstreamRes.headers['x-generation-id'];
  const rid = generationId ?? upstreamRes.headers['request-id'] ?? upstreamRes.headers['x-request-id'];
  if (typeof rid === 'string') x.requestId = rid;
  x.bodyIdWins = route.provider === 'openrouter' && typeof generationId !== 'string';
  if (x.settled) {
    upstreamRes.body.destroy();
    return null;
  }
  return upstreamRes;
}
