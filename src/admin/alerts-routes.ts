// Admin API routes of the alerts part (docs/alerts.md): channels and their checklist, "Send test",
// the outbox (failed deliveries), and held requests with Allow/Deny.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AlertService } from '../alerts/index.js';
import { CHANNEL_KINDS, publicSettings } from '../alerts/index.js';
import { FIELDS_SENT as DESKTOP_FIELDS } from '../alerts/channels/desktop/index.js';
import { FIELDS_SENT as EMAIL_FIELDS } from '../alerts/channels/email/index.js';
import { FIELDS_SENT as WEBHOOK_FIELDS } from '../alerts/channels/webhook/index.js';
import { slackManifest, WALKTHROUGHS } from '../alerts/setup.js';
import { usdToNanos } from '../pricing/index.js';
import type { EventChannel } from '../store/index.js';
import { readJsonBody, sendJson } from './http.js';
import { ApiError } from './schemas.js';

type Ctx = { req: IncomingMessage; res: ServerResponse; params: string[]; query: Record<string, string>; channel: EventChannel };
type Route = (method: string, path: string, handler: (ctx: Ctx) => Promise<void> | void) => void;

const STATIC_FIELDS: Partial<Record<string, readonly string[]>> = { webhook: WEBHOOK_FIELDS, email: EMAIL_FIELDS, desktop: DESKTOP_FIELDS };

/** Per kind: what it receives. From a live channel when one is configured (the code that builds its messages), else from its module. */
export async function alertFieldsSent(service: AlertService | null): Promise<Array<{ id: string; name: string; fields: string[]; configured: boolean }>> {
  const live = (await service?.channels()) ?? [];
  return CHANNEL_KINDS.map((kind) => {
    const mine = live.filter((l) => l.config.kind === kind);
    const fields = mine.length > 0 ? [...mine[0]!.channel.fieldsSent] : [...(STATIC_FIELDS[kind] ?? [])];
    return { id: kind, name: WALKTHROUGHS.find((w) => w.kind === kind)?.title ?? kind, fields, configured: mine.length > 0 };
  });
}

export function registerAlertRoutes(route: Route, alerts: () => AlertService, notify: () => void): void {
  route('GET', '/api/alerts', async ({ res }) => {
    const service = alerts();
    const store = service.alertStore;
    const live = new Map((await service.channels()).map((l) => [l.config.name, l]));
    const channels = (await store.listChannels()).map((row) => {
      const l = live.get(row.name);
      return {
        name: row.name,
        kind: row.kind,
        budgets: row.budgets,
        events: row.events,
        settings: publicSettings(row),
        running: l !== undefined,
        canAct: l?.channel.start !== undefined,
        fieldsSent: l ? [...l.channel.fieldsSent] : [],
        test: row.testedAt === null ? null : { at: new Date(row.testedAt).toISOString(), ok: row.testOk, detail: row.testDetail },
      };
    });
    const checklist = WALKTHROUGHS.map((w) => {
      const mine = channels.filter((c) => c.kind === w.kind);
      const tested = mine.some((c) => c.test?.ok === true);
      return { ...w, configured: mine.length > 0, tested, done: mine.length > 0 && tested };
    });
    const outbox = (await store.recentOutbox(50)).map((r) => ({ id: r.id, channel: r.channel, kind: r.kind, budget: r.budget, state: r.state, count: r.count, attempts: r.attempts, lastError: r.lastError, updatedAt: new Date(r.updatedAt).toISOString(), sentAt: r.sentAt === null ? null : new Date(r.sentAt).toISOString() }));
    const asks = (await store.pendingAsks(Date.now())).map(askView);
    sendJson(res, 200, { channels, checklist, outbox, failed: outbox.filter((o) => o.state === 'failed' || o.attempts > 0), asks });
  });
  route('POST', '/api/alerts/:name/test', async ({ res, params }) => {
    const service = alerts();
    if ((await service.alertStore.channel(params[0]!)) === undefined) throw new ApiError(404, `no alert channel named "${params[0]}" (GET /api/alerts lists them)`);
    const result = await service.sendTest(params[0]!);
    sendJson(res, 200, { name: params[0], ok: result.ok, error: result.error ?? null });
  });
  route('GET', '/api/alerts/slack-manifest', ({ res }) => sendJson(res, 200, slackManifest()));
  route('GET', '/api/asks', async ({ res }) => sendJson(res, 200, { asks: (await alerts().alertStore.pendingAsks(Date.now())).map(askView) }));
  const answer = (how: 'approve' | 'deny') => async ({ req, res, params, channel }: Ctx) => {
    const body = ((await readJsonBody(req)) ?? {}) as { addUsd?: unknown };
    if (body.addUsd !== undefined && (typeof body.addUsd !== 'number' || !(body.addUsd > 0))) throw new ApiError(400, 'addUsd: must be a dollar amount > 0', 'addUsd');
    const service = alerts();
    const ask = await service.alertStore.ask(params[0]!);
    if (ask === undefined) throw new ApiError(404, `no held request "${params[0]}" (GET /api/asks lists them)`);
    const outcome = await service.onAction({
      channel: 'web',
      user: channel === 'web' ? 'dashboard' : 'admin API',
      budget: ask.budget,
      button: { action: how, label: how, askId: ask.id, ...(typeof body.addUsd === 'number' ? { addNanos: usdToNanos(body.addUsd) } : {}) },
    });
    notify();
    sendJson(res, outcome.ok ? 200 : 409, outcome);
  };
  route('POST', '/api/asks/:id/approve', answer('approve'));
  route('POST', '/api/asks/:id/deny', answer('deny'));
}

function askView(a: { id: string; budget: string; keyName: string | null; addNanos: number; createdAt: number; expiresAt: number }) {
  return { id: a.id, budget: a.budget, key: a.keyName, addUsd: a.addNanos / 1e9, createdAt: new Date(a.createdAt).toISOString(), expiresAt: new Date(a.expiresAt).toISOString() };
}
