// The words of the money side: what a refused or cut client reads, and what a blocked ledger row
// says. Kept apart from the Bank, which only decides.
import { formatUsd } from '../pricing/index.js';
import type { Refusal } from './account.js';

/** Headers a request names its tag budget with: spendcap's own, then the one other proxies use. */
export const BUDGET_HEADERS = ['x-spendcap-budget', 'x-budget-id'] as const;

/** A request named a tag budget that does not exist: refused, so a typo cannot spend outside the budget meant. */
export interface UnknownTag {
  readonly code: 'E_UNKNOWN_BUDGET';
  readonly tag: string;
}

/** Why a request was refused before any hold: a budget's refusal, an unknown tag, an unknown model. */
export type BlockReason = Refusal | UnknownTag | { readonly code: 'E_UNKNOWN_MODEL' };

export function describeUnknownTag(u: UnknownTag): string {
  return `spendcap: no budget named "${u.tag}" (from the ${BUDGET_HEADERS.join(' / ')} header). Create it: spendcap budget add ${u.tag} --scope tag --cap USD, or drop the header.`;
}

/** The detail a blocked ledger row keeps: "<code>: <account label>" for a budget's refusal. */
export function blockedDetail(reason: BlockReason): string {
  if ('account' in reason) return `${reason.code}: ${reason.account.label}`;
  if (reason.code === 'E_UNKNOWN_BUDGET') return describeUnknownTag(reason);
  return reason.code;
}

/**
 * The message a blocked or cut client sees: which budget, what it spent, when it resets, how to
 * lift it. `cut` says the response was ended here; a block says what the request would have needed.
 */
export function describeRefusal(refusal: Refusal, context: 'block' | 'cut' | 'provider' = 'block'): string {
  const a = refusal.account;
  const cap = formatUsd(a.capNanos);
  const resets = a.periodEnd === null ? '' : `, resets ${new Date(a.periodEnd).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
  const period = a.periodLabel === 'session' ? 'this session' : a.periodLabel;
  if (refusal.code === 'E_KILLED') {
    const what = context === 'cut' ? 'was killed; this response was cut here' : 'was killed';
    return `spendcap: ${a.label} ${what} (spent ${formatUsd(a.spentNanos)} of ${cap}, ${period}). Re-open it: spendcap unkill ${a.liftName}`;
  }
  if (context === 'provider') {
    // The provider's own limit on the key (spendcap provider-key) refused it: the second wall held.
    return `spendcap: ${a.label} reached its cap at the provider: the provider key's own limit refused this request (spendcap counts ${formatUsd(a.spentNanos)} of ${cap}, ${period}${resets}). Raise it: spendcap lift ${a.liftName} --add 5`;
  }
  if (context === 'cut') {
    return `spendcap: ${a.label} reached its cap of ${cap} (${period}${resets}); this response was cut here. Raise it: spendcap lift ${a.liftName} --add 5`;
  }
  const inFlight = a.heldNanos > 0 ? ` (+${formatUsd(a.heldNanos)} held by requests in flight)` : '';
  const room = a.capNanos - a.spentNanos - a.heldNanos;
  // With some room left, say why it is not enough: the prompt alone may cost more.
  const needs = room > 0 && !a.exhausted && refusal.neededNanos > room ? `; this request needs up to ${formatUsd(refusal.neededNanos)} to start` : '';
  return `spendcap: ${a.label} reached its cap: spent ${formatUsd(a.spentNanos)}${inFlight} of ${cap} (${period}${resets})${needs}. Raise it: spendcap lift ${a.liftName} --add 5`;
}
