// Alerts: the setup checklist (one row per channel kind, green once configured and tested, each
// with its copy-paste walkthrough and a "Send test" button), held requests with Allow/Deny, and
// deliveries that failed.
import { api, enc, get } from '../api.js';
import { h, mount } from '../dom.js';

interface ChannelView {
  name: string;
  kind: string;
  budgets: string[];
  events: string[];
  running: boolean;
  canAct: boolean;
  fieldsSent: string[];
  test: { at: string; ok: boolean | null; detail: string | null } | null;
}
interface ChecklistRow {
  kind: string;
  title: string;
  steps: string[];
  command: string;
  configured: boolean;
  tested: boolean;
  done: boolean;
}
interface OutboxView {
  id: string;
  channel: string;
  kind: string;
  budget: string;
  state: string;
  count: number;
  attempts: number;
  lastError: string | null;
  updatedAt: string;
}
interface AskView {
  id: string;
  budget: string;
  key: string | null;
  addUsd: number;
  expiresAt: string;
}
export interface AlertsJson {
  channels: ChannelView[];
  checklist: ChecklistRow[];
  outbox: OutboxView[];
  failed: OutboxView[];
  asks: AskView[];
}

const usd = (n: number) => `$${Number.isInteger(n) ? n : n.toFixed(2)}`;

export async function alertsView(root: HTMLElement, signal: AbortSignal): Promise<void> {
  const data = await get<AlertsJson>('/api/alerts');
  if (signal.aborted) return;
  const rerender = () => void alertsView(root, signal);

  const asks = h(
    'section',
    { 'aria-labelledby': 'h-asks' },
    h('h2', { id: 'h-asks' }, 'Waiting for approval'),
    data.asks.length === 0
      ? h('p', { class: 'empty' }, 'No request is waiting. Budgets in --mode ask hold a request that would pass the cap here instead of refusing it.')
      : h(
          'ul',
          { class: 'checklist asks' },
          ...data.asks.map((a) =>
            h(
              'li',
              { 'data-ask': a.id },
              h('span', { class: 'check-mark', 'aria-hidden': 'true' }, '?'),
              h('span', { class: 'ch-name' }, a.budget),
              h('strong', null, `Allow +${usd(a.addUsd)} for key ${a.key ?? a.budget}?`),
              h(
                'span',
                null,
                h('button', { type: 'button', class: 'btn small', onclick: () => void api('POST', `/api/asks/${enc(a.id)}/approve`, {}).finally(rerender) }, `Allow +${usd(a.addUsd)}`),
                ' ',
                h('button', { type: 'button', class: 'btn small ghost', onclick: () => void api('POST', `/api/asks/${enc(a.id)}/deny`, {}).finally(rerender) }, 'Deny'),
              ),
            ),
          ),
        ),
  );

  const rows = data.checklist.map((row) => {
    const mine = data.channels.filter((c) => c.kind === row.kind);
    const outcome = h('span', { class: 'test-outcome', role: 'status' }, mine.map((c) => (c.test ? `${c.name}: ${c.test.ok ? '✓ delivered' : `✗ ${c.test.detail ?? 'failed'}`}` : `${c.name}: not tested`)).join(' · '));
    const testButtons = mine.map((c) =>
      h(
        'button',
        {
          type: 'button',
          class: 'btn small',
          onclick: () => {
            outcome.textContent = `${c.name}: sending…`;
            void api<{ ok: boolean; error: string | null }>('POST', `/api/alerts/${enc(c.name)}/test`, {}).then(
              (r) => {
                outcome.textContent = `${c.name}: ${r.ok ? '✓ delivered' : `✗ ${r.error ?? 'failed'}`}`;
                if (r.ok) rerender();
              },
              (e: unknown) => (outcome.textContent = `${c.name}: ✗ ${e instanceof Error ? e.message : String(e)}`),
            );
          },
        },
        `Send test${mine.length > 1 ? ` (${c.name})` : ''}`,
      ),
    );
    return h(
      'li',
      { class: row.done ? 'done' : '', 'data-channel': row.kind },
      h('span', { class: 'check-mark', 'aria-hidden': 'true' }, row.done ? '✓' : row.configured ? '◐' : '○'),
      h('span', { class: 'ch-name' }, row.kind),
      h('span', { class: row.done ? 'pill ok' : 'pill' }, row.done ? 'tested' : row.configured ? 'configured, not tested' : 'not set'),
      h(
        'details',
        { class: 'walkthrough' },
        h('summary', null, row.title),
        h('ol', null, ...row.steps.map((s) => h('li', null, s))),
        h('pre', null, h('code', null, row.command)),
        ...(row.kind === 'slack' ? [h('button', { type: 'button', class: 'btn small ghost', onclick: () => void showManifest(root) }, 'Show the Slack app manifest')] : []),
      ),
      h('span', null, ...testButtons, outcome),
    );
  });

  const failed = h(
    'section',
    { 'aria-labelledby': 'h-failed' },
    h('h2', { id: 'h-failed' }, 'Deliveries'),
    data.outbox.length === 0
      ? h('p', { class: 'empty' }, 'Nothing sent yet.')
      : h(
          'table',
          { class: 'table' },
          h('thead', null, h('tr', null, ...['When', 'Channel', 'Alert', 'Budget', 'State', 'Attempts', 'Error'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', null, ...data.outbox.slice(0, 20).map((o) => h('tr', { class: o.state === 'failed' ? 'error' : '' }, h('td', null, new Date(o.updatedAt).toLocaleString()), h('td', null, o.channel), h('td', null, `${o.kind}${o.count > 1 ? ` ×${o.count}` : ''}`), h('td', null, o.budget), h('td', null, o.state), h('td', null, String(o.attempts)), h('td', null, o.lastError ?? '')))),
        ),
  );

  mount(
    root,
    h('h1', null, 'Alerts'),
    asks,
    h('section', { 'aria-labelledby': 'h-setup' }, h('h2', { id: 'h-setup' }, 'Setup checklist'), h('p', { class: 'hint' }, 'A row turns green once a channel is configured and a test reached you.'), h('ul', { class: 'checklist alerts-setup', 'aria-label': 'Alert channels' }, ...rows)),
    failed,
  );
}

async function showManifest(root: HTMLElement): Promise<void> {
  const m = await get<unknown>('/api/alerts/slack-manifest');
  const pre = root.querySelector('pre.manifest') ?? root.appendChild(h('pre', { class: 'manifest' }));
  pre.textContent = JSON.stringify(m, null, 2);
}
