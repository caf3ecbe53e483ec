// The overview: a live bar per budget with its actions, then sessions and the charts.
import { get, qs } from '../api.js';
import type { Budget, Key, Stats, UsageRow } from '../api.js';
import { stackedBars } from '../charts.js';
import type { StackedData } from '../charts.js';
import { h, mount } from '../dom.js';
import { ago, int, short, usd } from '../format.js';
import { onBudgets, onSettled, reloadBudgets, state } from '../state.js';
import { localDay } from './autotune.js';
import { budgetRow } from './budget-row.js';
import type { BudgetRow } from './budget-row.js';
import { onboarding } from './onboarding.js';

const SCOPE_ORDER: Record<string, number> = { global: 0, key: 1, tag: 2 };

export async function overview(root: HTMLElement, signal: AbortSignal): Promise<void> {
  const keys = (await get<{ keys: Key[] }>('/api/keys')).keys;
  if (signal.aborted) return;
  if (keys.length === 0) {
    // First run: nothing to show until there is a key.
    mount(root, h('h1', null, 'Welcome to spendcap'), h('p', { class: 'lead' }, 'Add the provider key your agents use, choose a cap, and point your tools at spendcap.'), await onboarding(true));
    return;
  }

  const list = h('ul', { class: 'budgets', 'aria-label': 'Budgets' });
  const rows = new Map<string, BudgetRow>();
  const placeRows = (): void => {
    const sorted = [...state.budgets.values()].sort((a, b) => (SCOPE_ORDER[a.scope] ?? 9) - (SCOPE_ORDER[b.scope] ?? 9) || a.name.localeCompare(b.name));
    for (const [n, r] of rows) {
      if (state.budgets.has(n)) continue;
      r.el.remove();
      rows.delete(n);
    }
    sorted.forEach((b, i) => {
      let r = rows.get(b.name);
      if (r === undefined) rows.set(b.name, (r = budgetRow(b)));
      else r.update(b);
      if (list.children[i] !== r.el) list.insertBefore(r.el, list.children[i] ?? null);
    });
  };
  const off = onBudgets((changed, _removed, full) => {
    if (full || changed.some((b) => !rows.has(b.name)) || _removed.length > 0) placeRows();
    else for (const b of changed) rows.get(b.name)?.update(b);
  });
  const timer = window.setInterval(() => {
    const now = Date.now();
    for (const r of rows.values()) r.tick(now);
    // A period rolled over: the server knows the new spent and end.
    if ([...state.budgets.values()].some((b) => b.periodEnd !== null && new Date(b.periodEnd).getTime() < now - 1000)) void reloadBudgets();
  }, 1000);

  const sessions = h('div', { class: 'sessions' });
  const byKey = stackedBars('Spend per day, last 14 days');
  const byHour = stackedBars('Today by hour', 160);
  const stackSel = h('select', { 'aria-label': 'Stack the charts by' }, h('option', { value: 'key' }, 'by key'), h('option', { value: 'model' }, 'by model'));

  mount(
    root,
    h('div', { class: 'title-row' }, h('h1', null, 'Live spend'), h('a', { href: '/dashboard/keys', class: 'btn', 'data-link': '' }, 'Add key')),
    list,
    h('section', { 'aria-labelledby': 'h-sessions' }, h('h2', { id: 'h-sessions' }, 'Sessions'), sessions),
    h('section', { 'aria-labelledby': 'h-charts', class: 'charts-section' }, h('div', { class: 'title-row' }, h('h2', { id: 'h-charts' }, 'Charts'), stackSel), h('div', { class: 'charts' }, byKey.el, byHour.el)),
  );
  if (state.loaded) placeRows();
  await reloadBudgets();

  const refreshLedger = async (): Promise<void> => {
    const [usage, perKey] = await Promise.all([recentUsage(), stackSel.value === 'key' ? perKeyDays(keys) : Promise.resolve(null)]);
    if (signal.aborted) return;
    renderSessions(sessions, usage, keys);
    const charts = chartData(usage, stackSel.value as 'key' | 'model', perKey);
    byKey.set(charts.days);
    byHour.set(charts.hours);
  };
  stackSel.addEventListener('change', () => void refreshLedger());
  const offSettled = onSettled(() => void refreshLedger());
  signal.addEventListener('abort', () => {
    off();
    offSettled();
    clearInterval(timer);
    byKey.destroy();
    byHour.destroy();
  });
  await refreshLedger();
}

const DAYS = 14;
function dayLabels(): string[] {
  const out: string[] = [];
  const d = new Date();
  d.setHours(12, 0, 0, 0);
  d.setDate(d.getDate() - (DAYS - 1));
  for (let i = 0; i < DAYS; i++, d.setDate(d.getDate() + 1)) out.push(localDay(d));
  return out;
}

function sinceDays(): Date {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  d.setDate(d.getDate() - (DAYS - 1));
  return d;
}

/** The ledger rows of the last 14 days (newest 1000): sessions, hours and per-model days come from them. */
async function recentUsage(): Promise<UsageRow[]> {
  const page = await get<{ items: UsageRow[] }>(`/api/usage${qs({ limit: 1000, since: sinceDays().toISOString() })}`);
  return page.items;
}

/** Per-key days from /api/stats: exact (rows folded by retention still count). */
async function perKeyDays(keys: Key[]): Promise<Map<string, Map<string, number>>> {
  const since = sinceDays().toISOString();
  const all = await Promise.all(keys.map((k) => get<Stats>(`/api/stats${qs({ key: k.name, since })}`).then((s) => [k.name, new Map(s.byDay.map((d) => [d.day, d.costUsd]))] as const)));
  return new Map(all);
}

function chartData(rows: UsageRow[], by: 'key' | 'model', perKey: Map<string, Map<string, number>> | null): { days: StackedData; hours: StackedData } {
  const labels = dayLabels();
  const name = (r: UsageRow): string => (by === 'key' ? (r.keyName ?? '(no key)') : r.model);
  let days: StackedData;
  if (perKey !== null) {
    days = { labels: labels.map((l) => l.slice(5)), series: [...perKey].map(([k, m]) => ({ name: k, values: labels.map((l) => m.get(l) ?? 0) })).filter((s) => s.values.some((v) => v > 0)) };
  } else {
    const m = new Map<string, number[]>();
    for (const r of rows) {
      const i = labels.indexOf(localDay(new Date(r.ts)));
      if (i < 0) continue;
      const v = m.get(name(r)) ?? new Array<number>(DAYS).fill(0);
      v[i]! += r.costUsd;
      m.set(name(r), v);
    }
    days = { labels: labels.map((l) => l.slice(5)), series: [...m].map(([n, values]) => ({ name: n, values })) };
  }
  const today = localDay(new Date());
  const hm = new Map<string, number[]>();
  for (const r of rows) {
    const t = new Date(r.ts);
    if (localDay(t) !== today) continue;
    const v = hm.get(name(r)) ?? new Array<number>(24).fill(0);
    v[t.getHours()]! += r.costUsd;
    hm.set(name(r), v);
  }
  const hours = { labels: Array.from({ length: 24 }, (_, i) => String(i).padStart(2, '0')), series: [...hm].map(([n, values]) => ({ name: n, values })) };
  return { days, hours };
}

interface SessionSummary {
  key: string;
  session: string;
  requests: number;
  spent: number;
  last: string;
  cut: number;
  blocked: number;
}

function renderSessions(box: HTMLElement, rows: UsageRow[], keys: Key[]): void {
  const m = new Map<string, SessionSummary>();
  for (const r of rows) {
    if (r.session === null) continue;
    const id = `${r.keyName ?? ''}\u0000${r.session}`;
    const s = m.get(id) ?? { key: r.keyName ?? '—', session: r.session, requests: 0, spent: 0, last: r.ts, cut: 0, blocked: 0 };
    s.requests++;
    s.spent += r.costUsd;
    if (r.ts > s.last) s.last = r.ts;
    if (r.outcome === 'cut') s.cut++;
    if (r.outcome === 'blocked') s.blocked++;
    m.set(id, s);
  }
  const list = [...m.values()].sort((a, b) => (a.last < b.last ? 1 : -1)).slice(0, 30);
  if (list.length === 0) {
    mount(box, h('p', { class: 'empty' }, `No sessions yet. Claude Code, Codex and opencode name theirs; other clients can send x-spendcap-session. Keys: ${keys.map((k) => k.name).join(', ')}.`));
    return;
  }
  const budgets = state.budgets;
  mount(
    box,
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        null,
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Session'), h('th', { scope: 'col', class: 'r' }, 'Requests'), h('th', { scope: 'col', class: 'r' }, 'Spend'), h('th', { scope: 'col' }, 'Last seen'), h('th', { scope: 'col' }, 'State'))),
        h(
          'tbody',
          null,
          ...list.map((s) => {
            const b: Budget | undefined = budgets.get(s.key);
            const open = Date.now() - new Date(s.last).getTime() < 10 * 60_000;
            const stateText = b?.killed ? 'key killed' : s.blocked > 0 && s.cut > 0 ? `cut ${s.cut}, blocked ${s.blocked}` : s.cut > 0 ? `cut ${s.cut}×` : s.blocked > 0 ? `blocked ${s.blocked}×` : open ? 'active' : 'idle';
            const stateCls = b?.killed || s.blocked > 0 || s.cut > 0 ? 'pill bad' : open ? 'pill ok' : 'pill';
            return h(
              'tr',
              null,
              h('td', null, s.key),
              h('td', { class: 'mono', title: s.session }, short(s.session, 36)),
              h('td', { class: 'r num' }, int(s.requests)),
              h('td', { class: 'r num' }, usd(s.spent, { precise: true })),
              h('td', { class: 'num' }, ago(s.last)),
              h('td', null, h('span', { class: stateCls }, stateText)),
            );
          }),
        ),
      ),
    ),
  );
}
