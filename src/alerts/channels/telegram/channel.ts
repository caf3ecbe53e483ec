// The Telegram channel: a grammY bot that sends alerts with an inline keyboard and long-polls for taps.
// Only the configured chat (and, when set, the listed users) may act; anyone else gets a refusal.
import { Bot, GrammyError, HttpError } from 'grammy';
import type { Context } from 'grammy';
import type { ActionHandler, Alert, AlertButton, AlertChannel, ChannelConfig, DeliveryResult, MessageRef } from '../../types.js';
import { TelegramChannelError } from './errors.js';
import { decodeCallbackData, fieldsSent, keepsButtons, labelIn, outcomeHtml, telegramMessage } from './format.js';
import type { DecodedButton, InlineKeyboard } from './format.js';

export const DEFAULT_TELEGRAM_API_ROOT = 'https://api.telegram.org';

/** A tap the channel refused; core records it as an audit event. */
export interface TelegramRefusal {
  readonly channel: 'telegram';
  readonly channelName: string;
  readonly chatId: string;
  readonly user: string;
  readonly budget?: string;
  readonly action?: string;
  readonly reason: 'chat' | 'user';
}

export interface TelegramChannelOptions {
  readonly onRefused?: (r: TelegramRefusal) => void;
  /** Seconds one getUpdates waits on the server (Telegram allows up to 50). */
  readonly pollTimeoutSeconds?: number;
  /** Where errors of the polling loop go (never carries the token). Default: stderr. */
  readonly onError?: (message: string) => void;
}

export const REFUSAL_TEXT = 'spendcap: this chat is not allowed to act on these alerts.';

interface Settings { readonly botToken: string; readonly chatId: string; readonly apiRoot: string; readonly allowedUsers: readonly string[] }

/** The channel's shared state, in one object. */
interface State {
  readonly settings: Settings;
  readonly bot: Bot;
  /** Buttons whose callback data would pass 64 bytes, by short token (lost on restart: such buttons then answer "no longer valid"). */
  readonly overflow: Map<string, DecodedButton>;
  polling: Promise<void> | null;
  onAction: ActionHandler | null;
}

function readSettings(config: ChannelConfig): Settings {
  const s = config.settings;
  const botToken = s.botToken ?? '';
  const chatId = s.chatId ?? '';
  if (!/^\d+:[\w-]+$/.test(botToken)) throw new TelegramChannelError('E_TELEGRAM_CONFIG', `alert channel "${config.name}": the bot token is missing or malformed; copy it from @BotFather (it looks like 123456:ABC-…)`);
  if (!/^-?\d+$/.test(chatId)) throw new TelegramChannelError('E_TELEGRAM_CONFIG', `alert channel "${config.name}": --chat-id must be a number; send /start to the bot and run spendcap alerts add telegram again to find it`);
  const apiRoot = (s.apiRoot || DEFAULT_TELEGRAM_API_ROOT).replace(/\/+$/, '');
  const allowedUsers = (s.allowedUsers ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  return { botToken, chatId, apiRoot, allowedUsers };
}

/** Outcome of a Bot API call as a DeliveryResult: 429, 5xx and network errors are worth retrying. */
export function deliveryError(err: unknown): DeliveryResult {
  if (err instanceof GrammyError) return { ok: false, error: `Telegram ${err.error_code}: ${err.description}`, retryable: err.error_code === 429 || err.error_code >= 500 };
  if (err instanceof HttpError) return { ok: false, error: err.message, retryable: true };
  return { ok: false, error: err instanceof Error ? err.message : String(err), retryable: true };
}

function overflowToken(state: State, budget: string, b: AlertButton): string {
  const token = `sc1|#${state.overflow.size + 1}`;
  state.overflow.set(token, { budget, action: b.action, ...(b.addNanos !== undefined ? { addNanos: b.addNanos } : {}), ...(b.askId ? { askId: b.askId } : {}) });
  return token;
}

async function send(state: State, alert: Alert): Promise<DeliveryResult> {
  const m = telegramMessage(alert, (budget, b) => overflowToken(state, budget, b));
  try {
    const sent = await state.bot.api.sendMessage(state.settings.chatId, m.text, { parse_mode: m.parse_mode, link_preview_options: { is_disabled: true }, ...(m.reply_markup ? { reply_markup: m.reply_markup } : {}) });
    return { ok: true, ref: { chatId: String(sent.chat.id), messageId: String(sent.message_id) } };
  } catch (err) {
    return deliveryError(err);
  }
}

async function edit(state: State, ref: MessageRef, text: string, keyboard: InlineKeyboard | undefined): Promise<DeliveryResult> {
  const chatId = ref.chatId ?? state.settings.chatId;
  const messageId = Number(ref.messageId);
  if (!Number.isInteger(messageId)) return { ok: false, error: 'no Telegram message id to edit', retryable: false };
  try {
    await state.bot.api.editMessageText(chatId, messageId, text, { parse_mode: 'HTML', link_preview_options: { is_disabled: true }, reply_markup: keyboard ?? { inline_keyboard: [] } });
    return { ok: true, ref: { chatId, messageId: String(messageId) } };
  } catch (err) {
    // Same text twice is not a failure: the message already shows it.
    if (err instanceof GrammyError && /message is not modified/i.test(err.description)) return { ok: true, ref: { chatId, messageId: String(messageId) } };
    return deliveryError(err);
  }
}

async function update(state: State, ref: MessageRef, alert: Alert, replacementText?: string): Promise<DeliveryResult> {
  const m = telegramMessage(alert, (budget, b) => overflowToken(state, budget, b));
  const text = replacementText === undefined ? m.text : outcomeHtml(replacementText, alert.title);
  return edit(state, ref, text, m.reply_markup);
}

function isAllowed(state: State, chatId: string, userId: string): 'chat' | 'user' | null {
  if (chatId !== state.settings.chatId) return 'chat';
  if (state.settings.allowedUsers.length > 0 && !state.settings.allowedUsers.includes(userId)) return 'user';
  return null;
}

/** One tap: check who, ask the handler, answer the spinner, rewrite the message. */
async function onCallback(state: State, name: string, opts: TelegramChannelOptions, ctx: Context): Promise<void> {
  const q = ctx.callbackQuery;
  if (!q) return;
  const data = q.data ?? '';
  const decoded = decodeCallbackData(data) ?? state.overflow.get(data) ?? null;
  const message = q.message;
  const chatId = message ? String(message.chat.id) : '';
  const user = String(q.from.id);
  const refused = isAllowed(state, chatId, user);
  if (refused) {
    await ctx.answerCallbackQuery({ text: REFUSAL_TEXT, show_alert: true });
    opts.onRefused?.({ channel: 'telegram', channelName: name, chatId, user, reason: refused, ...(decoded ? { budget: decoded.budget, action: decoded.action } : {}) });
    return;
  }
  if (!decoded || !message || !state.onAction) {
    await ctx.answerCallbackQuery({ text: 'This button is no longer valid.' });
    return;
  }
  const keyboard = 'reply_markup' in message ? (message.reply_markup as InlineKeyboard | undefined) : undefined;
  const button: AlertButton = { action: decoded.action, label: labelIn(keyboard, data) ?? decoded.action, ...(decoded.addNanos !== undefined ? { addNanos: decoded.addNanos } : {}), ...(decoded.askId ? { askId: decoded.askId } : {}) };
  let outcome;
  try {
    outcome = await state.onAction({ channel: 'telegram', user, budget: decoded.budget, button });
  } catch (err) {
    outcome = { ok: false, text: `spendcap could not do that: ${err instanceof Error ? err.message : String(err)}` };
  }
  try {
    await ctx.answerCallbackQuery({ text: outcome.text.slice(0, 200) });
  } catch {
    // A slow handler (a held request) can outlive the query ("query is too old"); the edit below still tells.
  }
  // The title is the first line of what the message shows now (Telegram returns it without markup).
  const title = ('text' in message && typeof message.text === 'string' ? message.text : '').split('\n')[0] ?? '';
  await edit(state, { chatId, messageId: String(message.message_id) }, outcomeHtml(outcome.text, title), keepsButtons(decoded.action, outcome.ok) ? keyboard : undefined);
}

/** /start in any chat: tell the person the chat id to configure (it is theirs; nothing else is revealed). */
async function onStartCommand(ctx: Context): Promise<void> {
  const chatId = ctx.chat?.id;
  if (chatId === undefined) return;
  await ctx.reply(`spendcap: this chat's id is ${chatId}.\nConfigure it with:\nspendcap alerts add telegram --bot-token <token> --chat-id ${chatId}`);
}

function reporter(name: string, opts: TelegramChannelOptions): (message: string) => void {
  return opts.onError ?? ((m: string) => process.stderr.write(`spendcap: telegram channel "${name}": ${m}\n`));
}

/** Handlers are registered once, at creation: a stop() and start() again must not double them. */
function registerHandlers(state: State, name: string, opts: TelegramChannelOptions): void {
  const report = reporter(name, opts);
  state.bot.command('start', onStartCommand);
  state.bot.on('callback_query:data', (ctx) => onCallback(state, name, opts, ctx));
  state.bot.catch((e) => report(e.error instanceof Error ? e.error.message : String(e.error)));
}

async function start(state: State, name: string, opts: TelegramChannelOptions, onAction: ActionHandler): Promise<void> {
  state.onAction = onAction;
  if (state.polling) return;
  const report = reporter(name, opts);
  await new Promise<void>((resolve, reject) => {
    state.polling = state.bot
      .start({ allowed_updates: ['message', 'callback_query'], timeout: opts.pollTimeoutSeconds ?? 30, onStart: () => resolve() })
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        reject(new Error(`Telegram long polling failed: ${message}`));
        report(message);
      });
  });
}

async function stop(state: State): Promise<void> {
  if (state.bot.isRunning()) await state.bot.stop();
  await state.polling;
  state.polling = null;
}

export function createTelegramChannel(config: ChannelConfig, opts: TelegramChannelOptions = {}): AlertChannel {
  const settings = readSettings(config);
  const state: State = { settings, bot: new Bot(settings.botToken, { client: { apiRoot: settings.apiRoot } }), overflow: new Map(), polling: null, onAction: null };
  registerHandlers(state, config.name, opts);
  return {
    kind: 'telegram',
    name: config.name,
    fieldsSent,
    send: (alert) => send(state, alert),
    update: (ref, alert, replacementText) => update(state, ref, alert, replacementText),
    start: (onAction) => start(state, config.name, opts, onAction),
    stop: () => stop(state),
  };
}
