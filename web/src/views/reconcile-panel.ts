// A small panel on the usage page: the last `spendcap reconcile`, when it ran, what it corrected and
// the largest drifts between the ledger and what providers report (GET /api/reconcile).
import { get } from '../api.js';
import { h } from '../dom.js';
import { ago, usd } from '../format.js';

export interface ReconcileLine {
  source: string;
  subject: string;
  day: string | null;
  ledgerUsd: number;
  providerUsd: number;
  driftUsd: number;
  rows: number;
  missing: number;
}

export interface LastReconcile {
  ranAt: string;
  since: string;
  absDriftUsd: number;
  correctedUsd: number;
  corrections: number;
  lines: ReconcileLine[];
  notes: string[];
}

/** Lines shown: the largest drifts first. */
const SHOWN = 8;

function signed(n: number): string {
  return `${n > 0 ? '+' : ''}${usd(n, { precise: true })}`;
}

export async function reconcilePanel(): Promise<HTMLElement> {
  const r = await get<{ last: LastReconcile | null }>('/api/reconcile').catch(() => ({ last: null }));
  const last = r.last;
  if (last === null) {
    return h('section', { class: 'card', 'aria-labelledby': 'h-reconcile' }, h('h2', { id: 'h-reconcile' }, 'Reconciliation'), h('p', { class: 'empty' }, 'Not run yet. ', h('code', null, 'spendcap reconcile'), ' compares the ledger with what OpenRouter, Anthropic and OpenAI report.'));
  }
  const lines = [...last.lines].sort((a, b) => Math.abs(b.driftUsd) - Math.abs(a.driftUsd)).slice(0, SHOWN);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'h-reconcile' },
    h('h2', { id: 'h-reconcile' }, 'Reconciliation'),
    h('p', null, `Last run ${ago(last.ranAt)} (since ${last.since.slice(0, 10)}): `, last.corrections === 0 ? 'no row needed a correction.' : `${last.corrections} OpenRouter row(s) set to OpenRouter's figure (${signed(last.correctedUsd)}).`),
    lines.length === 0
      ? h('p', { class: 'empty' }, 'Nothing was compared.')
      : h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            null,
            h('thead', null, h('tr', null, ...['Day', 'Source', 'Key', 'Ledger', 'Provider', 'Drift'].map((t, i) => h('th', { scope: 'col', class: i >= 3 ? 'r' : '' }, t)))),
            h('tbody', null, ...lines.map((l) => h('tr', null, h('td', { class: 'num nowrap' }, l.day ?? 'all time'), h('td', null, l.source), h('td', null, l.subject), h('td', { class: 'r num' }, usd(l.ledgerUsd, { precise: true })), h('td', { class: 'r num' }, usd(l.providerUsd, { precise: true })), h('td', { class: 'r num' }, signed(l.driftUsd))))),
          ),
        ),
    ...last.notes.map((n) => h('p', { class: 'hint' }, n)),
  );
}
