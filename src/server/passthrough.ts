import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProviderAdapter } from '../providers/types.js';
import { authenticate, readBody, sendError } from '../proxy/relay.js';
import type { ProxyContext, Upstream } from '../proxy/relay.js';
import { requestHeadersForUpstream, responseHeadersForClient } from '../proxy/headers.js';

/** Calls that cost nothing (model lists, token counts): authenticated, forwarded as they are, not metered. */
export async function passThrough(ctx: ProxyContext, adapter: ProviderAdapter, upstream: Upstream, providerPath: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const key = authenticate(ctx, adapter, req);
  if (typeof key === 'string') {
    req.resume();
    sendError(res, adapter, 'E_UNAUTHORIZED', key);
    return;
  }
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : await readBody(req, ctx.options.maxBodyBytes);
  if (body === 'too-large') {
    sendError(res, adapter, 'E_TOO_LARGE', `spendcap: request body is larger than ${ctx.options.maxBodyBytes} bytes`);
    return;
  }
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  try {
    const up = await ctx.dispatcher.request({
      origin: upstream.origin,
      path: upstream.basePath + providerPath,
      method: req.method as 'GET' | 'POST' | 'HEAD',
      headers: { ...requestHeadersForUpstream(req.headers, adapter.credentialHeaders, false), ...adapter.authHeaders(key.providerKey) },
      body,
      signal: abort.signal,
    });
    res.writeHead(up.statusCode, responseHeadersForClient(up.headers));
    for await (const chunk of up.body) res.write(chunk as Buffer);
    res.end();
  } catch (err) {
    if (res.headersSent) res.destroy();
    else if (!abort.signal.aborted) sendError(res, adapter, 'E_UPSTREAM', `spendcap could not reach the provider at ${upstream.origin}: ${(err as Error).message}`);
  }
}
