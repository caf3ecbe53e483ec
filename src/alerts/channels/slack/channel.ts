// The Slack channel. Plain alerts through an incoming webhook URL, or a Slack app in Socket Mode
// (@slack/bolt, xapp- app token + xoxb- bot token): messages with Block Kit buttons, taps over the
// app's WebSocket (no public URL), the message updated in place with chat.update. Only the configured
// channel (and, when listed, users) may act; anyone else gets an ephemeral refusal.
import { App, LogLevel, SocketModeReceiver, webApi } from '@slack/bolt';
import type { ActionHandler, ActionOutcome, Alert, AlertButton, AlertChannel, ChannelConfig, DeliveryResult, MessageRef } from '../../types.js';
import { SlackChannelError } from './errors.js';
import { ACTION_ID_PREFIX, actionsBlock, decodeValue, fieldsSent, keepsButtons, outcomeMessage, slackMessage, unescapeMrkdwn, webhookMessage } from './format.js';
import type { Block, DecodedValue } from './format.js';

export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';
export const REFUSAL_TEXT = 'spendcap: you are not allowed to act on these alerts here.';
const WEBHOOK_TIMEOUT_MS = 10_000;

/** A tap the channel refused; core records it as an audit event. */
export interface SlackRefusal {
  readonly channel: 'slack';
  readonly channelName: string;
  readonly slackChannel: string;
  readonly user: string;
  readonly budget?: string;
  readonly action?: string;
  readonly reason: 'channel' | 'user';
}

export interface SlackChannelOptions {
  readonly onRefused?: (r: SlackRefusal) => void;
  /** Where errors of the Socket Mode connection go (never carries a token). Default: stderr. */
  readonly onError?: (message: string) => void;
}

interface AppSettings { readonly mode: 'app'; readonly botToken: string; readonly appToken: string; readonly channel: string; readonly apiUrl: string; readonly allowedUsers: readonly string[] }
interface WebhookSettings { readonly mode: 'webhook'; readonly webhookUrl: string }
type Settings = AppSettings | WebhookSettings;

/** The parts of a block_actions payload the channel reads. */
interface BlockActionBody {
  user?: { id?: string };
  channel?: { id?: string; name?: string };
  message?: { ts?: string; text?: string; blocks?: Block[] };
  container?: { channel_id?: string; message_ts?: string };
  actions?: { action_id?: string; value?: string; text?: { text?: string } }[];
}

/** The app channel's shared state, in one object. */
interface AppState {
  readonly settings: AppSettings;
  readonly web: webApi.WebClient;
  app: App | null;
  receiver: SocketModeReceiver | null;
  onAction: ActionHandler | null;
}

function readSettings(config: ChannelConfig): Settings {
  const s = config.settings;
  const where = `alert channel "${config.name}"`;
  if (s.botToken || s.appToken) {
    if (!s.botToken?.startsWith('xoxb-')) throw new SlackChannelError('E_SLACK_CONFIG', `${where}: --bot-token must be the app's Bot User OAuth Token (xoxb-…), from OAuth & Permissions`);
    if (!s.appToken?.startsWith('xapp-')) throw new SlackChannelError('E_SLACK_CONFIG', `${where}: --app-token must be an app-level token with connections:write (xapp-…), from Basic Information → App-Level Tokens`);
    if (!s.channel) throw new SlackChannelError('E_SLACK_CONFIG', `${where}: --channel is required (a channel id like C0123456789, or #name); invite the app there with /invite @spendcap`);
    const apiUrl = (s.apiUrl || DEFAULT_SLACK_API_URL).replace(/\/*$/, '/');
    const allowedUsers = (s.allowedUsers ?? '').split(',').map((u) => u.trim()).filter(Boolean);
    return { mode: 'app', botToken: s.botToken, appToken: s.appToken, channel: s.channel, apiUrl, allowedUsers };
  }
  if (s.webhookUrl && /^https?:\/\//.test(s.webhookUrl)) return { mode: 'webhook', webhookUrl: s.webhookUrl };
  throw new SlackChannelError('E_SLACK_CONFIG', `${where}: give --bot-token xoxb-… --app-token xapp-… --channel C (buttons), or --webhook-url https://hooks.slack.com/… (plain alerts)`);
}

/** A Web API failure as a DeliveryResult: rate limits, 5xx and network errors are worth retrying. */
export function deliveryError(err: unknown): DeliveryResult {
  const e = err as { code?: string; data?: { error?: string }; statusCode?: number; retryAfter?: number; message?: string };
  switch (e.code) {
    case webApi.ErrorCode.PlatformError: {
      const code = e.data?.error ?? 'unknown_error';
      return { ok: false, error: `Slack: ${code}`, retryable: ['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout'].includes(code) };
    }
    case webApi.ErrorCode.RateLimitedError: return { ok: false, error: `Slack: rate limited (retry after ${e.retryAfter ?? '?'} s)`, retryable: true };
    case webApi.ErrorCode.HTTPError: return { ok: false, error: `Slack: HTTP ${e.statusCode ?? '?'}`, retryable: (e.statusCode ?? 500) >= 500 || e.statusCode === 429 };
    default: return { ok: false, error: `Slack: ${e.message ?? String(err)}`, retryable: true };
  }
}

// ---- incoming webhook (plain alerts, no buttons) ----

async function postWebhook(settings: WebhookSettings, alert: Alert): Promise<DeliveryResult> {
  try {
    const res = await fetch(settings.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(webhookMessage(alert)), signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) });
    const body = (await res.text()).slice(0, 200);
    if (res.ok) return { ok: true };
    // Slack answers 4xx with a word: invalid_payload, no_service (webhook revoked), channel_is_archived.
    return { ok: false, error: `Slack webhook: HTTP ${res.status} ${body}`.trim(), retryable: res.status >= 500 || res.status === 429 };
  } catch (err) {
    return { ok: false, error: `Slack webhook: ${err instanceof Error ? err.message : String(err)}`, retryable: true };
  }
}

// ---- the app (buttons) ----

async function post(state: AppState, alert: Alert): Promise<DeliveryResult> {
  const m = slackMessage(alert);
  try {
    const r = await state.web.chat.postMessage({ channel: state.settings.channel, text: m.text, blocks: m.blocks, unfurl_links: false });
    return { ok: true, ref: { channel: String(r.channel), ts: String(r.ts) } };
  } catch (err) {
    return deliveryError(err);
  }
}

async function rewrite(state: AppState, ref: MessageRef, text: string, blocks: Block[]): Promise<DeliveryResult> {
  if (!ref.channel || !ref.ts) return { ok: false, error: 'no Slack channel and ts to update', retryable: false };
  try {
    await state.web.chat.update({ channel: ref.channel, ts: ref.ts, text, blocks });
    return { ok: true, ref: { channel: ref.channel, ts: ref.ts } };
  } catch (err) {
    return deliveryError(err);
  }
}

async function update(state: AppState, ref: MessageRef, alert: Alert, replacementText?: string): Promise<DeliveryResult> {
  const m = replacementText === undefined ? slackMessage(alert) : outcomeMessage(replacementText, alert.title, actionsBlock(alert));
  return rewrite(state, ref, m.text, m.blocks);
}

/** null when allowed, else why not: the message must be in the configured channel, the user listed (when a list is set). */
function refusalReason(settings: AppSettings, channel: { id?: string; name?: string } | undefined, user: string): 'channel' | 'user' | null {
  const wanted = settings.channel.replace(/^#/, '');
  if (!channel || (channel.id !== wanted && channel.name !== wanted)) return 'channel';
  if (settings.allowedUsers.length > 0 && !settings.allowedUsers.includes(user)) return 'user';
  return null;
}

async function refuse(state: AppState, name: string, opts: SlackChannelOptions, body: BlockActionBody, user: string, reason: 'channel' | 'user', decoded: DecodedValue | null): Promise<void> {
  const slackChannel = body.channel?.id ?? body.container?.channel_id ?? '';
  opts.onRefused?.({ channel: 'slack', channelName: name, slackChannel, user, reason, ...(decoded ? { budget: decoded.budget, action: decoded.action } : {}) });
  if (!slackChannel || !user) return;
  try {
    await state.web.chat.postEphemeral({ channel: slackChannel, user, text: REFUSAL_TEXT });
  } catch {
    // The refusal is courtesy; the audit event above is what matters.
  }
}

/** One tap (already acked): check who, ask the handler, rewrite the message in place. */
async function onTap(state: AppState, name: string, opts: SlackChannelOptions, body: BlockActionBody): Promise<void> {
  const tapped = body.actions?.[0];
  const decoded = decodeValue(tapped?.value ?? '');
  const user = body.user?.id ?? '';
  const reason = refusalReason(state.settings, body.channel, user);
  if (reason) return refuse(state, name, opts, body, user, reason, decoded);
  const ts = body.message?.ts ?? body.container?.message_ts;
  const channel = body.channel?.id;
  if (!decoded || !ts || !channel || !state.onAction) return;
  const button: AlertButton = { action: decoded.action, label: tapped?.text?.text ?? decoded.action, ...(decoded.addNanos !== undefined ? { addNanos: decoded.addNanos } : {}), ...(decoded.askId ? { askId: decoded.askId } : {}) };
  let outcome: ActionOutcome;
  try {
    outcome = await state.onAction({ channel: 'slack', user, budget: decoded.budget, button });
  } catch (err) {
    outcome = { ok: false, text: `spendcap could not do that: ${err instanceof Error ? err.message : String(err)}` };
  }
  // The message's text is its title (see slackMessage); the buttons are the ones it carries now.
  const actions = (body.message?.blocks ?? []).find((b) => b.type === 'actions') ?? null;
  const m = outcomeMessage(outcome.text, unescapeMrkdwn(body.message?.text ?? ''), keepsButtons(decoded.action, outcome.ok) ? actions : null);
  const r = await rewrite(state, { channel, ts }, m.text, m.blocks);
  if (!r.ok) opts.onError?.(`could not update the message after a tap: ${r.error ?? ''}`);
}

async function start(state: AppState, name: string, opts: SlackChannelOptions, onAction: ActionHandler): Promise<void> {
  state.onAction = onAction;
  if (state.app) return;
  const report = opts.onError ?? ((m: string) => process.stderr.write(`spendcap: slack channel "${name}": ${m}\n`));
  const { botToken, appToken, apiUrl } = state.settings;
  // Our own receiver, so stop() can wait for the socket to close (Bolt's stop() does not).
  // Its client calls apps.connections.open on the configured base for the WebSocket URL.
  const receiver = new SocketModeReceiver({ appToken, logLevel: LogLevel.ERROR, installerOptions: { clientOptions: { slackApiUrl: apiUrl } } });
  const app = new App({ token: botToken, socketMode: true, receiver, logLevel: LogLevel.ERROR, clientOptions: { slackApiUrl: apiUrl } });
  app.action(new RegExp(`^${ACTION_ID_PREFIX}`), async ({ ack, body }) => {
    // Ack first: Slack wants it within 3 s, and the handler may take longer.
    await ack();
    await onTap(state, name, opts, body as unknown as BlockActionBody);
  });
  app.error(async (err) => report(err.message));
  state.app = app;
  state.receiver = receiver;
  try {
    await app.start();
  } catch (err) {
    state.app = null;
    state.receiver = null;
    await receiver.client.disconnect();
    const why = deliveryError(err).error ?? 'Slack: unknown error';
    throw new SlackChannelError('E_SLACK_CONNECT', `${why}: Socket Mode did not connect; check --app-token (xapp-…, with the connections:write scope) and that Socket Mode is on for the app`);
  }
}

async function stop(state: AppState): Promise<void> {
  const receiver = state.receiver;
  state.app = null;
  state.receiver = null;
  // Resolves once the close handshake is done (or Slack's client gave up on it).
  if (receiver) await receiver.client.disconnect();
}

export function createSlackChannel(config: ChannelConfig, opts: SlackChannelOptions = {}): AlertChannel {
  const settings = readSettings(config);
  if (settings.mode === 'webhook') {
    return { kind: 'slack', name: config.name, fieldsSent, send: (alert) => postWebhook(settings, alert), stop: async () => {} };
  }
  // The channel's own client sends: no retries here (the outbox retries with backoff), nothing logged below errors.
  const web = new webApi.WebClient(settings.botToken, { slackApiUrl: settings.apiUrl, retryConfig: { retries: 0 }, logLevel: webApi.LogLevel.ERROR, timeout: 10_000 });
  const state: AppState = { settings, web, app: null, receiver: null, onAction: null };
  return {
    kind: 'slack',
    name: config.name,
    fieldsSent,
    send: (alert) => post(state, alert),
    update: (ref, alert, replacementText) => update(state, ref, alert, replacementText),
    start: (onAction) => start(state, config.name, opts, onAction),
    stop: () => stop(state),
  };
}
