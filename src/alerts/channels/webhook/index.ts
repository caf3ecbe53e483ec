// Generic webhook: one JSON POST per alert, signed with the channel's own secret.
import { createHmac } from 'node:crypto';
import { request } from 'undici';
import type { Alert, AlertChannel, ChannelConfig, DeliveryResult, MessageRef } from '../../types.js';

export const SIGNATURE_HEADER = 'x-spendcap-signature';
const TIMEOUT_MS = 10_000;

/** Exactly what the receiver gets: the Trust page lists these names (fieldsSent) from this function's keys. */
export function webhookBody(alert: Alert, update: boolean): Record<string, unknown> {
  return {
    id: alert.id,
    kind: alert.kind,
    budget: alert.budget,
    scope: alert.scope,
    threshold: alert.thresholdPct ?? null,
    spentUsd: alert.spentNanos / 1e9,
    capUsd: alert.capNanos / 1e9,
    periodEnd: alert.periodEnd ?? null,
    count: alert.count,
    title: alert.title,
    text: alert.text,
    dashboardUrl: alert.dashboardUrl,
    ts: alert.ts,
    update,
  };
}

/** "sha256=<hex>" of HMAC-SHA256(secret, body), as GitHub and Stripe style receivers expect. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function createWebhookChannel(config: ChannelConfig): AlertChannel {
  const url = config.settings.url;
  if (!url) throw new Error(`webhook "${config.name}" has no url`);
  const secret = config.settings.secret ?? '';
  const post = async (alert: Alert, update: boolean): Promise<DeliveryResult> => {
    const body = JSON.stringify(webhookBody(alert, update));
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'spendcap-alerts' };
    if (secret !== '') headers[SIGNATURE_HEADER] = signBody(secret, body);
    try {
      const res = await request(url, { method: 'POST', headers, body, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS, signal: AbortSignal.timeout(TIMEOUT_MS) });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, ref: { id: alert.id } };
      // 5xx and 429 are the receiver's trouble: try again later. Other 4xx will not get better.
      const retryable = res.statusCode >= 500 || res.statusCode === 429 || res.statusCode === 408;
      return { ok: false, error: `webhook answered HTTP ${res.statusCode}`, retryable };
    } catch (err) {
      return { ok: false, error: `webhook unreachable: ${(err as { code?: string }).code ?? (err as Error).message}`, retryable: true };
    }
  };
  return {
    kind: 'webhook',
    name: config.name,
    fieldsSent: FIELDS_SENT,
    send: (alert) => post(alert, false),
    // A receiver keys on id: the same id again with update: true is the rewritten state (a block count).
    update: (_ref: MessageRef, alert: Alert) => post(alert, true),
    stop: async () => {},
  };
}

const SAMPLE: Alert = { id: '', dedupeKey: '', kind: 'test', budget: '', scope: 'key', spentNanos: 0, capNanos: 0, count: 1, title: '', text: '', dashboardUrl: '', buttons: [], ts: '' };

/** What this channel sends, for the Trust page: the keys of the body it builds. */
export const FIELDS_SENT: readonly string[] = Object.keys(webhookBody(SAMPLE, false));
