import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { clampTokens, describeRefusal, describeUnknownTag, planGrowth } from '../budgets/index.js';
import type { Account, Hold, KeyEntry, Refusal } from '../budgets/index.js';
import { tokensCostNanos, totalInputTokens, UnknownModelError } from '../pricing/index.js';
import type { Nanos, ResolvedPrice, Usage } from '../pricing/index.js';
import type { RequestInfo } from '../providers/types.js';
import { boundTo, sessionOf } from './auth.js';
import { budgetTagOf } from './budget-header.js';
import { BodyEncodingError, readBody } from './body.js';
import { sendError } from './context.js';
import type { ProxyContext, Route } from './context.js';
import { costModel, estimateNanos } from './cost.js';
import type { CostModel } from './cost.js';
import { digestPrompt, PromptMemory } from './prompt-memory.js';
import { firstReadTokens } from './hold-life.js';

/** A clamped stream must end by its own limit, not by a cut: its limit leaves room for a full in-flight margin. */
const CLAMP_MARGIN_TOKENS = 128;
/** A hold grows by at most this share of the smallest cap at once, so a small cap is not fragmented by steps. */
const STEP_CAP_DIVISOR = 64;
/** Team mode: how many top-ups a new stream asks for at most before it opens on what its slice has. */
const FIRST_STEP_TOP_UPS = 3;

/** A request that passed admission: what the later steps need to dispatch, meter and settle it. */
export interface Admitted {
  /** The bytes to send upstream (the client's, or rewritten: clamp, usage options). */
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

/**
 * Step 1, admit: read and parse the body, price it, find the budgets it draws on, and open its hold
 * (waiting for a person's answer when a budget is in ask mode). Null: the client has its answer
 * (a refusal or an error) and nothing went upstream.
 */
export async function admit(ctx: ProxyContext, route: Route, key: KeyEntry, req: IncomingMessage, res: ServerResponse): Promise<Admitted | null> {
  const startedAt = Date.now();
  const { adapter } = route;
  const body = await readBody(req, ctx.options.maxBodyBytes);
  if (body === 'too-large') {
    sendError(res, adapter, 'E_TOO_LARGE', `spendcap: request body is larger than ${ctx.options.maxBodyBytes} bytes`);
    return null;
  }
  if (body instanceof BodyEncodingError) {
    sendError(res, adapter, 'E_BAD_REQUEST', `spendcap: ${body.message}`);
    return null;
  }
  const loading = adapter.whenReady?.();
  if (loading) await loading;
  const parsed = adapter.parseRequest(body, route.path, new URLSearchParams(route.query));
  if ('code' in parsed) {
    sendError(res, adapter, 'E_BAD_REQUEST', `spendcap: ${parsed.message}`);
    return null;
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
    return null;
  }

  const model = costModel(info, price);
  const opts = ctx.options;
  const accounts = await ctx.bank.accountsFor(key, session, binding?.budget ?? budgetTagOf(req.headers));
  if (!Array.isArray(accounts)) {
    await ctx.bank.recordBlocked(key, session, provider, info.model, randomUUID(), accounts, 400);
    sendError(res, adapter, 'E_BAD_REQUEST', describeUnknownTag(accounts));
    return null;
  }
  // A budget made with --clamp shortens a request it cannot pay for whole, so the provider ends it itself.
  const clampedTo = clampTokens({ accounts, inputNanos: model.inputEstimateNanos, outputRate: model.outputRate, maxTokens: info.maxTokens, stream: info.stream, marginTokens: CLAMP_MARGIN_TOKENS });
  const clampedBody = clampedTo === null ? null : adapter.withOutputLimit(info.upstreamBody ?? body, clampedTo);
  if (clampedTo !== null && clampedBody !== null) info = { ...info, maxTokens: clampedTo, upstreamBody: clampedBody };
  // A non-streamed response cannot be cut, so its whole possible output must be paid for up front.
  const firstNeed = estimateNanos(model, info.stream ? opts.marginTokens : info.maxTokens);
  const smallestCap = Math.min(...accounts.filter((a) => a.mode === 'hard').map((a) => a.capNanos));
  const stepNanos = info.stream ? Math.min(tokensCostNanos(opts.stepTokens, model.outputRate), Math.floor(smallestCap / STEP_CAP_DIVISOR)) : 0;
  // The first step also covers what the provider may write before spendcap first reads the stream (when there is room).
  const firstStep = info.stream ? Math.max(stepNanos, tokensCostNanos(firstReadTokens(key), model.outputRate)) : 0;
  const open = (): Hold | Refusal => openHold(ctx, key, session, accounts, info.model, firstNeed, firstStep, provider);
  // Team mode: a slice with room for the prompt but not for the first step would open a stream that
  // is cut at its first chunk unless the top-up lands before it (12 streams started together on three
  // instances: 2 cut at 2-4 tokens in half the runs). Streams arriving together share one grant, sized
  // for the first of them: top up until this one's first step fits, a few round trips at most. Local
  // mode: no wait (topUp is null), and the check and the opening are in one synchronous step.
  for (let i = 0; info.stream && i < FIRST_STEP_TOP_UPS; i++) {
    const topUp = ctx.bank.topUp(accounts, firstNeed + firstStep);
    if (topUp === null) break;
    await topUp;
  }
  let opened = open();
  // Team mode: this instance's lease ran short; one top-up (or one wait for others to give back) before refusing.
  if (!('id' in opened) && opened.code === 'E_CAP_REACHED' && (await ctx.bank.waitForRoom(accounts, firstNeed))) opened = open();
  if (!('id' in opened) && opened.code === 'E_CAP_REACHED' && (await ctx.approval?.applies(opened.account)) === true) {
    if (await ctx.approval!.wait({ account: opened.account, key, neededNanos: firstNeed, model: info.model, stream: info.stream, res })) opened = open();
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
    return null;
  }
  const remember = (u: Usage): void => memory.remember(promptScope, promptDigest, totalInputTokens(u));
  // Upstream only once the hold is on disk (group commit): a crash from here on still charges it.
  try {
    await opened.durable;
  } catch (err) {
    ctx.log(`hold not written for ${key.record.name}: ${(err as Error).message}`);
    sendError(res, adapter, 'E_UPSTREAM', 'spendcap: could not record the request before sending it (storage error); nothing was sent upstream');
    return null;
  }
  return { body: info.upstreamBody ?? body, info, price, model, hold: opened, stepNanos, startedAt, clampedTo: clampedBody === null ? null : clampedTo, remember };
}

/** The first hold: the request's first need, in one step when the budgets have room, or the refusal that says whose room is missing. */
function openHold(ctx: ProxyContext, key: KeyEntry, session: string | null, accounts: Account[], modelName: string, firstNeed: Nanos, stepNanos: Nanos, provider: Route['provider']): Hold | Refusal {
  const plan = planGrowth(0, firstNeed, stepNanos, ctx.bank.room(accounts));
  return plan.action === 'cut'
    ? (ctx.bank.check(accounts, firstNeed) ?? { code: 'E_CAP_REACHED' as const, account: accounts[0]!, neededNanos: firstNeed })
    : ctx.bank.open(key, session, accounts, modelName, plan.action === 'grow' ? plan.extraNanos : firstNeed, provider);
}
