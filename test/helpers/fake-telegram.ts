// A local fake of the Telegram Bot API over HTTP, for the real grammY client (client.apiRoot).
// Methods: getMe, deleteWebhook, getUpdates (long poll), sendMessage, answerCallbackQuery,
// editMessageText. It records every call and every message as it stands, and can inject a
// message (/start) or a callback_query (a button tap) from any chat and user.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeButton { text: string; callback_data: string }
export interface FakeMessage {
  message_id: number;
  chat: { id: number; type: 'private' | 'group' };
  date: number;
  text: string;
  parse_mode?: string;
  reply_markup?: { inline_keyboard: FakeButton[][] };
  /** Every text this message has shown, oldest first. */
  history: string[];
}
export interface FakeCall { method: string; params: Record<string, unknown> }
export interface CallbackAnswer { callback_query_id: string; text?: string; show_alert?: boolean }
interface Update { update_id: number; [k: string]: unknown }
interface Poll { offset: number; res: ServerResponse; timer: NodeJS.Timeout }

export interface FakeTelegram {
  readonly apiRoot: string;
  readonly token: string;
  readonly calls: FakeCall[];
  readonly answers: CallbackAnswer[];
  /** Messages the bot sent, by id, in their current state. */
  readonly messages: Map<number, FakeMessage>;
  /** A tap on the button labelled `label` of message `messageId`, as seen from chat `chatId` by user `fromId`. */
  tap(messageId: number, label: string, from: { chatId: number; userId: number }): string;
  /** A text message to the bot (e.g. /start) from a chat. */
  say(chatId: number, userId: number, text: string): void;
  waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** What Telegram hands back for a parse_mode HTML text: the text without markup (entities not modelled). */
export function plainText(m: Pick<FakeMessage, 'text' | 'parse_mode'>): string {
  if (m.parse_mode !== 'HTML') return m.text;
  return m.text.replace(/<[^>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}

/** A message as the Bot API returns it. */
function wire(m: FakeMessage): Record<string, unknown> {
  return { message_id: m.message_id, chat: m.chat, date: m.date, text: plainText(m), ...(m.reply_markup ? { reply_markup: m.reply_markup } : {}) };
}

function tgError(res: ServerResponse, code: number, description: string): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error_code: code, description }));
}
function tgOk(res: ServerResponse, result: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, result }));
}
async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  if (raw === '') return {};
  if ((req.headers['content-type'] ?? '').includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  return Object.fromEntries(new URLSearchParams(raw));
}

export interface FakeTelegramOptions {
  /** A callback query answered later than this is refused, as Telegram does (default: never). */
  readonly queryTtlMs?: number;
}

export async function startFakeTelegram(token = '123456:TEST-token_abc', opts: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  const queryBorn = new Map<string, number>();
  const calls: FakeCall[] = [];
  const answers: CallbackAnswer[] = [];
  const messages = new Map<number, FakeMessage>();
  const updates: Update[] = [];
  const polls = new Set<Poll>();
  let nextUpdate = 1;
  let nextMessage = 100;
  let nextQuery = 1;
  const bot = { id: Number(token.split(':')[0]), is_bot: true, first_name: 'spendcap test', username: 'spendcap_test_bot', can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };

  const pending = (offset: number): Update[] => updates.filter((u) => u.update_id >= offset);
  function flushPolls(): void {
    for (const p of polls) {
      const ready = pending(p.offset);
      if (ready.length === 0) continue;
      clearTimeout(p.timer);
      polls.delete(p);
      tgOk(p.res, ready);
    }
  }
  function push(u: Omit<Update, 'update_id'>): void {
    updates.push({ update_id: nextUpdate++, ...u });
    flushPolls();
  }

  function getUpdates(params: Record<string, unknown>, req: IncomingMessage, res: ServerResponse): void {
    const offset = Number(params.offset ?? 0);
    // An offset confirms every update before it (Telegram forgets them).
    while (updates.length > 0 && (updates[0]?.update_id ?? 0) < offset) updates.shift();
    const ready = pending(offset);
    const timeout = Number(params.timeout ?? 0);
    if (ready.length > 0 || timeout <= 0) return tgOk(res, ready.slice(0, Number(params.limit ?? 100)));
    const poll: Poll = { offset, res, timer: setTimeout(() => { polls.delete(poll); tgOk(res, []); }, timeout * 1000) };
    polls.add(poll);
    req.socket.on('close', () => { clearTimeout(poll.timer); polls.delete(poll); });
  }

  function sendMessage(p: Record<string, unknown>, res: ServerResponse): void {
    const chatId = Number(p.chat_id);
    const text = typeof p.text === 'string' ? p.text : '';
    if (!Number.isFinite(chatId)) return tgError(res, 400, 'Bad Request: chat not found');
    if (text === '') return tgError(res, 400, 'Bad Request: message text is empty');
    const m: FakeMessage = { message_id: nextMessage++, chat: { id: chatId, type: chatId < 0 ? 'group' : 'private' }, date: Math.floor(Date.now() / 1000), text, history: [text] };
    if (typeof p.parse_mode === 'string') m.parse_mode = p.parse_mode;
    const kb = p.reply_markup as FakeMessage['reply_markup'] | undefined;
    if (kb && kb.inline_keyboard.length > 0) m.reply_markup = kb;
    messages.set(m.message_id, m);
    tgOk(res, wire(m));
  }

  function editMessageText(p: Record<string, unknown>, res: ServerResponse): void {
    const m = messages.get(Number(p.message_id));
    if (!m || m.chat.id !== Number(p.chat_id)) return tgError(res, 400, 'Bad Request: message to edit not found');
    const text = typeof p.text === 'string' ? p.text : '';
    const kb = p.reply_markup as FakeMessage['reply_markup'] | undefined;
    const nextKb = kb && kb.inline_keyboard.length > 0 ? kb : undefined;
    if (text === m.text && JSON.stringify(nextKb) === JSON.stringify(m.reply_markup)) return tgError(res, 400, 'Bad Request: message is not modified: specified new message content and reply markup are exactly the same');
    m.text = text;
    m.history.push(text);
    if (typeof p.parse_mode === 'string') m.parse_mode = p.parse_mode;
    if (nextKb) m.reply_markup = nextKb;
    else delete m.reply_markup;
    tgOk(res, wire(m));
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const match = /^\/bot([^/]+)\/(\w+)$/.exec(req.url?.split('?')[0] ?? '');
      if (!match) return tgError(res, 404, 'Not Found');
      if (match[1] !== token) return tgError(res, 401, 'Unauthorized');
      const method = match[2] ?? '';
      const params = await readJson(req);
      calls.push({ method, params });
      switch (method) {
        case 'getMe': return tgOk(res, bot);
        case 'deleteWebhook': return tgOk(res, true);
        case 'getUpdates': return getUpdates(params, req, res);
        case 'sendMessage': return sendMessage(params, res);
        case 'editMessageText': return editMessageText(params, res);
        case 'answerCallbackQuery':
          if (Date.now() - (queryBorn.get(String(params.callback_query_id)) ?? 0) > (opts.queryTtlMs ?? Infinity)) return tgError(res, 400, 'Bad Request: query is too old and response timeout expired or query ID is invalid');
          answers.push({ callback_query_id: String(params.callback_query_id), ...(typeof params.text === 'string' ? { text: params.text } : {}), ...(params.show_alert === true ? { show_alert: true } : {}) });
          return tgOk(res, true);
        default: return tgError(res, 404, 'Not Found: method not found');
      }
    })().catch((err: unknown) => tgError(res, 500, String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    apiRoot: `http://127.0.0.1:${port}`,
    token,
    calls,
    answers,
    messages,
    tap(messageId, label, from) {
      const m = messages.get(messageId);
      const button = m?.reply_markup?.inline_keyboard.flat().find((b) => b.text === label);
      if (!m || !button) throw new Error(`fake telegram: no button ${label} on message ${messageId}`);
      const id = String(nextQuery++);
      queryBorn.set(id, Date.now());
      push({ callback_query: { id, from: { id: from.userId, is_bot: false, first_name: `user${from.userId}` }, message: { ...wire(m), chat: { ...m.chat, id: from.chatId } }, chat_instance: `ci${from.chatId}`, data: button.callback_data } });
      return id;
    },
    say(chatId, userId, text) {
      const entities = text.startsWith('/') ? [{ type: 'bot_command', offset: 0, length: text.split(/\s/)[0]?.length ?? text.length }] : undefined;
      push({ message: { message_id: nextMessage++, from: { id: userId, is_bot: false, first_name: `user${userId}` }, chat: { id: chatId, type: chatId < 0 ? 'group' : 'private' }, date: Math.floor(Date.now() / 1000), text, ...(entities ? { entities } : {}) } });
    },
    async waitFor(probe, what, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const v = probe();
        if (v !== undefined && v !== false) return v;
        if (Date.now() > until) throw new Error(`fake telegram: timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      for (const p of polls) { clearTimeout(p.timer); tgOk(p.res, []); }
      polls.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The recorded messages as a Telegram-like chat page, for screenshots. The text is the HTML subset the
 * bot sent with parse_mode HTML (b, i, a), shown as Telegram shows it; newlines become line breaks.
 */
export function telegramChatHtml(messages: readonly FakeMessage[], title = 'spendcap'): string {
  const bubbles = messages.map((m) => {
    const body = m.parse_mode === 'HTML' ? m.text : escapeAttr(m.text);
    const rows = (m.reply_markup?.inline_keyboard ?? []).map((row) => `<div class="row">${row.map((b) => `<div class="btn">${escapeAttr(b.text)}</div>`).join('')}</div>`).join('');
    return `<div class="msg"><div class="bubble">${body.replace(/\n/g, '<br>')}<span class="time">02:14</span></div>${rows ? `<div class="kb">${rows}</div>` : ''}</div>`;
  });
  return `<!doctype html><meta charset="utf-8"><style>
body{margin:0;font:15px/1.35 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;background:#8fb27e linear-gradient(160deg,#a7c48f,#6f9b70);width:420px}
header{background:#517da2;color:#fff;padding:12px 16px;font-weight:600}header small{display:block;font-weight:400;opacity:.8}
main{padding:12px 10px 16px}.msg{max-width:330px;margin:0 0 12px}
.bubble{background:#fff;border-radius:12px 12px 12px 4px;padding:8px 10px 18px;position:relative;box-shadow:0 1px 1px rgba(0,0,0,.15)}
.bubble a{color:#2a7ab8;text-decoration:none}.time{position:absolute;right:8px;bottom:3px;font-size:11px;color:#8a9aa6}
.kb{margin-top:3px}.row{display:flex;gap:3px;margin-top:3px}.btn{flex:1;text-align:center;background:rgba(80,110,90,.55);color:#fff;border-radius:8px;padding:8px 4px;font-weight:500}
</style><header>${escapeAttr(title)}<small>bot</small></header><main>${bubbles.join('')}</main>`;
}
