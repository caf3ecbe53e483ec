// Hold-and-approve: a request that would pass the cap of a budget in ask mode waits for a person's
// answer instead of being refused. The question goes out through every channel (buttons where the
// channel has them, the dashboard, `spendcap approve|deny`); the answer is a row in the store, so a
// CLI process can give it. Approve is an audited lift; deny or timeout refuses the request as today.
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Account, Bank, KeyEntry } from '../budgets/index.js';
import { roomNanos } from '../budgets/index.js';
import { formatUsd, usdToNanos } from '../pricing/index.js';
import type { Nanos } from '../pricing/index.js';
import type { AlertStoreApi, Store } from '../store/index.js';
import type { AlertService } from './dispatcher.js';
import { shortUsd } from './render.js';

export const DEFAULT_ASK_TIMEOUT_S = 120;
/** A waiting stream gets an SSE comment this often, so proxies and clients keep the connection. */
const KEEPALIVE_MS = 10_000;
const POLL_MS = 200;

/** What the proxy needs from the gate (src/proxy/relay.ts ApprovalGate). */
export interface WaitRequest {
  account: Account;
  key: KeyEntry;
  neededNanos: Nanos;
  model: string;
  stream: boolean;
  res: ServerResponse;
}

/** The raise to ask for: $5, or the shortfall rounded up to whole dollars when $5 would not let the request start. */
export function suggestedAdd(neededNanos: Nanos, roomLeft: Nanos): Nanos {
  const shortfall = neededNanos - Math.max(0, roomLeft);
  const dollar = usdToNanos(1);
  return Math.max(usdToNanos(5), Math.ceil(shortfall / dollar) * dollar);
}

/**
 * After a deny, the same budget's requests are refused at once for a while: clients retry a refused
 * request (Claude Code retries it without streaming), and a person who said no should not be asked again.
 */
const DENIED_QUIET_MS = 15_000;

export class AskGate {
  readonly #store: Store;
  /** Budget name → until when its requests are refused without asking (after a deny). */
  readonly #deniedUntil = new Map<string, number>();
  readonly #alerts: AlertStoreApi;
  readonly #bank: Bank;
  readonly #service: AlertService | null;
  readonly #now: () => number;
  /** Called when an ask opens or closes (the dashboard's live feed). */
  onChange: (() => void) | null = null;

  constructor(deps: { store: Store; bank: Bank; service: AlertService | null; now?: () => number }) {
    this.#store = deps.store;
    this.#alerts = deps.store.alerts;
    this.#bank = deps.bank;
    this.#service = deps.service;
    this.#now = deps.now ?? Date.now;
  }

  /** Only a stored budget in ask mode waits; a session cap or a kill refuses at once. */
  async applies(account: Account): Promise<boolean> {
    if (account.scope === 'session' || account.killed) return false;
    if ((this.#deniedUntil.get(account.liftName) ?? 0) > this.#now()) return false;
    return (await this.#alerts.budgetSettings(account.liftName))?.ask === true;
  }

  /** Resolves true once approved (the cap is raised: try admission again), false on deny, timeout or a closed client. */
  async wait(w: WaitRequest): Promise<boolean> {
    const now = this.#now();
    const timeoutS = (await this.#alerts.budgetSettings(w.account.liftName))?.askTimeoutS ?? DEFAULT_ASK_TIMEOUT_S;
    const id = randomUUID();
    const addNanos = suggestedAdd(w.neededNanos, roomNanos(w.account));
    await this.#alerts.insertAsk({ id, budget: w.account.liftName, keyName: w.key.record.name, addNanos, createdAt: now, expiresAt: now + timeoutS * 1000 });
    await this.#store.events.insert({
      ts: now,
      kind: 'ask',
      budget: w.account.liftName,
      channel: 'auto',
      capBeforeNanos: null,
      capAfterNanos: null,
      detail: `a request (${w.model}) on ${w.account.label} waits up to ${timeoutS} s for approval of +${shortUsd(addNanos)} (spent ${formatUsd(w.account.spentNanos)} of ${formatUsd(w.account.capNanos)}): spendcap approve ${w.account.liftName} | spendcap deny ${w.account.liftName}`,
    });
    await this.#service?.enqueue(
      {
        kind: 'ask',
        budget: w.account.liftName,
        scope: w.account.scope ?? 'key',
        spentNanos: w.account.spentNanos,
        capNanos: w.account.capNanos,
        periodStart: w.account.periodStart ?? null,
        periodEnd: w.account.periodEnd,
        askId: id,
        askAddNanos: addNanos,
        keyName: w.key.record.name,
        model: w.model,
      },
      'once',
    );
    this.onChange?.();
    if (w.stream) {
      // A stream's client reads an SSE comment as "still working": the headers go now, the events after approval.
      // setHeader, not writeHead's object: the relay reads content-type back to end a refused wait as an SSE error event.
      w.res.setHeader('content-type', 'text/event-stream; charset=utf-8');
      w.res.setHeader('cache-control', 'no-cache');
      w.res.setHeader('x-spendcap-held', 'waiting for approval');
      w.res.writeHead(200);
      w.res.write(': waiting for approval\n\n');
    }
    try {
      return await this.#poll(id, w);
    } finally {
      this.onChange?.();
    }
  }

  #poll(id: string, w: WaitRequest): Promise<boolean> {
    return new Promise((resolve) => {
      let closed = false;
      const onClose = () => (closed = true);
      w.res.on('close', onClose);
      const keepalive = w.stream ? setInterval(() => w.res.write(': waiting for approval\n\n'), KEEPALIVE_MS) : null;
      const finish = (ok: boolean) => {
        clearInterval(timer);
        if (keepalive) clearInterval(keepalive);
        w.res.off('close', onClose);
        resolve(ok);
      };
      let busy = false;
      const check = async (): Promise<void> => {
        const now = this.#now();
        const ask = await this.#alerts.ask(id);
        if (closed) {
          await this.#alerts.decideAsk(id, 'expired', 'client closed the connection', now);
          return finish(false);
        }
        if (ask?.state === 'denied') this.#deniedUntil.set(ask.budget, now + DENIED_QUIET_MS);
        if (ask === undefined || ask.state === 'denied' || ask.state === 'expired') return finish(false);
        if (ask.state === 'approved') {
          // The lift was written by another connection (CLI, admin API, a channel's writer): reload it now.
          await this.#bank.refresh();
          return finish(true);
        }
        if (now >= ask.expiresAt) {
          if (await this.#alerts.decideAsk(id, 'expired', 'timeout', now)) {
            await this.#store.events.insert({ ts: now, kind: 'ask-timeout', budget: ask.budget, channel: 'auto', capBeforeNanos: null, capAfterNanos: null, detail: `nobody answered within ${Math.round((ask.expiresAt - ask.createdAt) / 1000)} s; the request was refused` });
          }
          return finish(false);
        }
      };
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        check()
          .catch(() => finish(false))
          .finally(() => (busy = false));
      }, POLL_MS);
    });
  }
}
