// Email over SMTP (nodemailer): plain text plus HTML, with a link to the dashboard.
import nodemailer from 'nodemailer';
import type { Alert, AlertChannel, ChannelConfig, DeliveryResult } from '../../types.js';

const TIMEOUT_MS = 15_000;

/** smtp://user:pass@host:587 (STARTTLS when offered) or smtps://user:pass@host:465 (TLS from the start). */
export function parseSmtpUrl(text: string): { host: string; port: number; secure: boolean; user: string; pass: string } {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error('--smtp must look like smtp://user:pass@host:587 or smtps://user:pass@host:465');
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new Error(`--smtp must start with smtp:// or smtps://, got ${u.protocol}//`);
  const secure = u.protocol === 'smtps:';
  return { host: u.hostname, port: u.port === '' ? (secure ? 465 : 587) : Number(u.port), secure, user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) };
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The message as sent: the Trust page lists these fields. */
export function emailMessage(alert: Alert, from: string, to: string): { from: string; to: string; subject: string; text: string; html: string } {
  const lines = alert.text.split('\n').filter((l) => !l.startsWith('Dashboard: '));
  return {
    from,
    to,
    subject: `spendcap: ${alert.title}`,
    text: `${alert.title}\n\n${alert.text}\n`,
    html: `<p><strong>${esc(alert.title)}</strong></p>${lines.map((l) => `<p>${esc(l)}</p>`).join('')}<p><a href="${esc(alert.dashboardUrl)}">Open the spendcap dashboard</a></p>`,
  };
}

/** What this channel sends, for the Trust page. */
export const FIELDS_SENT: readonly string[] = ['from', 'to', 'subject (title)', 'text (title, spent, cap, reset, dashboard link)', 'html (the same)'];

export function createEmailChannel(config: ChannelConfig): AlertChannel {
  const { smtp, to } = config.settings;
  if (!smtp || !to) throw new Error(`email channel "${config.name}" needs --smtp and --to`);
  const s = parseSmtpUrl(smtp);
  const from = config.settings.from ?? (s.user.includes('@') ? s.user : `spendcap@${s.host}`);
  const transport = nodemailer.createTransport({
    host: s.host,
    port: s.port,
    secure: s.secure,
    ...(s.user !== '' ? { auth: { user: s.user, pass: s.pass } } : {}),
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
    // A local relay (or the test's server) on loopback has a self-signed certificate at best.
    tls: { rejectUnauthorized: !['127.0.0.1', 'localhost', '::1'].includes(s.host) },
  });
  return {
    kind: 'email',
    name: config.name,
    fieldsSent: FIELDS_SENT,
    async send(alert: Alert): Promise<DeliveryResult> {
      try {
        const info = await transport.sendMail(emailMessage(alert, from, to));
        return { ok: true, ref: { messageId: String(info.messageId ?? '') } };
      } catch (err) {
        const e = err as { responseCode?: number; code?: string; message: string };
        // 5xx SMTP replies are permanent (bad address, auth refused); connection trouble and 4xx pass.
        const retryable = e.responseCode === undefined || e.responseCode < 500;
        return { ok: false, error: `email not sent: ${e.code ?? ''} ${e.message}`.replace(/\s+/g, ' ').trim(), retryable };
      }
    },
    stop: async () => transport.close(),
  };
}
