// src/alerts/types.ts — the alert channel family's one interface (owned by the alerts-core helper;
// the alerts-chat helper creates the identical file and never changes it).
import type { Micros } from '../pricing/index.js';

export type AlertKind = 'threshold' | 'block' | 'cut' | 'kill' | 'lift' | 'forecast' | 'unknown-price' | 'ask' | 'test';

/** A button a person can tap. `add` raises the cap by `addMicros`; `approve`/`deny` answer a held request. */
export type AlertActionKind = 'add' | 'kill' | 'approve' | 'deny';
export interface AlertButton {
  readonly action: AlertActionKind;
  readonly label: string;            // '+$1', '+$5', '+$10', 'Kill', 'Allow +$5', 'Deny'
  readonly addMicros?: Micros;       // for 'add' and 'approve'
  readonly askId?: string;           // for 'approve' / 'deny'
}

/** What every channel is given: no prompt, no response, no key. */
export interface Alert {
  readonly id: string;               // outbox id; stable across retries
  readonly dedupeKey: string;        // e.g. 'threshold:work:80:<periodStart>', 'block:work:<periodStart>'
  readonly kind: AlertKind;
  readonly budget: string;           // budget name
  readonly scope: 'global' | 'key' | 'tag' | 'session';
  readonly thresholdPct?: number;
  readonly spentMicros: Micros;
  readonly capMicros: Micros;
  readonly periodEnd?: string;       // ISO time, absent for 'total'
  readonly count: number;            // a storm of blocks is one alert whose count grows
  readonly title: string;            // one line: 'key "work" reached $15.00 of $15.00'
  readonly text: string;             // a few plain lines
  readonly dashboardUrl: string;
  readonly buttons: readonly AlertButton[];
  readonly ts: string;
}

/** Where a sent message lives, so it can be rewritten in place (Slack ts+channel, Telegram chat+message id). */
export type MessageRef = Readonly<Record<string, string>>;

export interface DeliveryResult { readonly ok: boolean; readonly ref?: MessageRef; readonly error?: string; readonly retryable?: boolean }

/** A tap on a button, from a channel, by someone the channel has checked. */
export interface InboundAction {
  readonly channel: 'slack' | 'telegram' | 'web' | 'desktop' | 'cli';
  readonly user: string;             // who tapped (slack user id, telegram user/chat id)
  readonly budget: string;
  readonly button: AlertButton;
}
export interface ActionOutcome { readonly ok: boolean; readonly text: string } // '✓ Bumped — cap is now $20.00'
export type ActionHandler = (action: InboundAction) => Promise<ActionOutcome>;

export interface AlertChannel {
  readonly kind: 'webhook' | 'slack' | 'telegram' | 'email' | 'desktop';
  readonly name: string;
  /** Field names this channel sends (the Trust page lists them), from the code that builds the message. */
  readonly fieldsSent: readonly string[];
  send(alert: Alert): Promise<DeliveryResult>;
  /** Rewrite a sent message in place (count update, '✓ Bumped'); channels that cannot, omit it. */
  update?(ref: MessageRef, alert: Alert, replacementText?: string): Promise<DeliveryResult>;
  /** Channels with buttons start listening here (Socket Mode, long polling). */
  start?(onAction: ActionHandler): Promise<void>;
  stop(): Promise<void>;
}

/** Config as stored (secrets decrypted by the caller). */
export interface ChannelConfig {
  readonly name: string;
  readonly kind: AlertChannel['kind'];
  readonly budgets: readonly string[];          // empty = every budget
  readonly events: readonly AlertKind[];        // empty = default set
  readonly settings: Readonly<Record<string, string>>; // kind-specific: url, secret, botToken, chatId, apiRoot, appToken, channel, apiUrl, webhookUrl, smtp, to, from
}
