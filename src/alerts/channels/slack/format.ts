// Pure rendering of an alert as Slack Block Kit, the value its buttons carry, and the app manifest.
// fieldsSent sits beside the builders: the Trust page lists exactly what they read.
import type { Alert, AlertActionKind, AlertButton } from '../../types.js';

/** Alert fields a Slack message carries (text, link, and what each button encodes). */
export const fieldsSent: readonly string[] = ['title', 'text', 'dashboardUrl', 'budget', 'buttons.label', 'buttons.action', 'buttons.addNanos', 'buttons.askId'];

export const ACTION_ID_PREFIX = 'spendcap:';
export const ACTIONS_BLOCK_ID = 'spendcap_actions';

export interface TextObject { type: 'mrkdwn' | 'plain_text'; text: string; emoji?: boolean }
export interface ButtonElement { type: 'button'; text: TextObject; action_id: string; value: string; style?: 'primary' | 'danger' }
export type Block =
  | { type: 'section'; text: TextObject }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'actions'; block_id: string; elements: ButtonElement[] };
export interface SlackMessage { text: string; blocks: Block[] }

/** What a button's value decodes to (the label comes from the tapped button). */
export interface DecodedValue { readonly budget: string; readonly action: AlertActionKind; readonly addNanos?: number; readonly askId?: string }

const ACTIONS: readonly AlertActionKind[] = ['add', 'kill', 'approve', 'deny'];

/** Slack's mrkdwn needs only these three escaped. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
export function unescapeMrkdwn(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

export function encodeValue(budget: string, b: AlertButton): string {
  return JSON.stringify({ b: budget, a: b.action, ...(b.addNanos !== undefined ? { m: b.addNanos } : {}), ...(b.askId ? { k: b.askId } : {}) });
}

export function decodeValue(value: string): DecodedValue | null {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const action = ACTIONS.find((a) => a === o.a);
  if (typeof o.b !== 'string' || o.b === '' || !action) return null;
  if (o.m !== undefined && !(typeof o.m === 'number' && Number.isSafeInteger(o.m) && o.m >= 0)) return null;
  return { budget: o.b, action, ...(typeof o.m === 'number' ? { addNanos: o.m } : {}), ...(typeof o.k === 'string' && o.k ? { askId: o.k } : {}) };
}

function buttonStyle(action: AlertActionKind): 'primary' | 'danger' | undefined {
  if (action === 'kill') return 'danger';
  if (action === 'approve') return 'primary';
  return undefined;
}

export function actionsBlock(alert: Alert): Block | null {
  if (alert.buttons.length === 0) return null;
  const elements = alert.buttons.map((b, i): ButtonElement => {
    const style = buttonStyle(b.action);
    // action_id must be unique within the block; the index keeps two '+$' buttons apart.
    return { type: 'button', text: { type: 'plain_text', text: b.label, emoji: true }, action_id: `${ACTION_ID_PREFIX}${b.action}:${i}`, value: encodeValue(alert.budget, b), ...(style ? { style } : {}) };
  });
  return { type: 'actions', block_id: ACTIONS_BLOCK_ID, elements };
}

function bodyBlocks(alert: Alert): Block[] {
  const lines = [`*${escapeMrkdwn(alert.title)}*`];
  if (alert.text.trim() !== '') lines.push(escapeMrkdwn(alert.text));
  const blocks: Block[] = [{ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } }];
  if (alert.dashboardUrl) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `<${alert.dashboardUrl}|Open the spendcap dashboard>` }] });
  return blocks;
}

/** The app's message: text (the notification line) is the title; blocks carry the rest and the buttons. */
export function slackMessage(alert: Alert): SlackMessage {
  const actions = actionsBlock(alert);
  return { text: escapeMrkdwn(alert.title), blocks: [...bodyBlocks(alert), ...(actions ? [actions] : [])] };
}

/** An incoming webhook cannot receive taps, so its message has no buttons. */
export function webhookMessage(alert: Alert): SlackMessage {
  return { text: escapeMrkdwn(alert.title), blocks: bodyBlocks(alert) };
}

/** The message after a tap: the outcome in bold, the alert's title below, the buttons if they still apply. */
export function outcomeMessage(outcomeText: string, originalTitle: string, actions: Block | null): SlackMessage {
  const blocks: Block[] = [{ type: 'section', text: { type: 'mrkdwn', text: `*${escapeMrkdwn(outcomeText)}*` } }];
  if (originalTitle) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: escapeMrkdwn(originalTitle) }] });
  if (actions) blocks.push(actions);
  return { text: escapeMrkdwn(outcomeText), blocks };
}

/** After a tap, a one-shot answer (kill, approve, deny) takes its buttons away; a bump keeps them for another. */
export function keepsButtons(action: AlertActionKind, ok: boolean): boolean {
  return !ok || action === 'add';
}

/**
 * The manifest to paste at api.slack.com/apps → Create New App → From a manifest: Socket Mode on
 * (no public URL), interactivity on (the buttons), and the one scope spendcap needs.
 */
export function slackAppManifest(appName = 'spendcap'): Record<string, unknown> {
  return {
    display_information: { name: appName, description: 'Spend-cap alerts for LLM API keys, with one-tap +$ and Kill', background_color: '#1f2933' },
    features: { bot_user: { display_name: appName, always_online: false } },
    oauth_config: { scopes: { bot: ['chat:write'] } },
    settings: { interactivity: { is_enabled: true }, org_deploy_enabled: false, socket_mode_enabled: true, token_rotation_enabled: false },
  };
}

/** The manifest as printed by the CLI and the docs (JSON: Slack's manifest editor takes it as is). */
export function formatSlackAppManifest(appName = 'spendcap'): string {
  return `${JSON.stringify(slackAppManifest(appName), null, 2)}\n`;
}
