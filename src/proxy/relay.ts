import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeyEntry } from '../budgets/index.js';
import { admit } from './admit.js';
import type { ProxyContext, Route } from './context.js';
import { dispatch } from './dispatch.js';
import { Exchange } from './exchange.js';
import { meter } from './meter.js';
import { finishFromEstimate } from './settle.js';

// The proxy's public face: the server and tests import from here.
export { authenticate } from './auth.js';
export { BodyEncodingError, readBody } from './body.js';
export { DEFAULT_PROXY_OPTIONS, sendError } from './context.js';
export type { ApprovalGate, ProxyContext, ProxyOptions, Route } from './context.js';
export { sentNothing } from './dispatch.js';

/**
 * One metered request, in four steps:
 *   admit    read, price and hold (or refuse) — src/proxy/admit.ts
 *   dispatch send it upstream with the real key — src/proxy/dispatch.ts
 *   meter    relay the answer while reading its cost; grow the hold, cut at the cap — src/proxy/meter.ts
 *   settle   the hold becomes one ledger row, before the last byte — src/proxy/settle.ts
 * Every exit path settles the hold exactly once (HoldLife.markSettled).
 */
export async function relayMetered(ctx: ProxyContext, route: Route, key: KeyEntry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const admitted = await admit(ctx, route, key, req, res);
  if (admitted === null) return;
  const x = new Exchange(ctx, route, res, admitted);
  watch(x);
  const upstreamRes = await dispatch(x);
  if (upstreamRes === null) return;
  await meter(x, upstreamRes);
}

/** What can end an admitted request from outside: the client leaving, a kill, and (while output is hidden) the hold's clock. */
function watch(x: Exchange): void {
  // The client went away: stop the provider at once and charge what it may have produced.
  x.res.on('close', () => {
    if (x.settled) return;
    x.abort.abort();
    finishFromEstimate(x, 'error', 'client closed the connection');
  });
  x.life.hold.onKill = (account) => x.onKill(account);
  x.syncClock();
}
