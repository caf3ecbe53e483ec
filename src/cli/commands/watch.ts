// `spendcap watch`: a live terminal view that follows the server's /api/live stream, with keys to
// lift, kill and unkill the selected budget through the admin API.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LiveBudget } from '../../admin/live.js';
import { SseParser } from '../../proxy/sse.js';
import { ADMIN_TOKEN_FILE } from '../../secrets/index.js';
import { parse, str } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { serverUrl } from './connect.js';
import { newState, renderScreen, sample } from './watch-view.js';
import type { RecentRequest, WatchState } from './watch-view.js';

/** What the + key adds, in USD as the admin API takes it. */
const LIFT_STEP_USD = 5;

interface Session {
  state: WatchState;
  url: string;
  token: string;
  draw: () => void;
}

async function api(s: Session, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${s.url}${path}`, { method, headers: { authorization: `Bearer ${s.token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

async function refreshRecent(s: Session): Promise<void> {
  try {
    const r = (await api(s, 'GET', '/api/usage?limit=20')) as { items: RecentRequest[] };
    s.state.recent = r.items;
    s.draw();
  } catch {
    // the next spend event tries again
  }
}

function applyBudgets(s: Session, budgets: LiveBudget[], removed: string[], replace: boolean): void {
  const now = Date.now();
  const byName = new Map((replace ? [] : s.state.budgets).map((b) => [b.name, b]));
  for (const b of budgets) {
    byName.set(b.name, b);
    sample(s.state, b, now);
  }
  for (const n of removed) byName.delete(n);
  s.state.budgets = [...byName.values()].sort((a, b) => (a.scope === b.scope ? a.name.localeCompare(b.name) : a.scope === 'key' ? -1 : 1));
  s.state.selected = Math.min(s.state.selected, Math.max(0, s.state.budgets.length - 1));
}

/** Follows /api/live until it ends; reconnects after a second. */
async function follow(s: Session, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      const r = await fetch(`${s.url}/api/live`, { headers: { authorization: `Bearer ${s.token}`, accept: 'text/event-stream' }, signal });
      if (!r.ok || !r.body) throw new Error(`live stream: ${r.status}`);
      s.state.connected = true;
      s.state.message = '';
      s.draw();
      void refreshRecent(s);
      const parser = new SseParser();
      for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
        for (const ev of parser.push(chunk)) {
          const data = JSON.parse(ev.data) as { budgets: LiveBudget[]; removed?: string[] };
          applyBudgets(s, data.budgets, data.removed ?? [], ev.event === 'snapshot');
          s.draw();
          if (ev.event === 'spend') void refreshRecent(s);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      s.state.message = `not connected: ${(err as Error).message}`;
    }
    s.state.connected = false;
    s.draw();
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function act(s: Session, key: string): Promise<void> {
  const b = s.state.budgets[s.state.selected];
  if (!b) return;
  const name = encodeURIComponent(b.name);
  try {
    if (key === '+') await api(s, 'POST', `/api/budgets/${name}/lift`, { add: LIFT_STEP_USD });
    else if (key === 'k') await api(s, 'POST', `/api/budgets/${name}/kill`);
    else if (key === 'u') await api(s, 'POST', `/api/budgets/${name}/unkill`);
    s.state.message = `${key === '+' ? `lifted ${b.name} by $${LIFT_STEP_USD}` : key === 'k' ? `killed ${b.name}` : `re-opened ${b.name}`}`;
  } catch (err) {
    s.state.message = (err as Error).message;
  }
  s.draw();
}

export async function watch(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { url: { type: 'string' } }, false);
  const { store, dataDir } = openStore(values['data-dir'], io);
  let url: string;
  try {
    url = await serverUrl(str(values.url), dataDir, store);
  } finally {
    await store.close();
  }
  let token: string;
  try {
    token = readFileSync(join(dataDir, ADMIN_TOKEN_FILE), 'utf8').trim();
  } catch {
    throw new UsageError(`no admin token in ${dataDir}: start the server first (spendcap start)`);
  }
  const out = process.stdout;
  const state = newState(url);
  const s: Session = { state, url, token, draw: () => out.write(renderScreen(state, out.columns || 80, out.rows || 24)) };
  const abort = new AbortController();

  out.write('\x1b[?1049h\x1b[?25l'); // alternate screen, hide the cursor
  const onResize = () => {
    out.write('\x1b[2J');
    s.draw();
  };
  out.on('resize', onResize);
  const stdin = process.stdin;
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.resume();
  const done = new Promise<void>((resolve) => {
    stdin.on('data', (d: Buffer) => {
      const k = d.toString('utf8');
      if (k === 'q' || k === '\x03') return resolve();
      if (k === '\x1b[A') state.selected = Math.max(0, state.selected - 1);
      else if (k === '\x1b[B' || k === '\t') state.selected = Math.min(state.budgets.length - 1, state.selected + 1);
      else if (k === '+' || k === 'k' || k === 'u') return void act(s, k);
      s.draw();
    });
    process.once('SIGTERM', () => resolve());
  });
  s.draw();
  void follow(s, abort.signal);
  await done;
  abort.abort();
  out.off('resize', onResize);
  if (stdin.isTTY) stdin.setRawMode(false);
  stdin.pause();
  out.write('\x1b[?25h\x1b[?1049l');
  return 0;
}
