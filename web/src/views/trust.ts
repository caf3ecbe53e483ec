// /dashboard/trust: what spendcap keeps, where, what is encrypted, what an alert would carry, and
// what leaves the machine. Facts about this data dir come from /api/trust; the rest is how spendcap works.
import { get } from '../api.js';
import type { Trust } from '../api.js';
import { h, mount } from '../dom.js';
import { int } from '../format.js';

/** What a budget alert carries, field by field, on every channel. */

export async function trust(root: HTMLElement, signal: AbortSignal): Promise<void> {
  const t = await get<Trust>('/api/trust').catch(() => null);
  if (signal.aborted) return;
  const channels = t?.alertChannels ?? [];
  mount(
    root,
    h('h1', null, 'Trust'),
    h('p', { class: 'lead' }, 'What spendcap keeps, where, and what leaves this machine.'),
    h(
      'section',
      { 'aria-labelledby': 'h-stored' },
      h('h2', { id: 'h-stored' }, 'Stored on this machine'),
      t === null
        ? h('p', { class: 'empty' }, 'This spendcap does not describe its files yet.')
        : h(
            'div',
            null,
            h('p', null, 'Data directory: ', h('code', null, t.dataDir)),
            h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                null,
                h('thead', null, h('tr', null, ...['File', 'What', 'Mode', 'Size'].map((x, i) => h('th', { scope: 'col', class: i === 3 ? 'r' : '' }, x)))),
                h('tbody', null, ...t.files.map((f) => h('tr', null, h('td', { class: 'mono', title: f.path }, f.name), h('td', null, f.what), h('td', { class: 'nowrap' }, f.exists ? modeCell(f.mode) : 'not created'), h('td', { class: 'r num' }, f.bytes === null ? '—' : `${int(f.bytes)} B`)))),
              ),
            ),
          ),
    ),
    h(
      'section',
      { 'aria-labelledby': 'h-enc' },
      h('h2', { id: 'h-enc' }, 'Encrypted and not'),
      h('div', { class: 'two-col' }, h('div', { class: 'card' }, h('h3', null, 'Encrypted at rest'), list(t?.encrypted ?? ['provider API keys (AES-256-GCM, key in secret.key, mode 0600)'])), h('div', { class: 'card' }, h('h3', null, 'Kept in plain text'), list(t?.plaintext ?? ['budgets, spend ledger, event log, prices', 'hashes of spendcap keys and dashboard sessions (never the tokens)']))),
      t?.hashed?.length ? h('div', { class: 'card' }, h('h3', null, 'Kept only as a hash'), list(t.hashed)) : null,
      t?.neverStored?.length ? h('div', { class: 'card' }, h('h3', null, 'Never stored'), list(t.neverStored)) : null,
      t ? h('p', { class: 'hint' }, t.tokenStorage) : null,
      h('p', { class: 'hint' }, 'Prompts and responses are never stored: the ledger keeps token counts, cost, model and outcome per request.'),
    ),
    h(
      'section',
      { 'aria-labelledby': 'h-alerts' },
      h('h2', { id: 'h-alerts' }, 'What each alert channel receives'),
      h('p', null, 'Exactly these fields, listed by the code that builds each channel’s messages, and nothing more: no prompt, response, provider key, spendcap key or session id.'),
      h(
        'ul',
        { class: 'facts channel-fields' },
        ...channels.map((c) =>
          h(
            'li',
            { 'data-channel': c.id },
            h('strong', null, c.name),
            ' ',
            h('span', { class: c.configured ? 'pill ok' : 'pill' }, c.configured ? 'set up' : 'not set'),
            ': ',
            c.fields.length === 0 ? 'set it up to see its fields' : c.fields.map((f, i) => [i > 0 ? ', ' : '', h('code', null, f)]),
          ),
        ),
      ),
    ),
    h(
      'section',
      { 'aria-labelledby': 'h-leaves' },
      h('h2', { id: 'h-leaves' }, 'What leaves the machine'),
      list([
        'Your agents’ requests, to the provider each key names (Anthropic, OpenAI, Gemini, OpenRouter or the base URL you gave), with the provider key swapped in for the spendcap key.',
        'Alerts, to the channels you set up, and only the fields above.',
        'Nothing else: no telemetry, no update checks, no price downloads (the price catalogue ships with spendcap). This page loads no outside script, font or image.',
        t ? `spendcap listens on ${t.listen}: reachable from this machine${/127\.0\.0\.1|localhost|\[::1\]/.test(t.listen) ? ' only' : ' and from the network it is bound to'}.` : 'spendcap listens on 127.0.0.1 unless started with --host.',
      ]),
    ),
  );
}

/** 0600 is owner-only (what spendcap sets); anything looser is flagged. */
function modeCell(mode: string | null): HTMLElement | string {
  if (mode === null) return '—';
  const own = (parseInt(mode, 8) & 0o077) === 0;
  return h('span', null, h('code', null, mode), ' ', h('span', { class: own ? 'pill ok' : 'pill warn', title: own ? 'readable and writable by your user only' : 'other users of this machine can read it' }, own ? 'owner only' : 'readable by others'));
}

function list(items: string[]): HTMLElement {
  return h('ul', { class: 'facts' }, ...items.map((i) => h('li', null, i)));
}
