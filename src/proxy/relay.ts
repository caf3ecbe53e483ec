import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { budgetTagOf, clampTokens, describeRefusal, planGrowth } from '../budgets/index.js';
import type { Account, Bank, Hold, KeyEntry, Refusal } from '../budgets/index.js';
import { commonRoom, InflightMargin } from '../budgets/index.js';
import { costNanos, inputCostNanos, outputRateFor, tokensCostNanos, UnknownModelError } from '../pricing/index.js';
import type { Nanos, ModelRates, PriceBook, ResolvedPrice, Usage } from '../pricing/index.js';
import { hashToken } from '../secrets/index.js';
import type { Outcome } from '../store/index.js';
import type { ProviderId } from '../pricing/index.js';
import type { Upstream } from '../providers/registry.js';
import type { ErrorCode, ProviderAdapter, RequestInfo, StreamMeter } from '../providers/types.js';
import { credentialFrom, CREDENTIAL_HEADERS } from './credentials.js';
import { SseParser } from './sse.js';
import { digestPrompt, PromptMemory } from './prompt-memory.js';
import type { SseEvent } from './sse-types.js';
import { requestHeadersForUpstream, responseHeadersForClient } from './headers.js';

export interface ProxyOptions {
  /**
   * Output tokens every open stream keeps paid for ahead of what spendcap has read, at the least; on top
   * of it the stream's own rate × abort latency (src/budgets/inflight.ts) covers the tokens in flight.
   */
  marginTokens: number;
  /** How far a hold grows ahead at once, so the store is written once per step, not per token (at most 1/64 of the smallest cap). */
  stepTokens: number;
  maxBodyBytes: number;
}

export const DEFAULT_PROXY_OPTIONS: ProxyOptions = { marginTokens: 8, stepTokens: 256, maxBodyBytes: 32 * 1024 * 1024 };

/**
 * How long an abort may take to stop the provider: the stream's own time to response headers (one
 * round trip to the provider and its reaction, an upper bound of the way back), kept within these.
 */
const MIN_ABORT_LATENCY_MS = 5;
const MAX_ABORT_LATENCY_MS = 2000;
/** Before the provider's headers, when the round trip is not known yet. */
const ABORT_LATENCY_BEFORE_HEADERS_MS = 100;
/** Output the provider generates but does not stream (thinking, hidden reasoning) is only read on the clock: a wider margin. */
const HIDDEN_OUTPUT_MARGIN_TOKENS = 128;
/** A clamped stream must end by its own limit, not by a cut: its limit leaves room for a full in-flight margin. */
const CLAMP_MARGIN_TOKENS = 128;
/** A hold grows by at most this share of the smallest cap at once, so a small cap is not fragmented by steps. */
const STEP_CAP_DIVISOR = 64;

export interface ProxyContext {
  bank: Bank;
  prices: PriceBook;
  dispatcher: Dispatcher;
  options: ProxyOptions;
  /** One line per finished request, for the terminal; never carries a key. */
  log: (line: string) => void;
  /** Exact input counts of earlier turns of the same conversations (made on first use). */
  promptMemory?: PromptMemory;
}

/** One request's way through spendcap, decided from its path and its key. */
export interface Route {
  adapter: ProviderAdapter;
  /** The key's provider: prices, auth header and ledger rows follow it. */
  provider: ProviderId;
  upstream: Upstream;
  /** Path without query, as the provider knows it (API version included). */
  path: string;
  /** The client's query minus credentials ("" or "?…"). */
  query: string;
}

/** spendcap's own header, then the ones agents send on every request of a run (Claude Code, Codex CLI, opencode). */
const SESSION_HEADERS = ['x-spendcap-session', 'x-claude-code-session-id', 'session-id', 'x-session-id'] as const;
/** How often a stream with hidden output (thinking) has its hold re-checked between events. */
const CLOCK_MS = 200;

function sessionOf(headers: IncomingHttpHeaders): string | null {
  for (const h of SESSION_HEADERS) {
    const v = headers[h];
    if (typeof v === 'string' && v.length > 0) return v.slice(0, 200);
  }
  return null;
}

export function sendError(res: ServerResponse, adapter: ProviderAdapter, code: ErrorCode, message: string): void {
  const reply = adapter.errorReply(code, message, res.req?.headers);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply.body), ...reply.headers });
  res.end(reply.body);
}

/** Reads the whole request body, refusing past the limit without buffering the excess. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      resolve('too-large');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(over ? 'too-large' : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function authenticate(ctx: ProxyContext, req: IncomingMessage, query: URLSearchParams): KeyEntry | string {
  // A key added or changed by a CLI command counts from the very next request.
  ctx.bank.refresh();
  const token = credentialFrom(req.headers, query);
  if (!token) {
    return `spendcap: no spendcap key in the request. Give your client the key that \`spendcap key add\` printed (sc-…) as its API key.`;
  }
  const key = ctx.bank.authenticate(hashToken(token));
  if (key) return key;
  if (!token.startsWith('sc-')) {
    return `spendcap: this is not a spendcap key. Give your agent the sc-… key that \`spendcap key add\` printed; spendcap adds the provider key itself.`;
  }
  return `spendcap: unknown spendcap key. It may have been removed; list keys with \`spendcap key list\` or create one with \`spendcap key add\`.`;
}

/** The cost of what is known so far, and the output rate for what is still coming. */
interface CostModel {
  rates: ModelRates;
  /** Before the provider counts the prompt: the upper estimate of its cost. */
  inputEstimateNanos: Nanos;
  outputRate: number;
}

function costModel(info: RequestInfo, price: ResolvedPrice): CostModel {
  const rates = price.rates;
  const lc = rates.longContext && info.estimatedInputTokens > rates.longContext.thresholdTokens ? rates.longContext : rates;
  const inputRate = Math.max(lc.input, info.cacheWriteTtl === '1h' ? lc.cacheWrite1h : info.cacheWriteTtl === '5m' ? lc.cacheWrite5m : 0);
  return {
    rates,
    inputEstimateNanos: tokensCostNanos(info.estimatedInputTokens, inputRate),
    outputRate: outputRateFor(rates, info.estimatedInputTokens),
  };
}

function totalInputTokens(u: Usage): number {
  return u.inputTokens + u.cacheReadTokens + u.cacheWrite5mTokens + u.cacheWrite1hTokens;
}

/**
 * One metered request: authenticate, price, hold, forward, meter, cut if needed, settle.
 * Every exit path settles the hold exactly once.
 */
export async function relayMetered(ctx: ProxyContext, route: Route, key: KeyEntry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const startedAt = Date.now();
  const { adapter } = route;
  const body = await readBody(req, ctx.options.maxBodyBytes);
  if (body === 'too-large') {
    sendError(res, adapter, 'E_TOO_LARGE', `spendcap: request body is larger than ${ctx.options.maxBodyBytes} bytes`);
    return;
  }
  const parsed = adapter.parseRequest(body, route.path, new URLSearchParams(route.query));
  if ('code' in parsed) {
    sendError(res, adapter, 'E_BAD_REQUEST', `spendcap: ${parsed.message}`);
    return;
  }
  let info: RequestInfo = parsed;
  const session = sessionOf(req.headers);
  const provider = route.provider;
  // A later turn of a conversation: the previous turn's exact count plus what changed, when tighter.
  const memory = (ctx.promptMemory ??= new PromptMemory());
  const promptScope = `${key.record.id}\u0000${provider}\u0000${info.model}`;
  const promptDigest = digestPrompt(body);
  const warmInput = memory.estimate(promptScope, promptDigest, body, info.estimatedInputTokens);
  if (warmInput < info.estimatedInputTokens) info = { ...info, estimatedInputTokens: warmInput };
  const price = ctx.prices.resolve(provider, info.model);
  if (price instanceof UnknownModelError) {
    ctx.bank.recordBlocked(key, session, provider, info.model, randomUUID(), price.code, 400);
    sendError(res, adapter, 'E_UNKNOWN_MODEL', price.message);
    return;
  }

  const model = costModel(info, price);
  const opts = ctx.options;
  const accounts = ctx.bank.accountsFor(key, session, budgetTagOf(req.headers));
  if (typeof accounts === 'string') {
    ctx.bank.recordBlocked(key, session, provider, info.model, randomUUID(), accounts, 400);
    sendError(res, adapter, 'E_BAD_REQUEST', accounts);
    return;
  }
  // A budget made with --clamp shortens a request it cannot pay for whole, so the provider ends it itself.
  const clampedTo = clampTokens({ accounts, inputNanos: model.inputEstimateNanos, outputRate: model.outputRate, maxTokens: info.maxTokens, stream: info.stream, marginTokens: CLAMP_MARGIN_TOKENS });
  const clampedBody = clampedTo === null ? null : adapter.withOutputLimit(info.upstreamBody ?? body, clampedTo);
  if (clampedTo !== null && clampedBody !== null) info = { ...info, maxTokens: clampedTo, upstreamBody: clampedBody };
  // A non-streamed response cannot be cut, so its whole possible output must be paid for up front.
  const firstNeed = model.inputEstimateNanos + tokensCostNanos(info.stream ? opts.marginTokens : info.maxTokens, model.outputRate);
  const smallestCap = Math.min(...accounts.filter((a) => a.mode === 'hard').map((a) => a.capNanos));
  const stepNanos = info.stream ? Math.min(tokensCostNanos(opts.stepTokens, model.outputRate), Math.floor(smallestCap / STEP_CAP_DIVISOR)) : 0;
  const plan = planGrowth(0, firstNeed, stepNanos, commonRoom(accounts));
  const opened =
    plan.action === 'cut'
      ? (ctx.bank.check(accounts, firstNeed) ?? { code: 'E_CAP_REACHED' as const, account: accounts[0]!, neededNanos: firstNeed })
      : ctx.bank.open(key, session, accounts, info.model, plan.action === 'grow' ? plan.extraNanos : firstNeed, provider);
  if (!('id' in opened)) {
    const refusal = opened;
    let message = describeRefusal(refusal);
    if (!info.stream && refusal.code === 'E_CAP_REACHED' && tokensCostNanos(info.maxTokens, model.outputRate) > model.inputEstimateNanos) {
      message += ` (a non-streamed request must hold its whole output limit of ${info.maxTokens} tokens up front; set a lower limit or stream)`;
    }
    ctx.bank.recordBlocked(key, session, provider, info.model, randomUUID(), `${refusal.code}: ${refusal.account.label}`, 429);
    ctx.log(`blocked ${key.record.name} ${info.model}: ${message}`);
    sendError(res, adapter, refusal.code, message);
    return;
  }
  const remember = (u: Usage): void => memory.remember(promptScope, promptDigest, totalInputTokens(u));
  await forward(ctx, route, req, res, { body: info.upstreamBody ?? body, info, price, model, hold: opened, stepNanos, startedAt, clampedTo: clampedBody === null ? null : clampedTo, remember });
}

/** A request that passed admission: what forward needs to relay, meter and settle it. */
interface Admitted {
  body: Buffer;
  info: RequestInfo;
  price: ResolvedPrice;
  model: CostModel;
  hold: Hold;
  stepNanos: Nanos;
  startedAt: number;
  /** The output limit spendcap lowered the request to (budget clamp), told to the client in a header. */
  clampedTo: number | null;
  /** Keeps the provider's exact input count for the next turn of the conversation. */
  remember: (usage: Usage) => void;
}

async function forward(ctx: ProxyContext, route: Route, req: IncomingMessage, res: ServerResponse, admitted: Admitted): Promise<void> {
  const { bank, options } = ctx;
  const { adapter, upstream } = route;
  const { body, info, price, model, hold, stepNanos, startedAt, clampedTo, remember } = admitted;
  const clientHeaders = (h: Record<string, string | string[] | undefined>): Record<string, string | string[]> =>
    clampedTo === null ? responseHeadersForClient(h) : { ...responseHeadersForClient(h), 'x-spendcap-clamped-max-tokens': String(clampedTo) };
  const abort = new AbortController();
  let finished = false;
  let requestId: string = hold.id;
  let status: number | null = null;
  let meter: StreamMeter | null = null;

  let providerCostNanos: Nanos | null = null;
  const inflight = new InflightMargin(options.marginTokens, ABORT_LATENCY_BEFORE_HEADERS_MS);
  /** Output tokens to pay for ahead of what the meter has read: what may be in flight. */
  const marginTokens = (m: StreamMeter): number => {
    const now = Date.now();
    const out = m.outputTokensForHold();
    inflight.observe(now, out);
    const t = inflight.tokens(now, out);
    return m.needsClock ? Math.max(t, HIDDEN_OUTPUT_MARGIN_TOKENS) : t;
  };
  const finish = (outcome: Outcome, usage: Usage | null, chargeNanos: Nanos, detail: string | null): void => {
    if (finished) return;
    finished = true;
    // Without the provider's final count, the row shows the output tokens spendcap charged for.
    const u = usage ?? (meter ? { ...meter.usage, outputTokens: meter.outputTokensForHold() } : null);
    if (usage !== null) remember(usage);
    else if (meter?.inputKnown) remember(meter.usage);
    const reported = providerCostNanos ?? meter?.providerCostNanos ?? null;
    bank.settle(hold, {
      requestId,
      provider: route.provider,
      model: meter?.model ?? info.model,
      pricedAs: price.pricedAs,
      priceEstimated: price.estimated,
      inputTokens: u?.inputTokens ?? 0,
      outputTokens: u?.outputTokens ?? 0,
      cacheReadTokens: u?.cacheReadTokens ?? 0,
      cacheWrite5mTokens: u?.cacheWrite5mTokens ?? 0,
      cacheWrite1hTokens: u?.cacheWrite1hTokens ?? 0,
      costNanos: chargeNanos,
      outcome,
      usageSource: usage !== null ? 'provider' : chargeNanos > 0 ? 'estimate' : 'none',
      status,
      durationMs: Date.now() - startedAt,
      detail,
      providerCostNanos: reported,
      // Beside the provider's own figure: spendcap's price of the same usage. Beside a cut's charge (the
      // safe upper bound, margin included): spendcap's best estimate of the bill, what it read without the margin.
      meteredCostNanos: reported !== null && usage !== null ? costNanos(usage, model.rates) : usage === null && u !== null && meter?.inputKnown ? costNanos(u, model.rates) : null,
    });
    ctx.log(`${outcome} ${hold.key.record.name}${hold.session ? `/${hold.session.slice(0, 8)}` : ''} ${info.model} $${(chargeNanos / 1e9).toFixed(9)}${detail ? ` (${detail})` : ''}`);
  };

  /** The provider's own figure settles the charge when it gives one (OpenRouter's usage.cost); the ledger keeps both. */
  const chargeFor = (usage: Usage, reported: Nanos | null): Nanos => reported ?? costNanos(usage, model.rates);

  /** Cost the provider may bill when spendcap has not seen the final usage: everything seen plus what may be in flight. */
  const estimatedCharge = (): Nanos => {
    if (!meter) return hold.amountNanos;
    const u = meter.usage;
    const input = meter.inputKnown ? inputCostNanos(u, model.rates) : model.inputEstimateNanos;
    const rate = meter.inputKnown ? outputRateFor(model.rates, totalInputTokens(u)) : model.outputRate;
    return Math.min(hold.amountNanos, input + tokensCostNanos(meter.outputTokensForHold() + marginTokens(meter), rate));
  };

  // The client went away: stop the provider at once and charge what it may have produced.
  res.on('close', () => {
    if (finished) return;
    abort.abort();
    finish('error', null, estimatedCharge(), 'client closed the connection');
  });

  let cutStream: ((refusal: Refusal) => void) | null = null;
  hold.onKill = (account: Account) => {
    const refusal: Refusal = { code: 'E_KILLED', account, neededNanos: 0 };
    if (cutStream) cutStream(refusal);
    else if (!finished) {
      const notice = describeRefusal(refusal);
      abort.abort();
      finish('cut', null, estimatedCharge(), 'killed before the response started');
      sendError(res, adapter, 'E_KILLED', notice);
    }
  };

  /** Grows (or shrinks) the hold to what the stream may have cost so far; a refusal means cut. */
  const reassess = (m: StreamMeter): Refusal | null => {
    const u = m.usage;
    const inputPart = m.inputKnown ? inputCostNanos(u, model.rates) : model.inputEstimateNanos;
    const rate = m.inputKnown ? outputRateFor(model.rates, totalInputTokens(u)) : model.outputRate;
    const needed = inputPart + tokensCostNanos(m.outputTokensForHold() + marginTokens(m), rate);
    const plan = planGrowth(hold.amountNanos, needed, stepNanos, commonRoom(hold.accounts));
    if (plan.action === 'grow') return bank.grow(hold, plan.extraNanos);
    if (plan.action === 'shrink') bank.shrink(hold, plan.releaseNanos);
    else if (plan.action === 'cut') return bank.check(hold.accounts, needed - hold.amountNanos) ?? { code: 'E_CAP_REACHED' as const, account: hold.accounts[0]!, neededNanos: needed };
    return null;
  };

  // A stream's meter exists from the moment the request leaves: a model may think for a long time
  // before the provider sends even its headers, and that thinking is billed.
  if (info.stream) meter = adapter.newStreamMeter(info);
  let waitClock: NodeJS.Timeout | null = null;
  const stopWaitClock = (): void => {
    if (waitClock !== null) clearInterval(waitClock);
    waitClock = null;
  };
  if (meter?.needsClock) {
    const m0 = meter;
    waitClock = setInterval(() => {
      if (finished) return stopWaitClock();
      const refusal = reassess(m0);
      if (refusal === null) return;
      stopWaitClock();
      bank.markExhausted(refusal);
      abort.abort();
      finish('cut', null, estimatedCharge(), `${refusal.code}: ${refusal.account.label} (before the response started)`);
      sendError(res, adapter, refusal.code, describeRefusal(refusal));
    }, CLOCK_MS);
  }

  let upstreamRes: Dispatcher.ResponseData;
  const sentAt = Date.now();
  try {
    upstreamRes = await ctx.dispatcher.request({
      origin: upstream.origin,
      path: upstream.basePath + route.path + route.query,
      method: 'POST',
      headers: { ...requestHeadersForUpstream(req.headers, CREDENTIAL_HEADERS, true), ...adapter.authHeaders(hold.key.providerKey, route.provider) },
      body,
      signal: abort.signal,
      headersTimeout: 600_000,
      bodyTimeout: 600_000,
    });
  } catch (err) {
    stopWaitClock();
    if (finished) return;
    const code = (err as { code?: string }).code ?? '';
    // Nothing reached the provider when the connection was refused; otherwise it may have read the prompt.
    const nothingSent = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT'].includes(code);
    finish('error', null, nothingSent ? 0 : Math.min(hold.amountNanos, model.inputEstimateNanos), `upstream unreachable: ${code || (err as Error).message}`);
    sendError(res, adapter, 'E_UPSTREAM', `spendcap could not reach the provider at ${upstream.origin}: ${code || (err as Error).message}`);
    return;
  }
  stopWaitClock();
  inflight.latencyMs = Math.min(MAX_ABORT_LATENCY_MS, Math.max(MIN_ABORT_LATENCY_MS, Date.now() - sentAt));
  status = upstreamRes.statusCode;
  const rid = upstreamRes.headers['request-id'] ?? upstreamRes.headers['x-request-id'];
  if (typeof rid === 'string') requestId = rid;
  if (finished) {
    upstreamRes.body.destroy();
    return;
  }

  const contentType = String(upstreamRes.headers['content-type'] ?? '');
  const isSse = status === 200 && contentType.startsWith('text/event-stream');
  // Only a stream is metered from its events; an error or JSON reply is settled from its body.
  if (!isSse) meter = null;

  if (!isSse) {
    // A JSON reply is only usable whole: it is settled before its last byte reaches the client,
    // so a finished request always has its ledger row.
    const chunks: Buffer[] = [];
    upstreamRes.body.on('data', (c: Buffer) => chunks.push(c));
    await new Promise<void>((resolve) => {
      upstreamRes.body.on('end', resolve);
      upstreamRes.body.on('error', () => resolve());
    });
    if (finished) return;
    const whole = Buffer.concat(chunks);
    res.writeHead(status, clientHeaders(upstreamRes.headers));
    if (status === 200) {
      let usage: Usage | null = null;
      try {
        const json: unknown = JSON.parse(whole.toString('utf8'));
        usage = adapter.usageFromJson(json);
        providerCostNanos = adapter.providerCostFromJson?.(json) ?? null;
      } catch {
        usage = null;
      }
      if (usage) finish('ok', usage, chargeFor(usage, providerCostNanos), null);
      else finish('error', null, hold.amountNanos, 'response without usage; charged the whole hold');
    } else {
      // Providers do not bill requests they reject.
      finish('error', null, 0, `upstream status ${status}`);
    }
    res.end(whole);
    return;
  }

  res.writeHead(status, clientHeaders(upstreamRes.headers));
  res.flushHeaders();
  meter ??= adapter.newStreamMeter(info);
  const m = meter;
  /** Set once spendcap ended the client's stream itself (cut or kill): nothing more is forwarded. */
  let ended = false;
  const rewrite = m.rewrite?.bind(m);
  const parser = new SseParser(rewrite !== undefined);
  let received = 0;
  let forwarded = 0;
  let pending: Buffer | null = null;

  /** Forwards bytes up to the last complete event; a partial event waits for its end so a cut always lands on a boundary. */
  const forwardComplete = (chunk: Buffer): void => {
    const upTo = received - parser.pendingBytes;
    if (pending === null && upTo === received) {
      res.write(chunk);
      forwarded = received;
      return;
    }
    const all: Buffer = pending === null ? chunk : Buffer.concat([pending, chunk]);
    const n = upTo - forwarded;
    if (n > 0) res.write(all.subarray(0, n));
    forwarded += Math.max(0, n);
    pending = all.length > n ? all.subarray(Math.max(0, n)) : null;
  };

  /** What the client gets for a chunk: its complete events' bytes, or their rewrites when the meter must change them. */
  const relayOut = (chunk: Buffer, events: readonly SseEvent[]): void => {
    if (rewrite === undefined) return forwardComplete(chunk);
    let out = '';
    for (const ev of events) out += ev.comment === undefined ? rewrite(ev) : `:${ev.comment}\n\n`;
    if (out !== '') res.write(out);
  };

  cutStream = (refusal: Refusal) => {
    if (finished || ended) return;
    ended = true;
    abort.abort();
    finish('cut', null, estimatedCharge(), `${refusal.code}: ${refusal.account.label}`);
    res.end(m.cutTail(describeRefusal(refusal, 'cut')));
  };

  const onChunk = (chunk: Buffer): void => {
    if (ended) return;
    received += chunk.length;
    const events = parser.push(chunk);
    if (events.length === 0 || finished) {
      relayOut(chunk, events);
      return;
    }
    for (const ev of events) if (ev.comment === undefined) m.onEvent(ev);
    if (m.complete && m.hasFinalUsage) {
      // Settle before the client sees the end, so a finished stream always has its row.
      finish('ok', m.usage, chargeFor(m.usage, m.providerCostNanos ?? null), null);
      relayOut(chunk, events);
      return;
    }
    const refusal = reassess(m);
    if (refusal) return cutAt(chunk, events, refusal);
    relayOut(chunk, events);
    syncClock();
  };

  // While the provider may generate output the stream does not show, the hold follows the clock.
  let clock: NodeJS.Timeout | null = null;
  const syncClock = (): void => {
    if (m.needsClock && clock === null && !finished) {
      clock = setInterval(() => {
        if (finished || ended) return stopClock();
        const refusal = reassess(m);
        if (refusal) {
          bank.markExhausted(refusal);
          cutStream?.(refusal);
        }
      }, CLOCK_MS);
    } else if (!m.needsClock) stopClock();
  };
  const stopClock = (): void => {
    if (clock !== null) clearInterval(clock);
    clock = null;
  };
  res.on('close', stopClock);

  const cutAt = (chunk: Buffer, events: readonly SseEvent[], refusal: Refusal): void => {
    // The events already read are paid for by the margin held before them: the client gets them, then the tail.
    relayOut(chunk, events);
    bank.markExhausted(refusal);
    cutStream?.(refusal);
  };

  upstreamRes.body.on('data', onChunk);
  // Hidden output may be running before the first event, too.
  syncClock();
  await new Promise<void>((resolve) => {
    upstreamRes.body.on('end', () => {
      if (!finished) {
        if (m.hasFinalUsage) finish(m.complete ? 'ok' : 'error', m.usage, chargeFor(m.usage, m.providerCostNanos ?? null), m.complete ? null : 'stream ended without its final event');
        else finish('error', null, estimatedCharge(), 'stream ended before the provider reported usage');
      }
      if (!res.writableEnded && !res.destroyed) {
        // A last event without its blank line is passed on as it came (a rewritten stream drops it: it was never whole).
        if (rewrite === undefined && pending !== null) res.write(pending);
        res.end();
      }
      resolve();
    });
    upstreamRes.body.on('error', (err: Error) => {
      if (!finished) {
        finish('error', null, estimatedCharge(), `upstream stream failed: ${err.message}`);
        // Transparent: the client sees the provider's connection drop as a drop.
        res.destroy();
      }
      resolve();
    });
  });
}
