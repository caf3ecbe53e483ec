import { formatUsd, costNanos } from '../pricing/index.js';
import type { Nanos, Usage } from '../pricing/index.js';
import type { Outcome } from '../store/index.js';
import { ceilingNanos } from './cost.js';
import type { Exchange } from './exchange.js';
import { safeTokens, safeUsage, usageFlaw } from './usage-guard.js';

/**
 * Step 4, settle: the hold becomes one ledger row, exactly once per request, whatever way it ended.
 * `estimated`: the charge is spendcap's, not the provider's usage priced (the usage was untrusted).
 */
export function finish(x: Exchange, outcome: Outcome, usage: Usage | null, chargeNanos: Nanos, detail: string | null, estimated = false): void {
  const { life, meter, admitted } = x;
  if (!life.markSettled()) return;
  // Without the provider's final count, the row shows the output tokens spendcap charged for.
  const raw = usage ?? (meter ? { ...meter.usage, outputTokens: meter.outputTokensForHold() } : null);
  const u = raw === null ? null : safeUsage(raw);
  // Untrusted usage is never remembered: the next turn's estimate stands on the provider's valid counts only.
  if (usage !== null && usageFlaw(usage) === null) admitted.remember(usage);
  else if (usage === null && meter?.inputKnown && usageFlaw(meter.usage) === null) admitted.remember(meter.usage);
  const reported = x.providerCostNanos ?? meter?.providerCostNanos ?? null;
  const rates = admitted.model.rates;
  const hold = life.hold;
  const requestId = (x.bodyIdWins ? (meter?.responseId ?? x.bodyId) : undefined) ?? x.requestId;
  x.ledgerWrite = life.bank.settle(hold, {
    requestId,
    provider: x.route.provider,
    model: meter?.model ?? admitted.info.model,
    pricedAs: admitted.price.pricedAs,
    priceEstimated: admitted.price.estimated,
    inputTokens: u?.inputTokens ?? 0,
    outputTokens: u?.outputTokens ?? 0,
    cacheReadTokens: u?.cacheReadTokens ?? 0,
    cacheWrite5mTokens: u?.cacheWrite5mTokens ?? 0,
    cacheWrite1hTokens: u?.cacheWrite1hTokens ?? 0,
    costNanos: chargeNanos,
    outcome,
    usageSource: usage !== null && !estimated ? 'provider' : chargeNanos > 0 ? 'estimate' : 'none',
    status: x.status,
    durationMs: Date.now() - admitted.startedAt,
    detail,
    providerCostNanos: reported,
    // Beside the provider's own figure: spendcap's price of the same usage. Beside a cut's charge (the
    // safe upper bound, margin included): spendcap's best estimate of the bill, what it read without the margin.
    meteredCostNanos: reported !== null && usage !== null && u !== null ? costNanos(u, rates) : usage === null && u !== null && meter?.inputKnown ? costNanos(u, rates) : null,
    // A stream's client may take its final event as the end, before the connection closes: commit now.
  }, { soon: admitted.info.stream });
  // Charged from spendcap's estimate (a cut): OpenRouter reports the cancelled generation's cost later (src/reconcile/openrouter-cut.ts).
  if (x.route.provider === 'openrouter' && reported === null && chargeNanos > 0 && (usage === null || estimated)) {
    x.ctx.cutReconciler?.schedule({ generationId: requestId, providerKey: hold.key.providerKey, base: `${x.route.upstream.origin}${x.route.upstream.basePath}/v1` });
  }
  x.ctx.log(`${outcome} ${hold.key.record.name}${hold.session ? `/${hold.session.slice(0, 8)}` : ''} ${admitted.info.model} $${(chargeNanos / 1e9).toFixed(9)}${detail ? ` (${detail})` : ''}`);
}

/**
 * Settles from the provider's usage, which is untrusted: invalid counts settle at the hold, a
 * charge past the request's ceiling at the ceiling; either way the row says so and the log shows it.
 * The provider's own figure settles the charge when it gives one (OpenRouter's usage.cost); the ledger keeps both.
 */
export function settleFromUsage(x: Exchange, outcome: Outcome, usage: Usage, reported: Nanos | null, detail: string | null): void {
  const { life, admitted } = x;
  const flaw = usageFlaw(usage);
  if (flaw !== null) {
    finish(x, outcome, usage, life.amountNanos, `provider reported invalid usage (${flaw}); charged the hold${detail ? `; ${detail}` : ''}`, true);
    return;
  }
  const charge = reported ?? costNanos(usage, admitted.model.rates);
  const ceiling = ceilingNanos(admitted.model, safeTokens(admitted.info.maxTokens), life.amountNanos);
  if (charge > ceiling) {
    finish(x, outcome, usage, ceiling, `provider reported usage past the request's limits (${usage.inputTokens} in, ${usage.outputTokens} out); charged the most it could cost${detail ? `; ${detail}` : ''}`, true);
    return;
  }
  if (charge > life.amountNanos && detail !== null) finishPastHold(x, outcome, usage, charge, detail);
  else finish(x, outcome, usage, charge, detail);
}

/**
 * Settles from spendcap's own estimate, without the provider's usage (a cut, a drop, a client gone):
 * what the stream showed plus what may be in flight (HoldLife.estimatedCharge), booked past the
 * hold when the stream showed more than its hold.
 */
export function finishFromEstimate(x: Exchange, outcome: Outcome, detail: string, afterRead = false): void {
  finishPastHold(x, outcome, null, x.estimatedCharge(afterRead), detail);
}

/**
 * A charge past the hold (a whole reply the hold did not cover): the hold grows to it when the
 * budgets have room; when they do not, it is still booked (the provider bills it), the budget is
 * marked exhausted and the row says by how much it went past.
 */
export function finishPastHold(x: Exchange, outcome: Outcome, usage: Usage | null, charge: Nanos, detail: string): void {
  const { life } = x;
  const refusal = life.growTo(charge);
  if (refusal === null) return finish(x, outcome, usage, charge, detail);
  life.exhaust(refusal);
  finish(x, outcome, usage, charge, `${detail}; cost past the cap of ${refusal.account.label} by ${formatUsd(charge - life.amountNanos)} over its hold`, usage === null);
}
