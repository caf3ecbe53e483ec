// Button taps become the same audited budget actions as the CLI (src/budgets/actions.ts), with the
// channel and the person in the event's detail.
import { killBudget, liftBudget } from '../budgets/index.js';
import { formatUsd } from '../pricing/index.js';
import { StoreError } from '../store/index.js';
import type { EventChannel, Store } from '../store/index.js';
import type { ActionHandler, ActionOutcome, InboundAction } from './types.js';
import { shortUsd } from './render.js';

export function eventChannelOf(c: InboundAction['channel']): EventChannel {
  return c === 'slack' || c === 'telegram' || c === 'web' ? c : 'cli';
}

/**
 * Raises a budget's cap by `add`, or to its ceiling when `add` would pass it (a tap should do the
 * most it may, not fail). Throws StoreError when the cap is already at the ceiling.
 */
export async function bump(store: Store, budget: string, addNanos: number, channel: EventChannel, detail: string): Promise<{ capNanos: number; toCeiling: boolean }> {
  const b = await store.budgets.byName(budget);
  if (b === undefined) throw new StoreError('E_NOT_FOUND', `no key or budget named "${budget}"`);
  if (b.ceilingNanos !== null && b.capNanos + addNanos > b.ceilingNanos) {
    if (b.capNanos >= b.ceilingNanos) throw new StoreError('E_INVALID', `"${budget}" is already at its ceiling of ${formatUsd(b.ceilingNanos)}`);
    const r = await liftBudget(store, budget, { toCeiling: true }, channel, { detail });
    return { capNanos: r.after!.capNanos, toCeiling: true };
  }
  const r = await liftBudget(store, budget, { add: addNanos }, channel, { detail });
  return { capNanos: r.after!.capNanos, toCeiling: false };
}

/** Answers a held request: approve raises the cap (audited lift) and marks the ask; the waiting request then proceeds. */
export async function answerAsk(store: Store, askId: string, answer: 'approve' | 'deny', channel: EventChannel, user: string, addNanos?: number, now = Date.now()): Promise<ActionOutcome> {
  const alerts = store.alerts;
  const ask = await alerts.ask(askId);
  if (ask === undefined) return { ok: false, text: '✗ No such request waiting' };
  if (ask.state !== 'pending' || ask.expiresAt <= now) return { ok: false, text: `✗ Already ${ask.state === 'pending' ? 'timed out' : ask.state}` };
  const by = `${channel} user ${user}`;
  if (answer === 'deny') {
    if (!(await alerts.decideAsk(askId, 'denied', by, now))) return { ok: false, text: '✗ Already answered' };
    await store.events.insert({ ts: now, kind: 'ask-deny', budget: ask.budget, channel, capBeforeNanos: null, capAfterNanos: null, detail: `held request denied by ${by}` });
    return { ok: true, text: '✓ Denied — the request was refused' };
  }
  const add = addNanos ?? ask.addNanos;
  const { capNanos } = await bump(store, ask.budget, add, channel, `approved a held request; by ${by}`);
  if (!(await alerts.decideAsk(askId, 'approved', by, now))) return { ok: false, text: '✗ Already answered' };
  return { ok: true, text: `✓ Allowed +${shortUsd(add)} — cap is now ${formatUsd(capNanos)}` };
}

/**
 * The handler every channel with buttons calls. `writer` is a store connection of its own: its
 * commits move PRAGMA data_version, so the running server reloads the budget as after a CLI command.
 */
export function createActionHandler(deps: { writer: () => Store | Promise<Store>; onChanged?: () => void | Promise<void> }): ActionHandler {
  return async (action: InboundAction): Promise<ActionOutcome> => {
    const store = await deps.writer();
    const channel = eventChannelOf(action.channel);
    const detail = `by ${action.channel} user ${action.user}`;
    try {
      let out: ActionOutcome;
      switch (action.button.action) {
        case 'add': {
          const { capNanos, toCeiling } = await bump(store, action.budget, action.button.addNanos ?? 0, channel, detail);
          out = { ok: true, text: `✓ Bumped${toCeiling ? ' to the ceiling' : ''} — cap is now ${formatUsd(capNanos)}` };
          break;
        }
        case 'kill':
          await killBudget(store, action.budget, channel, { detail });
          out = { ok: true, text: `✓ Killed — new requests on "${action.budget}" are refused` };
          break;
        case 'approve':
        case 'deny':
          out = await answerAsk(store, action.button.askId ?? '', action.button.action, channel, action.user, action.button.addNanos);
          break;
      }
      await deps.onChanged?.();
      return out;
    } catch (err) {
      if (err instanceof StoreError) return { ok: false, text: `✗ ${err.message}` };
      throw err;
    }
  };
}
