// Pure rendering of an alert as a Telegram message, and the callback data its buttons carry.
// fieldsSent sits beside the builder: the Trust page lists exactly what telegramMessage() reads.
import type { Alert, AlertActionKind, AlertButton } from '../../types.js';

/** Alert fields a Telegram message carries (text, link, and what each button encodes). */
export const fieldsSent: readonly string[] = ['title', 'text', 'dashboardUrl', 'budget', 'buttons.label', 'buttons.action', 'buttons.addNanos', 'buttons.askId'];

export interface InlineButton { readonly text: string; readonly callback_data: string }
export interface InlineKeyboard { readonly inline_keyboard: InlineButton[][] }
export interface TelegramMessage { readonly text: string; readonly parse_mode: 'HTML'; readonly reply_markup?: InlineKeyboard }

/** What a button's callback data decodes to (the label comes from the tapped keyboard). */
export interface DecodedButton { readonly budget: string; readonly action: AlertActionKind; readonly addNanos?: number; readonly askId?: string }

// Telegram caps callback_data at 64 bytes; longer encodings go through the channel's overflow table.
export const CALLBACK_DATA_MAX_BYTES = 64;
const PREFIX = 'sc1';
const CODES: Record<AlertActionKind, string> = { add: 'a', kill: 'k', approve: 'y', deny: 'n' };
const ACTIONS: Record<string, AlertActionKind> = { a: 'add', k: 'kill', y: 'approve', n: 'deny' };

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `sc1|a|5000000||work`; null when it would not fit in 64 bytes. Budget last: it may contain '|'. */
export function encodeCallbackData(budget: string, b: AlertButton): string | null {
  const data = [PREFIX, CODES[b.action], b.addNanos === undefined ? '' : String(b.addNanos), b.askId ?? '', budget].join('|');
  return Buffer.byteLength(data, 'utf8') <= CALLBACK_DATA_MAX_BYTES ? data : null;
}

export function decodeCallbackData(data: string): DecodedButton | null {
  const parts = data.split('|');
  if (parts.length < 5 || parts[0] !== PREFIX) return null;
  const action = ACTIONS[parts[1] ?? ''];
  const nanos = parts[2] ?? '';
  const budget = parts.slice(4).join('|');
  if (!action || budget === '' || (nanos !== '' && !/^\d+$/.test(nanos))) return null;
  return { budget, action, ...(nanos !== '' ? { addNanos: Number(nanos) } : {}), ...(parts[3] ? { askId: parts[3] } : {}) };
}

/** The message text: bold title, the plain lines, a dashboard link. */
export function alertHtml(alert: Alert): string {
  const lines = [`<b>${escapeHtml(alert.title)}</b>`];
  if (alert.text.trim() !== '') lines.push(escapeHtml(alert.text));
  if (alert.dashboardUrl) lines.push(`<a href="${escapeHtml(alert.dashboardUrl)}">Open the spendcap dashboard</a>`);
  return lines.join('\n');
}

/** The text after a tap: the outcome first, the alert's title below as context. */
export function outcomeHtml(outcomeText: string, originalTitle: string): string {
  return originalTitle ? `<b>${escapeHtml(outcomeText)}</b>\n<i>${escapeHtml(originalTitle)}</i>` : `<b>${escapeHtml(outcomeText)}</b>`;
}

/**
 * The inline keyboard: money buttons on one row, the rest (Kill, Allow, Deny) on the next.
 * `overflow` turns a button whose data is too long into a short token the channel remembers.
 */
export function keyboardFor(alert: Alert, overflow: (budget: string, b: AlertButton) => string): InlineKeyboard | undefined {
  if (alert.buttons.length === 0) return undefined;
  const money: InlineButton[] = [];
  const other: InlineButton[] = [];
  for (const b of alert.buttons) {
    const data = encodeCallbackData(alert.budget, b) ?? overflow(alert.budget, b);
    (b.action === 'add' ? money : other).push({ text: b.label, callback_data: data });
  }
  return { inline_keyboard: [money, other].filter((row) => row.length > 0) };
}

export function telegramMessage(alert: Alert, overflow: (budget: string, b: AlertButton) => string): TelegramMessage {
  const keyboard = keyboardFor(alert, overflow);
  return { text: alertHtml(alert), parse_mode: 'HTML', ...(keyboard ? { reply_markup: keyboard } : {}) };
}

/** The label of the tapped button, read back from the keyboard the message carries. */
export function labelIn(keyboard: InlineKeyboard | undefined, data: string): string | undefined {
  for (const row of keyboard?.inline_keyboard ?? []) for (const b of row) if (b.callback_data === data) return b.text;
  return undefined;
}

/** After a tap, a one-shot answer (kill, approve, deny) takes its buttons away; a bump keeps them for another. */
export function keepsButtons(action: AlertActionKind, ok: boolean): boolean {
  return !ok || action === 'add';
}
