import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeyEntry } from '../budgets/index.js';
import type { ProviderId } from '../pricing/index.js';
import { BodyEncodingError, readBody, sendError } from '../proxy/relay.js';
import type { ProxyContext, Route } from '../proxy/relay.js';
import { requestHeadersForUpstream, responseHeadersForClient } from '../proxy/headers.js';
import { callUpstream, CallAbort } from '../proxy/upstream-call.js';
import type { UpstreamBody } from '../proxy/upstream-call.js';

/**
 * The free paths each provider serves: Gemini's API lives under /v1beta (and /v1); the others
 * only know /v1. Checked after the key is known, since GET /v1/models is shared by all.
 */
export function passAllowedFor(provider: ProviderId, path: string): boolean {
  return provider === 'gemini' || !path.startsWith('/v1beta');
}

/** Calls that cost nothing (model lists, token counts): authenticated, forwarded as they are, not metered. */
export async function passThrough(ctx: ProxyContext, route: Route, key: KeyEntry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { adapter, upstream } = route;
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : await readBody(req, ctx.options.maxBodyBytes);
  if (body === 'too-large') {
    sendError(res, adapter, 'E_TOO_LARGE', `spendcap: request body is larger than ${ctx.options.maxBodyBytes} bytes`);
    return;
  }
  if (body instanceof BodyEncodingError) {
    sendError(res, adapter, 'E_BAD_REQUEST', `spendcap: ${body.message}`);
    return;
  }
  // Only a client that leaves mid-call stops the provider: aborting after a finished call made a
  // DOMException per request for nothing (~15 µs a call, profiled with metering off).
  const stop = new CallAbort();
  const call = { finished: false };
  res.on('close', () => {
    if (!call.finished) stop.abort();
  });
  try {
    // The metered path's transport (undici's dispatch API), so metering's price is metered − this alone.
    const up = await callUpstream(
      ctx.dispatcher,
      {
        origin: upstream.origin,
        path: upstream.basePath + route.path + route.query,
        method: req.method as 'GET' | 'POST' | 'HEAD',
        headers: { ...requestHeadersForUpstream(req.headers, adapter.forwardedHeaders, false), ...adapter.authHeaders(key.providerKey, route.provider) },
        body,
      },
      stop,
    );
    res.writeHead(up.statusCode, responseHeadersForClient(up.headers));
    await relayBody(up.body, res);
    call.finished = true;
    if (!res.destroyed) res.end();
  } catch (err) {
    if (res.headersSent) res.destroy();
    else if (!stop.aborted) sendError(res, adapter, 'E_UPSTREAM', `spendcap could not reach the provider at ${upstream.origin}: ${(err as Error).message}`);
  }
}

/** The provider's body to the client as it comes; a slow reader makes the provider wait rather than spendcap buffer for it. */
function relayBody(body: UpstreamBody, res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onDrain = (): void => body.resume();
    body.on('data', (chunk) => {
      if (res.write(chunk) || res.destroyed) return;
      body.pause();
      res.once('drain', onDrain);
    });
    body.on('end', () => resolve());
    body.on('error', reject);
    // The client left: nothing more to relay (the close handler aborted the call).
    res.once('close', () => resolve());
  });
}
