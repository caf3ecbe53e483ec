// The overview: a live bar per budget with its actions, then sessions and the charts.
import { enc, get } from '../api.js';
import type { Budget, BudgetDetail, Key, Stats } from '../api.js';
import { stackedBars } from '../charts.js';
import type { StackedData } from '../charts.js';
import { h, mount } from '../dom.js';
import { ago, int, short, usd } from '../format.js';
import { onBudgets, onSettled, reloadBudgets, state } from '../state.js';
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
    // Both from the server: the charts in the data dir's zone, the sessions of every key with their in-flight state.
    const [stats, details] = await Promise.all([get<Stats>('/api/stats'), Promise.all(keys.map((k) => get<BudgetDetail>(`/api/budgets/${enc(k.name)}`).catch(() => null)))]);
    if (signal.aborted) return;
    renderSessions(sessions, keys, details);
    const charts = chartData(stats, stackSel.value as 'key' | 'model');
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

/** The last 14 days as the server counts them (YYYY-MM-DD in the data dir's zone), oldest first. */
function dayLabels(tz: string): string[] {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: tz, year: 'numeric', month: 'numeric', day: 'numeric' }).formatToParts(Date.now()).map((x) => [x.type, x.value]));
  // Calendar arithmetic on the date alone: no DST hour can skip or repeat a day.
  return Array.from({ length: DAYS }, (_, i) => new Date(Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day) - (DAYS - 1 - i))).toISOString().slice(0, 10));
}

function chartData(stats: Stats, by: 'key' | 'model'): { days: StackedData; hours: StackedData } {
  const labels = dayLabels(stats.timeZone);
  const index = new Map(labels.map((l, i) => [l, i]));
  const m = new Map<string, number[]>();
  const rows = by === 'key' ? stats.byDayKey.map((d) => ({ day: d.day, name: d.key || '(no key)', costUsd: d.costUsd })) : stats.byDayModel.map((d) => ({ day: d.day, name: d.model, costUsd: d.costUsd }));
  for (const r of rows) {
    const i = index.get(r.day);
    if (i === undefined) continue;
    const v = m.get(r.name) ?? new Array<number>(DAYS).fill(0);
    v[i]! += r.costUsd;
    m.set(r.name, v);
  }
  const days: StackedData = { labels: labels.map((l) => l.slice(5)), series: [...m].map(([name, values]) => ({ name, values })).filter((x) => x.values.some((v) => v > 0)) };
  const today = labels[DAYS - 1]!;
  const hourly = new Array<number>(24).fill(0);
  for (const x of stats.byHour) if (x.hour.startsWith(`${today}T`)) hourly[Number(x.hour.slice(-2))]! += x.costUsd;
  const hours: StackedData = { labels: Array.from({ length: 24 }, (_, i) => String(i).padStart(2, '0')), series: hourly.some((v) => v > 0) ? [{ name: 'all keys', values: hourly }] : [] };
  return { days, hours };
}

function renderSessions(box: HTMLElement, keys: Key[], details: Array<BudgetDetail | null>): void {
  const list = details
    .flatMap((d) => (d === null ? [] : d.sessions.map((x) => ({ key: d.name, ...x }))))
    .sort((a, b) => Number(b.open) - Number(a.open) || (b.lastSeen ?? '').localeCompare(a.lastSeen ?? ''))
    .slice(0, 30);
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
        { class: 'sessions-table' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Session'), h('th', { scope: 'col', class: 'r opt' }, 'Requests'), h('th', { scope: 'col', class: 'r' }, 'Spend'), h('th', { scope: 'col', class: 'opt' }, 'Last seen'), h('th', { scope: 'col' }, 'State'))),
        h(
          'tbody',
          null,
          ...list.map((s) => {
            const b: Budget | undefined = budgets.get(s.key);
            const bad = s.lastOutcome === 'cut' || s.lastOutcome === 'blocked' || s.lastOutcome === 'error';
            const stateText = b?.killed ? 'key killed' : s.open ? 'in flight' : bad ? `last ${s.lastOutcome}` : 'idle';
            const stateCls = b?.killed || (bad && !s.open) ? 'pill bad' : s.open ? 'pill ok' : 'pill';
            return h(
              'tr',
              { 'data-session': s.id, 'data-open': String(s.open) },
              h('td', null, s.key),
              h('td', { class: 'mono', title: s.id }, short(s.id, 24)),
              h('td', { class: 'r num opt' }, int(s.requests)),
              h('td', { class: 'r num' }, s.capUsd === null ? usd(s.spentUsd, { precise: true }) : `${usd(s.spentUsd, { precise: true })} / ${usd(s.capUsd)}`),
              h('td', { class: 'num opt' }, ago(s.lastSeen)),
              h('td', null, h('span', { class: stateCls }, stateText)),
            );
          }),
        ),
      ),
    ),
  );
}
