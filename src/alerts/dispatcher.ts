// The alert dispatcher: runs beside the proxy on a timer, never inside a request. Each tick it
// (1) turns new audit events (block, cut, kill, lift) into outbox rows, (2) checks thresholds and
// the burn-rate forecast from the live accounts, (3) delivers due rows with retries and backoff.
// The outbox is in the store, so a restart loses nothing; dedupe keys make a storm one message.
import { randomUUID } from 'node:crypto';
import type { Bank } from '../budgets/index.js';
import { filterOf } from '../budgets/autotune.js';
import { periodWindow, readSettings, timeZoneOf } from '../budgets/index.js';
import type { AlertStoreApi, BudgetRecord, Store } from '../store/index.js';
import type { OutboxRow } from '../store/alerts.js';
import { channelConfig } from './config.js';
import { createActionHandler } from './actions.js';
import { createChannel } from './registry.js';
import { backoffMs, buildAlert, crossedThreshold, dedupeKeyOf, FORECAST_WINDOW_MS, forecastReach, routes, supersededBy } from './render.js';
import type { AlertFacts } from './render.js';
import type { ActionHandler, Alert, AlertChannel, ChannelConfig, DeliveryResult, MessageRef } from './types.js';

/** A delivery that takes longer than this counts as failed (and is retried): a hung channel holds nothing up. */
export const DELIVERY_TIMEOUT_MS = 20_000;
/** After this many failures in a row, a row is given up and stays failed (about four hours at the 5-minute cap). */
export const MAX_ATTEMPTS = 50;
/** After this many failures, the event log says so (the row keeps being retried). */
export const REPORT_AFTER_ATTEMPTS = 3;
/** A sent message is rewritten in place at most this often (a block storm updates its count). */
export const UPDATE_EVERY_MS = 15_000;
const FORECAST_EVERY_MS = 30_000;

export interface AlertServiceDeps {
  /** The server's store: outbox, events and ledger reads. */
  store: Store;
  masterKey: Buffer;
  /** Live figures (spent, held, period) for thresholds and forecasts; absent in a CLI process. */
  bank?: Bank;
  dashboardUrl: () => string;
  /** A store connection of its own for button actions, so the server sees them as it sees a CLI command. */
  writer?: () => Store | Promise<Store>;
  /** After a button action changed a budget (the server reloads at once). */
  onChanged?: () => void | Promise<void>;
  now?: () => number;
  tickMs?: number;
  log?: (line: string) => void;
}

interface Live {
  config: ChannelConfig;
  channel: AlertChannel;
}

/** What a queued row holds: the facts, so the message is rendered at delivery with the row's id and count. */
interface Queued {
  facts: AlertFacts;
  eventId?: number;
}

export class AlertService {
  readonly #d: AlertServiceDeps;
  readonly #alerts: AlertStoreApi;
  #ticking = false;
  readonly #now: () => number;
  #channels = new Map<string, Live>();
  #version = '';
  #timer: NodeJS.Timeout | null = null;
  readonly #inflight = new Map<string, Promise<void>>();
  #nextForecast = 0;
  #stopped = false;
  readonly onAction: ActionHandler;

  constructor(deps: AlertServiceDeps) {
    this.#d = deps;
    this.#alerts = deps.store.alerts;
    this.#now = deps.now ?? Date.now;
    this.onAction = createActionHandler({ writer: deps.writer ?? (() => deps.store), ...(deps.onChanged ? { onChanged: deps.onChanged } : {}) });
  }

  get alertStore(): AlertStoreApi {
    return this.#alerts;
  }

  /** Starts the timer; the first tick marks where the event log and ledger are, so history is not alerted on. */
  async start(): Promise<void> {
    await this.#cursor('alerts:last_event_id', () => this.#d.store.events.maxId());
    await this.#cursor('alerts:last_ledger_id', () => this.#d.store.ledger.maxId());
    this.#timer = setInterval(() => {
      this.tick().catch((err: unknown) => {
        // The dispatcher must never take the proxy down; the next tick tries again.
        this.#d.log?.(`alerts: ${(err as Error).message}`);
      });
    }, this.#d.tickMs ?? 1000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await Promise.allSettled([...this.#inflight.values()]);
    await Promise.allSettled([...this.#channels.values()].map((l) => l.channel.stop()));
    this.#channels.clear();
  }

  /** One pass: sync the channels, collect what happened, deliver what is due. Deliveries run on; `flush` waits for them. */
  async tick(): Promise<void> {
    // One pass at a time: a slow store must not start a second pass over the same cursor.
    if (this.#stopped || this.#ticking) return;
    this.#ticking = true;
    try {
      await this.#syncChannels();
      await this.#scanEvents();
      await this.#watchBudgets();
      await this.#scanEstimatedPrices();
      await this.#deliverDue();
    } finally {
      this.#ticking = false;
    }
  }

  /** Waits for the deliveries in flight (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight.values()]);
  }

  /** Queues an alert to every channel that routes it. */
  async enqueue(facts: AlertFacts, mode: 'once' | 'update', eventId?: number): Promise<number> {
    await this.#syncChannels();
    const probe = { kind: facts.kind, budget: facts.budget };
    const dedupeKey = dedupeKeyOf(facts, eventId);
    const body: Queued = { facts, ...(eventId !== undefined ? { eventId } : {}) };
    let n = 0;
    for (const { config } of this.#channels.values()) {
      if (!routes(config, probe)) continue;
      await this.#alerts.enqueue({ id: randomUUID(), channel: config.name, dedupeKey, kind: facts.kind, budget: facts.budget, alert: JSON.stringify(body), now: this.#now() }, mode);
      n++;
    }
    return n;
  }

  /** Sends a test message through one channel now and records the outcome (the checklist turns green). */
  async sendTest(name: string): Promise<DeliveryResult> {
    await this.#syncChannels();
    const live = this.#channels.get(name);
    if (live === undefined) return { ok: false, error: `no alert channel named "${name}"` };
    const result = await sendTestThrough(live.channel, await this.#testFacts(), this.#d.dashboardUrl(), await this.#tz(), this.#now());
    await this.#alerts.recordTest(name, result.ok, result.ok ? 'delivered' : (result.error ?? 'failed'), this.#now());
    return result;
  }

  /** Live channels, for the admin API (what can act, what each sends). */
  async channels(): Promise<ReadonlyArray<{ config: ChannelConfig; channel: AlertChannel }>> {
    await this.#syncChannels();
    return [...this.#channels.values()];
  }

  // --- steps ---

  async #cursor(key: string, initial: () => Promise<number>): Promise<number> {
    const v = await this.#d.store.settings.getMeta(key);
    if (v !== null) return Number(v);
    const start = await initial();
    await this.#d.store.settings.setMeta(key, String(start));
    return start;
  }

  async #tz(): Promise<string> {
    return this.#d.bank?.timeZone ?? timeZoneOf(await readSettings(this.#d.store));
  }

  /** Rebuilds channels when their config changed (a CLI `alerts add` or `rm`); a broken one is logged, the rest run. */
  async #syncChannels(): Promise<void> {
    const version = await this.#alerts.channelsVersion();
    if (version === this.#version) return;
    const rows = await this.#alerts.listChannels();
    // Another pass rebuilt them while this one read.
    if (version === this.#version) return;
    this.#version = version;
    const next = new Map<string, Live>();
    for (const row of rows) {
      const prev = this.#channels.get(row.name);
      if (prev !== undefined && prev.config.kind === row.kind && JSON.stringify(prev.config.budgets) === JSON.stringify(row.budgets) && JSON.stringify(prev.config.events) === JSON.stringify(row.events)) {
        next.set(row.name, prev);
        continue;
      }
      try {
        const config = channelConfig(row, this.#d.masterKey);
        const channel = createChannel(config, {
          // A stranger's tap changes nothing, and is audited so the owner can see it.
          onRefused: (r) =>
            void this.#d.store.events.insert({
              ts: this.#now(),
              kind: 'alert-refused',
              budget: r.budget ?? null,
              channel: r.channel,
              capBeforeNanos: null,
              capAfterNanos: null,
              detail: `${r.channel} user ${r.user} is not allowed to act (${r.reason})${r.action ? `: ${r.action}` : ''} on channel "${r.channelName}"`,
            }).catch(() => {}),
          onError: (message) => this.#d.log?.(`alerts: channel "${row.name}": ${message}`),
        });
        next.set(row.name, { config, channel });
        if (channel.start) channel.start(this.onAction).catch((err: unknown) => this.#d.log?.(`alerts: channel "${row.name}" could not start: ${(err as Error).message}`));
      } catch (err) {
        this.#d.log?.(`alerts: channel "${row.name}" is not usable: ${(err as Error).message}`);
      }
    }
    for (const [name, live] of this.#channels) if (next.get(name) !== live) void live.channel.stop().catch(() => {});
    this.#channels = next;
  }

  /** Figures of a budget: live from the bank in a server, else from the store. */
  async #figures(b: BudgetRecord): Promise<Pick<AlertFacts, 'scope' | 'spentNanos' | 'capNanos' | 'periodStart' | 'periodEnd'>> {
    const bank = this.#d.bank;
    const account = bank === undefined ? undefined : b.scope === 'key' ? bank.keyByName(b.name)?.account : bank.sharedAccount(b.name);
    if (account !== undefined) {
      return { scope: b.scope, spentNanos: account.spentNanos, capNanos: account.capNanos, periodStart: account.periodStart ?? null, periodEnd: account.periodEnd };
    }
    const w = periodWindow(b.period, this.#now(), await this.#tz());
    return { scope: b.scope, spentNanos: await this.#d.store.ledger.spentSince(filterOf(b), w.start), capNanos: b.capNanos, periodStart: w.start, periodEnd: w.end };
  }

  async #scanEvents(): Promise<void> {
    const store = this.#d.store;
    if (this.#channels.size === 0) {
      // Nothing to tell anyone: keep the cursor current so adding a channel later does not replay history.
      await store.settings.setMeta('alerts:last_event_id', String(await store.events.maxId()));
      return;
    }
    let last = await this.#cursor('alerts:last_event_id', () => store.events.maxId());
    for (;;) {
      const events = await store.events.after(last, 200);
      if (events.length === 0) break;
      for (const e of events) {
        last = e.id;
        if (e.budget === null) continue;
        const kind = e.kind === 'unkill' ? 'lift' : e.kind;
        if (kind !== 'block' && kind !== 'cut' && kind !== 'kill' && kind !== 'lift') continue;
        const b = await store.budgets.byName(e.budget);
        if (b === undefined) continue;
        const fig = await this.#figures(b);
        const by = e.channel === 'auto' ? undefined : `by ${e.channel}${e.detail ? `, ${e.detail}` : ''}`;
        const facts: AlertFacts = { kind, budget: b.name, ...fig, ...(by ? { by } : {}) };
        if (kind === 'block' || kind === 'cut') await this.enqueue(facts, 'update');
        else await this.enqueue(facts, 'once', e.id);
      }
      await store.settings.setMeta('alerts:last_event_id', String(last));
    }
  }

  async #watchBudgets(): Promise<void> {
    if (this.#channels.size === 0) return;
    const now = this.#now();
    const forecast = now >= this.#nextForecast;
    if (forecast) this.#nextForecast = now + FORECAST_EVERY_MS;
    const own = new Map((await this.#alerts.allBudgetSettings()).map((s) => [s.budget, s]));
    const defaults = this.#d.bank?.settings.thresholds ?? (await readSettings(this.#d.store)).thresholds;
    for (const b of await this.#d.store.budgets.list()) {
      const fig = await this.#figures(b);
      const pct = crossedThreshold(fig.spentNanos, fig.capNanos, own.get(b.name)?.thresholds ?? defaults);
      if (pct !== null) await this.enqueue({ kind: 'threshold', budget: b.name, ...fig, thresholdPct: pct }, 'once');
      if (forecast && !b.killed && fig.periodEnd !== null) {
        const recent = await this.#d.store.ledger.costRows(filterOf(b), now - FORECAST_WINDOW_MS, now + 1);
        const reachAt = forecastReach({ spentNanos: fig.spentNanos, capNanos: fig.capNanos, periodEnd: fig.periodEnd, now, recent });
        if (reachAt !== null) await this.enqueue({ kind: 'forecast', budget: b.name, ...fig, reachAt }, 'once');
      }
    }
  }

  async #scanEstimatedPrices(): Promise<void> {
    const store = this.#d.store;
    if (this.#channels.size === 0) {
      await store.settings.setMeta('alerts:last_ledger_id', String(await store.ledger.maxId()));
      return;
    }
    const last = await this.#cursor('alerts:last_ledger_id', () => store.ledger.maxId());
    const rows = await store.ledger.estimatedAfter(last, 500);
    const seen = new Set<string>();
    for (const r of rows) {
      if (seen.has(r.model)) continue;
      seen.add(r.model);
      const b = await store.budgets.byName(r.keyName);
      if (b === undefined) continue;
      await this.enqueue({ kind: 'unknown-price', budget: b.name, ...(await this.#figures(b)), model: r.model }, 'once');
    }
    // Only rows with estimated prices were read: the cursor jumps to the ledger's end either way.
    await store.settings.setMeta('alerts:last_ledger_id', String(rows.length === 500 ? rows[rows.length - 1]!.id : await store.ledger.maxId()));
  }

  async #deliverDue(): Promise<void> {
    const now = this.#now();
    const due = (await this.#alerts.dueRows(now, 100)).filter((r) => !this.#inflight.has(r.id) && this.#channels.has(r.channel));
    if (due.length === 0) return;
    // A channel that comes back with a backlog gets the latest state per budget, not every message it missed.
    const superseded = new Set<string>();
    for (const name of new Set(due.filter((r) => r.state === 'pending').map((r) => r.channel))) {
      const pending = await this.#alerts.pendingOf(name);
      if (pending.length < 2) continue;
      const ids = supersededBy(pending);
      await this.#alerts.supersede(ids);
      for (const id of ids) superseded.add(id);
    }
    for (const row of due) {
      if (superseded.has(row.id)) continue;
      const live = this.#channels.get(row.channel)!;
      const p = this.#deliver(row, live)
        .catch((err: unknown) => this.#d.log?.(`alerts: delivery crashed: ${(err as Error).message}`))
        .finally(() => this.#inflight.delete(row.id));
      this.#inflight.set(row.id, p);
    }
  }

  async #render(row: OutboxRow): Promise<Alert> {
    const q = JSON.parse(row.alert) as Queued;
    return buildAlert({ ...q.facts, count: row.count }, { id: row.id, dashboardUrl: this.#d.dashboardUrl(), tz: await this.#tz(), now: this.#now(), ...(q.eventId !== undefined ? { eventId: q.eventId } : {}) });
  }

  async #deliver(row: OutboxRow, live: Live): Promise<void> {
    const alert = await this.#render(row);
    const isUpdate = row.state === 'sent' && row.needsUpdate;
    let result: DeliveryResult;
    if (isUpdate) {
      if (live.channel.update === undefined || row.messageRef === null) {
        // A channel that cannot rewrite a message is not sent a second one: the first said it.
        await this.#alerts.markSent(row.id, null, row.sentAt ?? this.#now(), this.#now());
        return;
      }
      result = await withTimeout(live.channel.update(JSON.parse(row.messageRef) as MessageRef, alert));
    } else {
      result = await withTimeout(live.channel.send(alert));
    }
    const now = this.#now();
    if (result.ok) {
      await this.#alerts.markSentIfUnchanged(row.id, result.ref ? JSON.stringify(result.ref) : null, now, now + UPDATE_EVERY_MS, row.updatedAt);
      return;
    }
    const attempts = row.attempts + 1;
    const error = (result.error ?? 'failed').slice(0, 300);
    const giveUp = result.retryable === false || attempts >= MAX_ATTEMPTS;
    if (giveUp) await this.#alerts.markFailed(row.id, attempts, error);
    else await this.#alerts.markRetry(row.id, attempts, now + backoffMs(attempts), error);
    if (giveUp || attempts === REPORT_AFTER_ATTEMPTS) {
      await this.#d.store.events.insert({
        ts: now,
        kind: 'alert-failed',
        budget: row.budget,
        channel: 'auto',
        capBeforeNanos: null,
        capAfterNanos: null,
        detail: `alert "${alert.title}" to channel "${row.channel}" failed ${attempts} time${attempts === 1 ? '' : 's'}: ${error}${giveUp ? '; given up' : '; still retrying'}`,
      });
    }
  }

  async #testFacts(): Promise<AlertFacts> {
    const b = (await this.#d.store.budgets.list())[0];
    if (b === undefined) return { kind: 'test', budget: 'spendcap', scope: 'global', spentNanos: 0, capNanos: 0, periodStart: null, periodEnd: null };
    return { kind: 'test', budget: b.name, ...(await this.#figures(b)) };
  }
}

/** A test message through a channel, as `alerts test` and the dashboard's "Send test" send it. */
export async function sendTestThrough(channel: AlertChannel, facts: AlertFacts, dashboardUrl: string, tz: string, now: number): Promise<DeliveryResult> {
  const alert = buildAlert({ ...facts, kind: 'test' }, { id: randomUUID(), dashboardUrl, tz, now });
  try {
    return await withTimeout(channel.send(alert));
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

function withTimeout(p: Promise<DeliveryResult>): Promise<DeliveryResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<DeliveryResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, error: `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s`, retryable: true }), DELIVERY_TIMEOUT_MS);
    timer.unref();
  });
  return Promise.race([p.catch((err: unknown) => ({ ok: false, error: (err as Error).message, retryable: true })), timeout]).finally(() => clearTimeout(timer));
}
