// Recent requests, one row each, paged from the ledger.
import { get, qs } from '../api.js';
import type { Page, UsageRow } from '../api.js';
import { h, mount } from '../dom.js';
import { dateTime, int, short, usd } from '../format.js';
import { state } from '../state.js';
import { reconcilePanel } from './reconcile-panel.js';

const PAGE = 50;

export function pager(offset: number, size: number, total: number, go: (offset: number) => void): HTMLElement {
  const last = Math.max(0, Math.ceil(total / size) - 1);
  const page = Math.floor(offset / size);
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', class: 'btn', disabled: page === 0, onclick: () => go(offset - size) }, 'Newer'),
    h('span', { class: 'num' }, total === 0 ? '0 rows' : `${offset + 1}–${Math.min(total, offset + size)} of ${int(total)}`),
    h('button', { type: 'button', class: 'btn', disabled: page >= last, onclick: () => go(offset + size) }, 'Older'),
  );
}

export async function usage(root: HTMLElement, signal: AbortSignal): Promise<void> {
  const keySel = h('select', { 'aria-label': 'Key' }, h('option', { value: '' }, 'All keys'), ...[...state.budgets.values()].filter((b) => b.scope === 'key').map((b) => h('option', { value: b.name }, b.name)));
  const outcomeSel = h('select', { 'aria-label': 'Outcome' }, ...['', 'ok', 'cut', 'blocked', 'error'].map((o) => h('option', { value: o }, o === '' ? 'All outcomes' : o)));
  const body = h('div');
  let offset = 0;
  const load = async (): Promise<void> => {
    const page = await get<Page<UsageRow>>(`/api/usage${qs({ limit: PAGE, offset, key: keySel.value, outcome: outcomeSel.value })}`);
    if (signal.aborted) return;
    mount(
      body,
      page.items.length === 0
        ? h('p', { class: 'empty' }, 'No requests yet.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'usage' },
              h(
                'thead',
                null,
                h('tr', null, ...['Time', 'Key', 'Model', 'Input', 'Output', 'Cache read', 'Cache write', 'Cost', 'Outcome', 'Time taken'].map((t, i) => h('th', { scope: 'col', class: i >= 3 && i <= 7 ? 'r' : i === 9 ? 'r' : '' }, t))),
              ),
              h(
                'tbody',
                null,
                ...page.items.map((r) =>
                  h(
                    'tr',
                    null,
                    h('td', { class: 'num nowrap' }, dateTime(r.ts)),
                    h('td', null, r.keyName ?? '—', r.session !== null ? h('small', { class: 'mono sub', title: r.session }, short(r.session, 10)) : null),
                    h('td', { title: r.pricedAs !== null && r.pricedAs !== r.model ? `priced as ${r.pricedAs}` : null }, r.model, r.priceEstimated ? h('small', { class: 'sub' }, 'estimated price') : null),
                    h('td', { class: 'r num' }, int(r.inputTokens)),
                    h('td', { class: 'r num' }, int(r.outputTokens)),
                    h('td', { class: 'r num' }, int(r.cacheReadTokens)),
                    h('td', { class: 'r num' }, int(r.cacheWrite5mTokens + r.cacheWrite1hTokens)),
                    h('td', { class: 'r num' }, ...costCell(r)),
                    h('td', null, h('span', { class: `pill ${r.outcome === 'ok' ? 'ok' : r.outcome === 'error' ? '' : 'bad'}`, title: r.detail }, r.outcome)),
                    h('td', { class: 'r num' }, r.durationMs === null ? '—' : `${(r.durationMs / 1000).toFixed(1)} s`),
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
  for (const s of [keySel, outcomeSel])
    s.addEventListener('change', () => {
      offset = 0;
      void load();
    });
  const panel = h('div');
  mount(root, h('h1', null, 'Usage'), h('div', { class: 'filters' }, keySel, outcomeSel), body, panel);
  await load();
  const p = await reconcilePanel();
  if (!signal.aborted) mount(panel, p);
}

/**
 * The cost column: what counted against the cap, and on a cut (or any row charged from spendcap's own
 * estimate) its best estimate of what the provider billed beside it; a router's own figure likewise.
 */
function costCell(r: UsageRow): Array<HTMLElement | string> {
  const charged = usd(r.costUsd, { precise: true });
  if (r.usageSource === 'estimate' && r.meteredCostUsd !== null) {
    return [charged, h('small', { class: 'sub', title: 'The charge is the safe upper bound counted against the cap; this is spendcap\'s best estimate of what the provider billed.' }, `billed ~${usd(r.meteredCostUsd, { precise: true })}`)];
  }
  if (r.providerCostUsd !== null && r.meteredCostUsd !== null && r.meteredCostUsd !== r.providerCostUsd) {
    return [charged, h('small', { class: 'sub', title: "The provider's own figure is charged; this is spendcap's price of the same usage." }, `metered ${usd(r.meteredCostUsd, { precise: true })}`)];
  }
  return [charged];
}
