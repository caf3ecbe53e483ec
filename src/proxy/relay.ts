import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import type { BrotliOptions, ZlibOptions } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { clampTokens, describeRefusal, describeUnknownTag, planGrowth } from '../budgets/index.js';
import { budgetTagOf } from './budget-header.js';
import type { Account, Bank, Hold, KeyEntry, Refusal, TokenBinding } from '../budgets/index.js';
import { InflightMargin } from '../budgets/index.js';
import { costNanos, formatUsd, inputCostNanos, outputRateFor, tokensCostNanos, UnknownModelError } from '../pricing/index.js';
import type { Nanos, ModelRates, PriceBook, ResolvedPrice, Usage } from '../pricing/index.js';
import { hashToken } from '../secrets/index.js';
import type { Outcome } from '../store/index.js';
import type { ProviderId } from '../pricing/index.js';
import type { Upstream } from '../providers/registry.js';
import type { ErrorCode, ProviderAdapter, RequestInfo, StreamMeter } from '../providers/types.js';
import { credentialFrom } from './credentials.js';
import { ByteQueue } from './byte-queue.js';
import { SseParser } from './sse.js';
import { digestPrompt, PromptMemory } from './prompt-memory.js';
import type { SseEvent } from './sse-types.js';
import { requestHeadersForUpstream, responseHeadersForClient } from './headers.js';
import { safeTokens, safeUsage, usageFlaw } from './usage-guard.js';

export interface ProxyOptions {
  /**
   * Output tokens every open stream keeps paid for ahead of what spendcap has read, at the least; on top
   * of it the stream's own rate × abort latency (src/budgets/inflight.ts) covers the tokens in flight.
   */
  marginTokens: number;
  /** How far a hold grows ahead at once, so the store is written once per step, not per token (at most 1/64 of the smallest cap). */
  stepTokens: number;
  maxBodyBytes: number;
  /** A whole (JSON) reply is buffered to be settled before the client sees it; past this it is refused with a 502. */
  maxReplyBytes: number;
  /** One SSE event is held whole until it ends (so a cut lands on a boundary); past this the stream is ended. */
  maxEventBytes: number;
}

export const DEFAULT_PROXY_OPTIONS: ProxyOptions = { marginTokens: 8, stepTokens: 256, maxBodyBytes: 32 * 1024 * 1024, maxReplyBytes: 64 * 1024 * 1024, maxEventBytes: 32 * 1024 * 1024 };

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
  /** Hold-and-approve (src/alerts/ask.ts): a refusal on a budget in ask mode waits for a person's answer. */
  approval?: ApprovalGate;
}

/** A budget in ask mode keeps a refused request waiting; true means approved, try admission again. */
export interface ApprovalGate {
  applies(account: Account): boolean | Promise<boolean>;
  wait(w: { account: Account; key: KeyEntry; neededNanos: Nanos; model: string; stream: boolean; res: ServerResponse }): Promise<boolean>;
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
    // A stream held for approval already has its SSE headers: the refusal is its one event.
    if (!res.writableEnded && String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) res.end(`event: error\ndata: ${reply.body}\n\n`);
    else res.destroy();
    return;
  }
  res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply.body), ...reply.headers });
  res.end(reply.body);
}

const DECODERS: Readonly<Record<string, (b: Buffer, o: ZlibOptions & BrotliOptions, cb: (err: Error | null, out: Buffer) => void) => void>> = {
  gzip: gunzip,
  'x-gzip': gunzip,
  deflate: inflate,
  br: brotliDecompress,
};

/** A body the client could not have meant: an encoding spendcap does not decode, or bytes that are not in it. */
export class BodyEncodingError extends Error {
  readonly code = 'E_BAD_REQUEST';
}

/**
 * The whole request body, decoded when the client compressed it (content-encoding gzip, deflate or
 * br), refusing past the limit (compressed or not) without buffering the excess.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | BodyEncodingError> {
  const raw = await readRawBody(req, limit);
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (raw === 'too-large' || encoding === 'identity' || encoding === '') return raw;
  const decode = DECODERS[encoding];
  if (decode === undefined) return new BodyEncodingError(`content-encoding "${encoding.slice(0, 40)}" is not supported; send the body as it is, or gzip, deflate or br`);
  return new Promise((resolve) => {
    decode(raw, { maxOutputLength: limit }, (err, out) => {
      if (err === null) resolve(out);
      else if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') resolve('too-large');
      else resolve(new BodyEncodingError(`the body is not valid ${encoding}: ${err.message}`));
    });
  });
}

function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
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

export async function authenticate(ctx: ProxyContext, req: IncomingMessage, query: URLSearchParams): Promise<KeyEntry | string> {
  // A key added or changed by a CLI command counts from the very next request.
  await ctx.bank.refresh();
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

/**
 * Errors that leave before a byte of the request reached the provider: the connection was never
 * made, or undici refused the request itself (an option or header it does not support). Any other
 * failure may come after the provider read the prompt, so it is charged.
 */
const SENT_NOTHING = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_INVALID_ARG', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE']);

export function sentNothing(code: string): boolean {
  return SENT_NOTHING.has(code);
}

function boundTo(ctx: ProxyContext, req: IncomingMessage): TokenBinding | undefined {
  const token = credentialFrom(req.headers, new URL(req.url ?? '/', 'http://spendcap.invalid').searchParams);
  return token === undefined ? undefined : ctx.bank.bindingOf(hashToken(token));
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
  if (body instanceof BodyEncodingError) {
    sendError(res, adapter, 'E_BAD_REQUEST', `spendcap: ${body.message}`);
    return;
  }
  const parsed = adapter.parseRequest(body, route.path, new URLSearchParams(route.query));
  if ('code' in parsed) {
    sendError(res, adapter, 'E_BAD_REQUEST', `spendcap: ${parsed.message}`);
    return;
  }
  let info: RequestInfo = parsed;
  // A token made by `spendcap run` names its run's session and cap; it wins over the headers.
  const binding = boundTo(ctx, req);
  const session = binding?.session ?? sessionOf(req.headers);
  const provider = route.provider;
  // A later turn of a conversation: the previous turn's exact count plus what changed, when tighter.
  const memory = (ctx.promptMemory ??= new PromptMemory());
  const promptScope = `${key.record.id}\u0000${provider}\u0000${info.model}`;
  const promptDigest = digestPrompt(body);
  const warmInput = memory.estimate(promptScope, promptDigest, body, info.estimatedInputTokens);
  if (warmInput < info.estimatedInputTokens) info = { ...info, estimatedInputTokens: warmInput };
  const price = ctx.prices.resolve(provider, info.model);
  if (price instanceof UnknownModelError) {
    await ctx.bank.recordBlocked(key, session, provider, info.model, randomUUID(), { code: price.code }, 400);
    sendError(res, adapter, 'E_UNKNOWN_MODEL', price.message);
    return;
  }

  const model = costModel(info, price);
  const opts = ctx.options;
  const accounts = await ctx.bank.accountsFor(key, session, binding?.budget ?? budgetTagOf(req.headers));
  if (!Array.isArray(accounts)) {
    await ctx.bank.recordBlocked(key, session, provider, info.model, randomUUID(), accounts, 400);
    sendError(res, adapter, 'E_BAD_REQUEST', describeUnknownTag(accounts));
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
  const admit = (): Hold | Refusal => {
    const plan = planGrowth(0, firstNeed, stepNanos, ctx.bank.room(accounts));
    return plan.action === 'cut'
      ? (ctx.bank.check(accounts, firstNeed) ?? { code: 'E_CAP_REACHED' as const, account: accounts[0]!, neededNanos: firstNeed })
      : ctx.bank.open(key, session, accounts, info.model, plan.action === 'grow' ? plan.extraNanos : firstNeed, provider);
  };
  let opened = admit();
  // Team mode: this instance's lease ran short; one top-up (or one wait for others to give back) before refusing.
  if (!('id' in opened) && opened.code === 'E_CAP_REACHED' && (await ctx.bank.waitForRoom(accounts, firstNeed))) opened = admit();
  if (!('id' in opened) && opened.code === 'E_CAP_REACHED' && (await ctx.approval?.applies(opened.account)) === true) {
    if (await ctx.approval!.wait({ account: opened.account, key, neededNanos: firstNeed, model: info.model, stream: info.stream, res })) opened = admit();
  }
  if (!('id' in opened)) {
    const refusal = opened;
    let message = describeRefusal(refusal);
    if (!info.stream && refusal.code === 'E_CAP_REACHED' && tokensCostNanos(info.maxTokens, model.outputRate) > model.inputEstimateNanos) {
      message += ` (a non-streamed request must hold its whole output limit of ${info.maxTokens} tokens up front; set a lower limit or stream)`;
    }
    await ctx.bank.recordBlocked(key, session, provider, info.model, randomUUID(), refusal, 429);
    ctx.log(`blocked ${key.record.name} ${info.model}: ${message}`);
    sendError(res, adapter, refusal.code, message);
    return;
  }
  const remember = (u: Usage): void => memory.remember(promptScope, promptDigest, totalInputTokens(u));
  // Upstream only once the hold is on disk (group commit): a crash from here on still charges it.
  try {
    await opened.durable;
  } catch (err) {
    ctx.log(`hold not written for ${key.record.name}: ${(err as Error).message}`);
    sendError(res, adapter, 'E_UPSTREAM', 'spendcap: could not record the request before sending it (storage error); nothing was sent upstream');
    return;
  }
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
  /** The settle's commit: the response's last byte waits for it, so a finished request is on disk first. */
  let settled: Promise<void> = Promise.resolve();
  const endAfterSettle = (last?: string | Buffer): void => {
    void settled.then(() => {
      if (res.destroyed) return;
      if (last === undefined) res.end();
      else res.end(last);
    });
  };
  let requestId: string = hold.id;
  let status: number | null = null;
  let meter: StreamMeter | null = null;

  let providerCostNanos: Nanos | null = null;
  const inflight = new InflightMargin(options.marginTokens, ABORT_LATENCY_BEFORE_HEADERS_MS);
  /** Output tokens to pay for ahead of what the meter has read: what may be in flight. */
  const marginTokens = (m: StreamMeter): number => {
    const now = Date.now();
    const out = safeTokens(m.outputTokensForHold());
    inflight.observe(now, out);
    const t = inflight.tokens(now, out);
    return m.needsClock ? Math.max(t, HIDDEN_OUTPUT_MARGIN_TOKENS) : t;
  };
  let bodyIdWins = false;
  let bodyId: string | undefined;
  /** `estimated`: the charge is spendcap's, not the provider's usage priced (the usage was untrusted). */
  const finish = (outcome: Outcome, usage: Usage | null, chargeNanos: Nanos, detail: string | null, estimated = false): void => {
    if (finished) return;
    finished = true;
    // Without the provider's final count, the row shows the output tokens spendcap charged for.
    const raw = usage ?? (meter ? { ...meter.usage, outputTokens: meter.outputTokensForHold() } : null);
    const u = raw === null ? null : safeUsage(raw);
    // Untrusted usage is never remembered: the next turn's estimate stands on the provider's valid counts only.
    if (usage !== null && usageFlaw(usage) === null) remember(usage);
    else if (usage === null && meter?.inputKnown && usageFlaw(meter.usage) === null) remember(meter.usage);
    const reported = providerCostNanos ?? meter?.providerCostNanos ?? null;
    settled = bank.settle(hold, {
      requestId: (bodyIdWins ? (meter?.responseId ?? bodyId) : undefined) ?? requestId,
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
      usageSource: usage !== null && !estimated ? 'provider' : chargeNanos > 0 ? 'estimate' : 'none',
      status,
      durationMs: Date.now() - startedAt,
      detail,
      providerCostNanos: reported,
      // Beside the provider's own figure: spendcap's price of the same usage. Beside a cut's charge (the
      // safe upper bound, margin included): spendcap's best estimate of the bill, what it read without the margin.
      meteredCostNanos: reported !== null && usage !== null && u !== null ? costNanos(u, model.rates) : usage === null && u !== null && meter?.inputKnown ? costNanos(u, model.rates) : null,
      // A stream's client may take its final event as the end, before the connection closes: commit now.
    }, { soon: info.stream });
    ctx.log(`${outcome} ${hold.key.record.name}${hold.session ? `/${hold.session.slice(0, 8)}` : ''} ${info.model} $${(chargeNanos / 1e9).toFixed(9)}${detail ? ` (${detail})` : ''}`);
  };

  /**
   * The most this one request can cost: its prompt (the upper estimate, twice over for tokenizer
   * slack) and its whole output limit, or its hold if that is more. A provider's usage past it is
   * not believed.
   */
  const ceilingNanos = (): Nanos =>
    Math.max(hold.amountNanos, 2 * model.inputEstimateNanos + tokensCostNanos(safeTokens(info.maxTokens), model.outputRate));

  /**
   * Settles from the provider's usage, which is untrusted: invalid counts settle at the hold, a
   * charge past the request's ceiling at the ceiling; either way the row says so and the log shows it.
   * The provider's own figure settles the charge when it gives one (OpenRouter's usage.cost); the ledger keeps both.
   */
  const settleFromUsage = (outcome: Outcome, usage: Usage, reported: Nanos | null, detail: string | null): void => {
    const flaw = usageFlaw(usage);
    if (flaw !== null) {
      finish(outcome, usage, hold.amountNanos, `provider reported invalid usage (${flaw}); charged the hold${detail ? `; ${detail}` : ''}`, true);
      return;
    }
    const charge = reported ?? costNanos(usage, model.rates);
    const ceiling = ceilingNanos();
    if (charge > ceiling) {
      finish(outcome, usage, ceiling, `provider reported usage past the request's limits (${usage.inputTokens} in, ${usage.outputTokens} out); charged the most it could cost${detail ? `; ${detail}` : ''}`, true);
      return;
    }
    if (charge > hold.amountNanos && detail !== null) finishPastHold(outcome, usage, charge, detail);
    else finish(outcome, usage, charge, detail);
  };

  /**
   * A charge past the hold (a whole reply the hold did not cover): the hold grows to it when the
   * budgets have room; when they do not, it is still booked (the provider bills it), the budget is
   * marked exhausted and the row says by how much it went past.
   */
  const finishPastHold = (outcome: Outcome, usage: Usage | null, charge: Nanos, detail: string): void => {
    if (charge <= hold.amountNanos) return finish(outcome, usage, charge, detail);
    const refusal = bank.grow(hold, charge - hold.amountNanos);
    if (refusal === null) return finish(outcome, usage, charge, detail);
    bank.markExhausted(refusal);
    finish(outcome, usage, charge, `${detail}; cost past the cap of ${refusal.account.label} by ${formatUsd(charge - hold.amountNanos)} over its hold`, usage === null);
  };

  /** What a whole reply may cost at most: the prompt's upper estimate and the whole output limit (a non-streamed request's hold). */
  const wholeReplyNanos: Nanos = model.inputEstimateNanos + tokensCostNanos(safeTokens(info.maxTokens), model.outputRate);

  /** Cost the provider may bill when spendcap has not seen the final usage: everything seen plus what may be in flight. */
  const estimatedCharge = (): Nanos => {
    if (!meter) return hold.amountNanos;
    return Math.min(hold.amountNanos, costSoFar(meter));
  };

  /** What a stream may have cost so far, plus the margin in flight; the request's own estimates stand in for untrusted usage. */
  const costSoFar = (m: StreamMeter): Nanos => {
    const u = m.usage;
    const trusted = m.inputKnown && usageFlaw(u) === null;
    const inputPart = trusted ? inputCostNanos(u, model.rates) : model.inputEstimateNanos;
    const rate = trusted ? outputRateFor(model.rates, totalInputTokens(u)) : model.outputRate;
    return inputPart + tokensCostNanos(safeTokens(m.outputTokensForHold()) + marginTokens(m), rate);
  };

  /**
   * The last resort for one request: a bug or an input nobody foresaw, thrown from a stream
   * callback, ends this request (charged what it may have cost) instead of the process.
   */
  const fail = (err: unknown): void => {
    const message = err instanceof Error ? err.message : String(err);
    ctx.log(`internal error on ${route.path} for ${hold.key.record.name}: ${message}`);
    abort.abort();
    try {
      if (!finished) {
        let charge = hold.amountNanos;
        try {
          charge = estimatedCharge();
        } catch {
          // The hold is what this request may cost at most.
        }
        finish('error', null, charge, `spendcap internal error: ${message}`);
      }
    } catch (settleErr) {
      ctx.log(`could not settle after an internal error: ${(settleErr as Error).message}`);
    }
    if (!res.headersSent) sendError(res, adapter, 'E_UPSTREAM', `spendcap internal error: ${message}`);
    else res.destroy();
  };
  const guarded = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A): void => {
    try {
      fn(...args);
    } catch (err) {
      fail(err);
    }
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
    const needed = costSoFar(m);
    const plan = planGrowth(hold.amountNanos, needed, stepNanos, bank.room(hold.accounts));
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
    waitClock = setInterval(guarded(() => {
      if (finished) return stopWaitClock();
      const refusal = reassess(m0);
      if (refusal === null) return;
      stopWaitClock();
      bank.markExhausted(refusal);
      abort.abort();
      finish('cut', null, estimatedCharge(), `${refusal.code}: ${refusal.account.label} (before the response started)`);
      sendError(res, adapter, refusal.code, describeRefusal(refusal));
    }), CLOCK_MS);
  }

  let upstreamRes: Dispatcher.ResponseData;
  const sentAt = Date.now();
  try {
    upstreamRes = await ctx.dispatcher.request({
      origin: upstream.origin,
      path: upstream.basePath + route.path + route.query,
      method: 'POST',
      headers: { ...requestHeadersForUpstream(req.headers, adapter.forwardedHeaders, true), ...adapter.authHeaders(hold.key.providerKey, route.provider) },
      body,
      signal: abort.signal,
      headersTimeout: 600_000,
      bodyTimeout: 600_000,
    });
  } catch (err) {
    stopWaitClock();
    if (finished) return;
    const code = (err as { code?: string }).code ?? '';
    const nothingSent = sentNothing(code);
    finish('error', null, nothingSent ? 0 : Math.min(hold.amountNanos, model.inputEstimateNanos), `upstream unreachable: ${code || (err as Error).message}`);
    sendError(res, adapter, 'E_UPSTREAM', `spendcap could not reach the provider at ${upstream.origin}: ${code || (err as Error).message}`);
    return;
  }
  stopWaitClock();
  inflight.latencyMs = Math.min(MAX_ABORT_LATENCY_MS, Math.max(MIN_ABORT_LATENCY_MS, Date.now() - sentAt));
  status = upstreamRes.statusCode;
  // OpenRouter's generation id (header or body) is what GET /generation?id= answers for: spendcap reconcile.
  const generationId = upstreamRes.headers['x-generation-id'];
  const rid = generationId ?? upstreamRes.headers['request-id'] ?? upstreamRes.headers['x-request-id'];
  if (typeof rid === 'string') requestId = rid;
  bodyIdWins = route.provider === 'openrouter' && typeof generationId !== 'string';
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
    // so a finished request always has its ledger row. It is buffered up to a limit.
    const chunks: Buffer[] = [];
    let size = 0;
    const tooLarge = await new Promise<boolean>((resolve) => {
      upstreamRes.body.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= options.maxReplyBytes) return void chunks.push(c);
        chunks.length = 0;
        upstreamRes.body.destroy();
        resolve(true);
      });
      upstreamRes.body.on('end', () => resolve(false));
      upstreamRes.body.on('error', () => resolve(false));
    });
    if (finished) return;
    if (tooLarge) {
      abort.abort();
      // The provider produced the whole reply, so it may bill it: the most the request could cost.
      const charge = status === 200 ? Math.max(hold.amountNanos, wholeReplyNanos) : 0;
      finishPastHold('error', null, charge, `reply larger than ${options.maxReplyBytes} bytes, not forwarded`);
      sendError(res, adapter, 'E_UPSTREAM', `spendcap: the provider's reply is larger than ${options.maxReplyBytes} bytes; spendcap does not forward it. Lower the output limit or stream the reply.`);
      return;
    }
    const whole = Buffer.concat(chunks);
    if (status !== 200 && adapter.providerCapRefused?.(route.provider, status, whole) === true) {
      // The provider's limit on the key (the second wall) refused it: the client sees a spendcap cap refusal; nothing is billed.
      const account = hold.accounts.find((a) => a.scope === 'key') ?? hold.accounts[0]!;
      finish('blocked', null, 0, `E_CAP_REACHED: the provider's limit on the key (upstream status ${status})`);
      await settled;
      sendError(res, adapter, 'E_CAP_REACHED', describeRefusal({ code: 'E_CAP_REACHED', account, neededNanos: 0 }, 'provider'));
      return;
    }
    if (res.headersSent) {
      // Held for approval, so the client already has SSE headers: the provider's error becomes an error event.
      finish('error', null, 0, `upstream status ${status}`);
      endAfterSettle(`event: error\ndata: ${whole.toString('utf8')}\n\n`);
      return;
    }
    res.writeHead(status, clientHeaders(upstreamRes.headers));
    if (status === 200) {
      let usage: Usage | null = null;
      try {
        const json: unknown = JSON.parse(whole.toString('utf8'));
        usage = adapter.usageFromJson(json);
        providerCostNanos = adapter.providerCostFromJson?.(json) ?? null;
        bodyId = adapter.responseIdFromJson?.(json) ?? undefined;
      } catch {
        usage = null;
      }
      // A whole reply to a stream request (backends that ignore `stream`) held only a stream's
      // margin: it settles like a non-streamed one, and says so when it costs past the cap.
      const jsonToStream = info.stream ? 'a whole (JSON) reply to a stream request' : null;
      if (usage) settleFromUsage('ok', usage, providerCostNanos, jsonToStream);
      else finishPastHold('error', null, info.stream ? Math.max(hold.amountNanos, wholeReplyNanos) : hold.amountNanos, 'response without usage; charged the most it could cost');
    } else {
      // Providers do not bill requests they reject.
      finish('error', null, 0, `upstream status ${status}`);
    }
    endAfterSettle(whole);
    return;
  }

  if (!res.headersSent) {
    res.writeHead(status, clientHeaders(upstreamRes.headers));
    res.flushHeaders();
  }
  meter ??= adapter.newStreamMeter(info);
  const m = meter;
  /** Set once spendcap ended the client's stream itself (cut or kill): nothing more is forwarded. */
  let ended = false;
  const rewrite = m.rewrite?.bind(m);
  const parser = new SseParser(rewrite !== undefined);
  let received = 0;
  let forwarded = 0;
  /** Bytes of the event not yet complete, forwarded once it is. */
  const pending = new ByteQueue();

  // Backpressure: when the client reads slower than the provider sends, the provider's stream waits
  // (its TCP window fills) instead of spendcap buffering it in memory.
  let paused = false;
  const send = (data: Buffer | string): void => {
    if (res.write(data) || paused || res.destroyed) return;
    paused = true;
    upstreamRes.body.pause();
    res.once('drain', () => {
      paused = false;
      upstreamRes.body.resume();
    });
  };

  /** Forwards bytes up to the last complete event; a partial event waits for its end so a cut always lands on a boundary. */
  const forwardComplete = (chunk: Buffer): void => {
    const upTo = received - parser.pendingBytes;
    if (pending.length === 0 && upTo === received) {
      send(chunk);
      forwarded = received;
      return;
    }
    pending.push(chunk);
    const n = upTo - forwarded;
    if (n <= 0) return;
    pending.take(n, send);
    forwarded += n;
  };

  /** What the client gets for a chunk: its complete events' bytes, or their rewrites when the meter must change them. */
  const relayOut = (chunk: Buffer, events: readonly SseEvent[]): void => {
    if (rewrite === undefined) return forwardComplete(chunk);
    let out = '';
    for (const ev of events) out += ev.comment === undefined ? rewrite(ev) : `:${ev.comment}\n\n`;
    if (out !== '') send(out);
  };

  cutStream = (refusal: Refusal) => {
    if (finished || ended) return;
    ended = true;
    abort.abort();
    finish('cut', null, estimatedCharge(), `${refusal.code}: ${refusal.account.label}`);
    endAfterSettle(m.cutTail(describeRefusal(refusal, 'cut')));
  };

  const onChunk = (chunk: Buffer): void => {
    if (ended) return;
    received += chunk.length;
    const events = parser.push(chunk);
    // One event is held whole until its end: past the limit the stream is cut rather than the memory spent.
    if (parser.pendingBytes > options.maxEventBytes) return overlong(chunk, events);
    if (events.length === 0 || finished) {
      relayOut(chunk, events);
      return;
    }
    for (const ev of events) if (ev.comment === undefined) m.onEvent(ev);
    if (m.complete && m.hasFinalUsage) {
      // Settle before the client sees the end, so a finished stream always has its row.
      settleFromUsage('ok', m.usage, m.providerCostNanos ?? null, null);
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
      clock = setInterval(guarded(() => {
        if (finished || ended) return stopClock();
        const refusal = reassess(m);
        if (refusal) {
          bank.markExhausted(refusal);
          cutStream?.(refusal);
        }
      }), CLOCK_MS);
    } else if (!m.needsClock) stopClock();
  };
  const stopClock = (): void => {
    if (clock !== null) clearInterval(clock);
    clock = null;
  };
  res.on('close', stopClock);

  const overlong = (chunk: Buffer, events: readonly SseEvent[]): void => {
    for (const ev of events) if (ev.comment === undefined) m.onEvent(ev);
    relayOut(chunk, events);
    ended = true;
    abort.abort();
    const notice = `spendcap: the provider sent an event larger than ${options.maxEventBytes} bytes; the stream was ended there`;
    finish('error', null, estimatedCharge(), notice);
    endAfterSettle(m.cutTail(notice));
  };

  const cutAt = (chunk: Buffer, events: readonly SseEvent[], refusal: Refusal): void => {
    // The events already read are paid for by the margin held before them: the client gets them, then the tail.
    relayOut(chunk, events);
    bank.markExhausted(refusal);
    cutStream?.(refusal);
  };

  upstreamRes.body.on('data', guarded(onChunk));
  // Hidden output may be running before the first event, too.
  syncClock();
  await new Promise<void>((resolve) => {
    upstreamRes.body.on('end', () => {
      guarded(onStreamEnd)();
      resolve();
    });
    const onStreamEnd = (): void => {
      if (!finished) {
        if (m.hasFinalUsage) settleFromUsage(m.complete ? 'ok' : 'error', m.usage, m.providerCostNanos ?? null, m.complete ? null : 'stream ended without its final event');
        else finish('error', null, estimatedCharge(), 'stream ended before the provider reported usage');
      }
      if (!res.writableEnded && !res.destroyed) {
        // A last event without its blank line is passed on as it came (a rewritten stream drops it: it was never whole).
        if (rewrite === undefined) pending.take(pending.length, (b) => res.write(b));
        endAfterSettle();
      }
    };
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
