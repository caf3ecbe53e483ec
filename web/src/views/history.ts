// The audit log, with its channel tags, filterable by channel, kind and budget.
import { get, qs } from '../api.js';
import type { EventRow, Page } from '../api.js';
import { h, mount } from '../dom.js';
import { dateTime, usd } from '../format.js';
import { state } from '../state.js';
import { pager } from './usage.js';

const CHANNELS = ['web', 'cli', 'api', 'slack', 'telegram', 'auto'];
const KINDS = ['budget-add', 'cap-set', 'kill', 'unkill', 'lift', 'budget-rm', 'price-set', 'price-rm', 'threshold', 'key-add', 'key-rm', 'settings'];
const PAGE = 50;

export async function history(root: HTMLElement, signal: AbortSignal): Promise<void> {
  const params = new URLSearchParams(location.search);
  const channel = select('Channel', ['', ...CHANNELS], params.get('channel') ?? '');
  const kind = select('Kind', ['', ...KINDS], params.get('kind') ?? '');
  const budget = select('Budget', ['', ...[...state.budgets.keys()].sort()], params.get('budget') ?? '');
  const body = h('div', { class: 'history-body' });
  let offset = 0;

  const load = async (): Promise<void> => {
    const q = { channel: channel.value, kind: kind.value, budget: budget.value };
    history_replace(q);
    // The server filters and pages: only one page of events crosses the wire.
    const page = await get<Page<EventRow>>(`/api/events${qs({ limit: PAGE, offset, budget: q.budget, kind: q.kind, channel: q.channel })}`);
    if (signal.aborted) return;
    const shown = page.items;
    mount(
      body,
      page.total === 0
        ? h('p', { class: 'empty' }, 'No events match.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'events' },
              h('thead', null, h('tr', null, ...['Time', 'Channel', 'Action', 'Budget', 'Cap before', 'Cap after', 'Detail'].map((t) => h('th', { scope: 'col', class: t.startsWith('Cap') ? 'r' : '' }, t)))),
              h(
                'tbody',
                null,
                ...shown.map((e) =>
                  h(
                    'tr',
                    { 'data-channel': e.channel },
                    h('td', { class: 'num nowrap' }, dateTime(e.ts)),
                    h('td', null, h('span', { class: `chan chan-${e.channel}` }, e.channel)),
                    h('td', null, e.kind),
                    h('td', null, e.budget ?? '—'),
                    h('td', { class: 'r num' }, usd(e.capBeforeUsd)),
                    h('td', { class: 'r num' }, usd(e.capAfterUsd)),
                    h('td', { class: 'detail' }, detail(e.detail)),
                  ),
                ),
              ),
            ),
          ),
      pager(offset, PAGE, page.total, (o) => {
        offset = o;
        void load();
      }),
    );
  };
  for (const s of [channel, kind, budget])
    s.addEventListener('change', () => {
      offset = 0;
      void load();
    });
  mount(root, h('h1', null, 'History'), h('p', { class: 'lead' }, 'Every change to a budget or price, from any channel: this page (web), the CLI, the API, chat and automatic actions.'), h('div', { class: 'filters' }, channel.parentElement, kind.parentElement, budget.parentElement), body);
  await load();
}

function history_replace(q: Record<string, string>): void {
  const url = `${location.pathname}${qs(q)}`;
  if (url !== location.pathname + location.search) window.history.replaceState(null, '', url);
}

function select(label: string, values: string[], value: string): HTMLSelectElement {
  const s = h('select', { 'aria-label': label }, ...values.map((v) => h('option', { value: v, selected: v === value }, v === '' ? `All` : v)));
  h('label', { class: 'filter' }, h('span', null, label), s);
  return s;
}

function detail(d: string | null): string {
  if (d === null) return '';
  try {
    const o = JSON.parse(d) as unknown;
    if (o !== null && typeof o === 'object') return Object.entries(o as Record<string, unknown>).map(([k, v]) => `${k}: ${String(v)}`).join(', ');
  } catch {
    /* plain text */
  }
  return d;
}
