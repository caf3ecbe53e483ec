// Channel factories by kind: the dispatcher, the CLI's `alerts test` and the contract test build
// channels only through here, so a new kind plugs in with one line.
import type { AlertChannel, ChannelConfig } from './types.js';
import { createWebhookChannel } from './channels/webhook/index.js';
import { createEmailChannel } from './channels/email/index.js';
import { createDesktopChannel } from './channels/desktop/index.js';
import { createSlackChannel } from './channels/slack/index.js';
import { createTelegramChannel } from './channels/telegram/index.js';

/** A tap a channel refused (a stranger's chat or user): the caller audits it. */
export interface RefusedTap {
  readonly channel: 'slack' | 'telegram';
  readonly channelName: string;
  readonly user: string;
  readonly budget?: string;
  readonly action?: string;
  readonly reason: string;
}
export interface ChannelHooks {
  readonly onRefused?: (r: RefusedTap) => void;
  readonly onError?: (message: string) => void;
}
export type ChannelFactory = (config: ChannelConfig, hooks?: ChannelHooks) => AlertChannel;
export type ChannelKind = AlertChannel['kind'];
export const CHANNEL_KINDS: readonly ChannelKind[] = ['webhook', 'slack', 'telegram', 'email', 'desktop'];

const factories = new Map<ChannelKind, ChannelFactory>([
  ['webhook', createWebhookChannel],
  ['email', createEmailChannel],
  ['desktop', createDesktopChannel],
  ['slack', (config, hooks = {}) => createSlackChannel(config, hooks)],
  ['telegram', (config, hooks = {}) => createTelegramChannel(config, hooks)],
]);

/** Replaces the factory of a kind (the chat channels, or a fake in a test). */
export function registerChannel(kind: ChannelKind, factory: ChannelFactory): void {
  factories.set(kind, factory);
}

export function createChannel(config: ChannelConfig, hooks?: ChannelHooks): AlertChannel {
  const f = factories.get(config.kind);
  if (f === undefined) throw new Error(`no alert channel of kind "${config.kind}"`);
  return f(config, hooks);
}
