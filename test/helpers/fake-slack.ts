// A local fake Slack: the Web API over HTTP (auth.test, apps.connections.open, chat.postMessage,
// chat.update, chat.postEphemeral), incoming webhooks (/hooks/…), and the Socket Mode WebSocket
// (hello, interactive envelopes, acks, pings) for the real @slack/bolt client pointed at it.
// It records what was sent and can inject a button tap from any user in any channel.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

export interface SlackBlock { type: string; text?: { type: string; text: string }; elements?: SlackElement[]; block_id?: string }
export interface SlackElement { type: string; text?: string | { type: string; text: string }; action_id?: string; value?: string; style?: string }
export interface FakeSlackMessage { channel: string; ts: string; text: string; blocks: SlackBlock[]; history: { text: string; blocks: SlackBlock[] }[] }
export interface FakeSlackCall { method: string; token: string; params: Record<string, unknown> }
export interface Envelope { envelope_id: string; type: string; payload: unknown; accepts_response_payload: boolean; retry_attempt: number; retry_reason: string }

export interface FakeSlack {
  /** The Web API base for WebClient's slackApiUrl (ends in /). */
  readonly apiUrl: string;
  readonly botToken: string;
  readonly appToken: string;
  /** The channel the app posts to: id and name. */
  readonly channelId: string;
  readonly channelName: string;
  readonly calls: FakeSlackCall[];
  readonly messages: Map<string, FakeSlackMessage>;
  readonly ephemerals: { channel: string; user: string; text: string }[];
  readonly acks: { envelope_id: string; payload?: unknown }[];
  /** Bodies POSTed to an incoming webhook, by path. */
  readonly webhooks: { path: string; body: Record<string, unknown> }[];
  /** Status the next webhook POSTs answer with (default 200 "ok"). */
  webhookStatus: number;
  /** An incoming webhook URL. */
  webhookUrl(path?: string): string;
  /** Socket Mode connections opened so far, pongs received. */
  readonly sockets: { opened: number; pongs: number };
  /** A tap on the button labelled `label` of message `ts`, by `userId`, seen from channel `channelId`. Returns the envelope id. */
  /** Slack's periodic "disconnect" (refresh_requested): the client must open a new connection. */
  refresh(): void;
  tap(ts: string, label: string, from: { userId: string; channelId: string; channelName?: string }): string;
  waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** A form or JSON field as a string ('' when absent or not a string). */
function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (raw === '') return {};
  if ((req.headers['content-type'] ?? '').includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  // WebClient sends form fields; objects and arrays (blocks) as JSON strings.
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(raw)) out[k] = /^[[{]/.test(v) ? JSON.parse(v) : v;
  return out;
}

function json(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

export interface FakeSlackOptions { readonly pingMs?: number }

export async function startFakeSlack(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
  const botToken = 'xoxb-1111-2222-faketoken';
  const appToken = 'xapp-1-A0FAKE-3333-faketoken';
  const channelId = 'C0ALERTS01';
  const channelName = 'spend-alerts';
  const calls: FakeSlackCall[] = [];
  const messages = new Map<string, FakeSlackMessage>();
  const ephemerals: FakeSlack['ephemerals'] = [];
  const acks: FakeSlack['acks'] = [];
  const webhooks: FakeSlack['webhooks'] = [];
  const sockets = { opened: 0, pongs: 0 };
  const open = new Set<WebSocket>();
  const tickets = new Set<string>();
  let seq = 1;
  let tsClock = 1_764_640_000;
  let port = 0;

  const resolveChannel = (c: unknown): string | null => {
    const s = str(c);
    if (s === channelId || s === `#${channelName}` || s === channelName) return channelId;
    return /^[CDG][A-Z0-9]{8,}$/.test(s) ? s : null;
  };

  function webApi(method: string, token: string, p: Record<string, unknown>): Record<string, unknown> {
    if (method === 'apps.connections.open') {
      if (token !== appToken) return { ok: false, error: token.startsWith('xoxb-') ? 'not_allowed_token_type' : 'invalid_auth' };
      const ticket = `t${seq++}`;
      tickets.add(ticket);
      return { ok: true, url: `ws://127.0.0.1:${port}/link/?ticket=${ticket}&app_id=A0FAKE` };
    }
    if (token !== botToken) return { ok: false, error: token ? 'invalid_auth' : 'not_authed' };
    switch (method) {
      case 'auth.test': return { ok: true, url: 'https://fake.slack.com/', team: 'Fake', user: 'spendcap', team_id: 'T0FAKE', user_id: 'U0BOT', bot_id: 'B0BOT', is_enterprise_install: false };
      case 'chat.postMessage': {
        const channel = resolveChannel(p.channel);
        if (!channel) return { ok: false, error: 'channel_not_found' };
        const ts = `${tsClock++}.000${String(seq++).padStart(3, '0')}`;
        const m: FakeSlackMessage = { channel, ts, text: str(p.text), blocks: (p.blocks as SlackBlock[] | undefined) ?? [], history: [] };
        m.history.push({ text: m.text, blocks: m.blocks });
        messages.set(ts, m);
        return { ok: true, channel, ts, message: { type: 'message', text: m.text, blocks: m.blocks, bot_id: 'B0BOT', ts } };
      }
      case 'chat.update': {
        const m = messages.get(String(p.ts));
        if (!m || m.channel !== p.channel) return { ok: false, error: 'message_not_found' };
        m.text = str(p.text);
        m.blocks = (p.blocks as SlackBlock[] | undefined) ?? [];
        m.history.push({ text: m.text, blocks: m.blocks });
        return { ok: true, channel: m.channel, ts: m.ts, text: m.text };
      }
      case 'chat.postEphemeral':
        ephemerals.push({ channel: String(p.channel), user: String(p.user), text: str(p.text) });
        return { ok: true, message_ts: `${tsClock++}.000000` };
      default: return { ok: false, error: 'unknown_method' };
    }
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = req.url?.split('?')[0] ?? '';
      const body = await readBody(req);
      if (path.startsWith('/hooks/')) {
        webhooks.push({ path, body });
        return res.writeHead(fake.webhookStatus, { 'content-type': 'text/plain' }).end(fake.webhookStatus === 200 ? 'ok' : fake.webhookStatus >= 500 ? 'internal_error' : 'invalid_payload');
      }
      const m = /^\/api\/([\w.]+)$/.exec(path);
      if (!m || req.method !== 'POST') return json(res, { ok: false, error: 'unknown_method' }, 404);
      const token = (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '') || str(body.token);
      const method = m[1] ?? '';
      calls.push({ method, token, params: body });
      return json(res, webApi(method, token, body));
    })().catch((err: unknown) => json(res, { ok: false, error: String(err) }, 500));
  });

  // Socket Mode: hello on connect, pings from the server, acks from the client.
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/link/' || !tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.opened++;
      open.add(ws);
      ws.send(JSON.stringify({ type: 'hello', num_connections: open.size, debug_info: { host: 'fake-slack', build_number: 1, approximate_connection_time: 3600 }, connection_info: { app_id: 'A0FAKE' } }));
      const pinger = setInterval(() => ws.ping('fake-slack'), opts.pingMs ?? 2_000);
      ws.on('pong', () => sockets.pongs++);
      ws.on('message', (data: Buffer) => {
        const msg = JSON.parse(data.toString('utf8')) as { envelope_id?: string; payload?: unknown };
        if (msg.envelope_id) acks.push({ envelope_id: msg.envelope_id, ...(msg.payload !== undefined ? { payload: msg.payload } : {}) });
      });
      ws.on('close', () => { clearInterval(pinger); open.delete(ws); });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  const labelOf = (e: SlackElement): string => (typeof e.text === 'string' ? e.text : e.text?.text ?? '');

  const fake: FakeSlack = {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    botToken,
    appToken,
    channelId,
    channelName,
    calls,
    messages,
    ephemerals,
    acks,
    webhooks,
    webhookStatus: 200,
    webhookUrl: (path = 'T0FAKE/B0HOOK/secretpart') => `http://127.0.0.1:${port}/hooks/${path}`,
    sockets,
    refresh() {
      for (const ws of open) ws.send(JSON.stringify({ type: 'disconnect', reason: 'refresh_requested', debug_info: { host: 'fake-slack' } }));
    },
    tap(ts, label, from) {
      const m = messages.get(ts);
      const block = m?.blocks.find((b) => b.type === 'actions' && b.elements?.some((e) => labelOf(e) === label));
      const button = block?.elements?.find((e) => labelOf(e) === label);
      if (!m || !block || !button) throw new Error(`fake slack: no button ${label} on message ${ts}`);
      // The newest open socket: during a refresh the old one may still be closing.
      const ws = [...open].filter((w) => w.readyState === w.OPEN).at(-1);
      if (!ws) throw new Error('fake slack: no Socket Mode connection');
      const envelopeId = `env-${seq++}`;
      const payload = {
        type: 'block_actions',
        user: { id: from.userId, username: from.userId.toLowerCase(), name: from.userId.toLowerCase(), team_id: 'T0FAKE' },
        api_app_id: 'A0FAKE', token: 'verification-token-unused', trigger_id: `trig.${seq}`,
        container: { type: 'message', message_ts: ts, channel_id: from.channelId, is_ephemeral: false },
        team: { id: 'T0FAKE', domain: 'fake' },
        enterprise: null, is_enterprise_install: false,
        channel: { id: from.channelId, name: from.channelName ?? (from.channelId === channelId ? channelName : 'elsewhere') },
        message: { type: 'message', user: 'U0BOT', bot_id: 'B0BOT', ts, text: m.text, blocks: m.blocks },
        state: { values: {} },
        response_url: `http://127.0.0.1:${port}/hooks/response/${envelopeId}`,
        actions: [{ type: 'button', action_id: button.action_id, block_id: block.block_id, text: { type: 'plain_text', text: label, emoji: true }, value: button.value, ...(button.style ? { style: button.style } : {}), action_ts: `${tsClock}.1` }],
      };
      const envelope: Envelope = { envelope_id: envelopeId, type: 'interactive', payload, accepts_response_payload: false, retry_attempt: 0, retry_reason: '' };
      ws.send(JSON.stringify(envelope));
      return envelopeId;
    },
    async waitFor(probe, what, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const v = probe();
        if (v !== undefined && v !== false) return v;
        if (Date.now() > until) throw new Error(`fake slack: timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      for (const ws of open) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Slack mrkdwn (as sent: text &-escaped, links raw <url|text>) to HTML: *bold*, _italic_, <url|text>, newlines. */
function mrkdwnHtml(s: string): string {
  return s
    .replace(/<(https?:[^|>]+)\|([^>]*)>/g, (_m, url: string, text: string) => `<a href="${url}">${text}</a>`)
    .replace(/\*([^*\n]+)\*/g, '<b>$1</b>')
    .replace(/(^|\s)_([^_\n]+)_/g, '$1<i>$2</i>')
    .replace(/\n/g, '<br>');
}

/** The recorded messages as a Slack-like channel page, for screenshots. */
export function slackChannelHtml(messages: readonly FakeSlackMessage[], channelName = 'spend-alerts'): string {
  const rendered = messages.map((m) => {
    const blocks = m.blocks.map((b) => {
      if (b.type === 'section' && b.text) return `<div class="section">${mrkdwnHtml(b.text.text.replace(/"/g, '&quot;'))}</div>`;
      if (b.type === 'context') return `<div class="context">${(b.elements ?? []).map((e) => mrkdwnHtml(typeof e.text === 'string' ? e.text : e.text?.text ?? '')).join(' ')}</div>`;
      if (b.type === 'actions') return `<div class="actions">${(b.elements ?? []).map((e) => `<span class="btn ${e.style ?? ''}">${esc(typeof e.text === 'string' ? e.text : e.text?.text ?? '')}</span>`).join('')}</div>`;
      return '';
    });
    return `<div class="msg"><div class="avatar">$</div><div><div class="who">spendcap <span class="app">APP</span> <span class="time">2:14 AM</span></div>${blocks.join('')}</div></div>`;
  });
  return `<!doctype html><meta charset="utf-8"><style>
body{margin:0;font:15px/1.46 -apple-system,"Segoe UI",Lato,Helvetica,Arial,sans-serif;color:#1d1c1d;background:#fff;width:560px}
header{border-bottom:1px solid #ddd;padding:12px 20px;font-weight:900;font-size:18px}main{padding:8px 0}
.msg{display:flex;gap:10px;padding:8px 20px}.avatar{width:36px;height:36px;border-radius:6px;background:#1f2933;color:#7fe3a2;display:flex;align-items:center;justify-content:center;font-weight:900;flex:none}
.who{font-weight:900}.app{font-size:10px;background:#ddd;color:#555;border-radius:3px;padding:1px 3px;font-weight:700}.time{font-weight:400;color:#616061;font-size:12px}
.section{margin:2px 0}.context{color:#616061;font-size:13px;margin:4px 0}a{color:#1264a3;text-decoration:none}
.actions{display:flex;gap:8px;margin:8px 0 4px}.btn{border:1px solid #bbb;border-radius:4px;padding:4px 12px;font-weight:700;font-size:14px}
.btn.danger{color:#e01e5a;border-color:#e01e5a}.btn.primary{background:#007a5a;color:#fff;border-color:#007a5a}
</style><header># ${esc(channelName)}</header><main>${rendered.join('')}</main>`;
}
