// Time zone, thresholds, retention, the default session cap, and the alert channels' checklist.
import { api, get } from '../api.js';
import type { AlertChannel, Settings, Trust } from '../api.js';
import { field, h, mount, statusLine } from '../dom.js';
import { loadSettings, reloadBudgets, state } from '../state.js';

/** What setting a channel up asks for, in words. */
export function channelHow(c: AlertChannel): string {
  return c.fields.length === 0 ? 'nothing to fill in: notifications on this machine' : `needs ${c.fields.join(', ')}`;
}

export async function settings(root: HTMLElement, signal: AbortSignal): Promise<void> {
  const [s, trust] = await Promise.all([loadSettings(), get<Trust>('/api/trust').catch(() => null)]);
  if (signal.aborted) return;
  if (s === null) {
    mount(root, h('h1', null, 'Settings'), h('p', { class: 'empty' }, 'This spendcap does not serve settings yet: use `spendcap settings` in a terminal.'));
    return;
  }
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const tz = h('input', { type: 'text', list: 'tz-list', value: s.timeZone ?? '', placeholder: `machine’s zone (${s.effectiveTimeZone})`, autocomplete: 'off' });
  const thresholds = h('input', { type: 'text', value: s.thresholds.join(', '), inputmode: 'numeric', pattern: '[0-9%, ]*' });
  const retain = h('input', { type: 'number', min: '14', step: '1', value: String(s.retainDays) });
  const sessionCap = h('input', { type: 'number', min: '0', step: '0.01', inputmode: 'decimal', value: s.defaultSessionCapUsd === null ? '' : String(s.defaultSessionCapUsd), placeholder: 'none' });
  const status = statusLine();
  const form = h(
    'form',
    { class: 'card', 'aria-label': 'Settings' },
    h('datalist', { id: 'tz-list' }, ...zones.map((z) => h('option', { value: z }))),
    h(
      'div',
      { class: 'grid2' },
      field('Time zone', tz, 'days, weeks and months roll over at midnight here; empty: the machine’s zone'),
      field('Thresholds (%)', thresholds, 'an event fires (and the bar changes colour) as spend passes each; e.g. 50, 80, 100'),
      field('Keep request rows (days)', retain, 'older rows fold into daily totals; at least 14 for auto-tune'),
      field('Default session cap ($)', sessionCap, 'for keys without their own; empty: none'),
    ),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn primary' }, 'Save settings')),
    status,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    const zone = tz.value.trim() === '' ? null : tz.value.trim();
    if (zone !== s.timeZone) body.timeZone = zone;
    const th = thresholds.value
      .split(',')
      .map((x) => x.trim().replace(/%$/, ''))
      .filter((x) => x !== '')
      .map(Number);
    if (th.join(',') !== s.thresholds.join(',')) body.thresholds = th;
    if (Number(retain.value) !== s.retainDays) body.retainDays = Number(retain.value);
    const sc = sessionCap.value.trim() === '' ? null : Number(sessionCap.value);
    if (sc !== s.defaultSessionCapUsd) body.defaultSessionCapUsd = sc;
    if (Object.keys(body).length === 0) return status.show('Nothing changed');
    status.show('Saving…');
    api<{ settings: Settings }>('PATCH', '/api/settings', body).then(
      (r) => {
        state.settings = r.settings;
        state.thresholds = [...r.settings.thresholds].sort((a, b) => a - b);
        void reloadBudgets();
        status.show('Saved', 'ok');
        void settings(root, signal);
      },
      (err: unknown) => status.show(err instanceof Error ? err.message : String(err), 'error'),
    );
  });

  // The server's list of channels and whether each is set up (GET /api/trust alertChannels).
  const channels = trust?.alertChannels ?? [];
  const checklist =
    channels.length === 0
      ? h('p', { class: 'empty' }, 'This spendcap does not list alert channels.')
      : h(
          'ul',
          { class: 'checklist', 'aria-label': 'Alert channels' },
          ...channels.map((c) => h('li', { class: c.configured ? 'done' : '', 'data-channel': c.id }, h('span', { class: 'check-mark', 'aria-hidden': 'true' }, c.configured ? '✓' : '○'), h('span', { class: 'ch-name' }, c.name), h('span', { class: c.configured ? 'pill ok' : 'pill' }, c.configured ? 'configured' : 'not set'), h('small', { class: 'hint' }, channelHow(c)))),
        );

  mount(
    root,
    h('h1', null, 'Settings'),
    form,
    h('section', { 'aria-labelledby': 'h-alerts' }, h('h2', { id: 'h-alerts' }, 'Alert channels'), h('p', { class: 'hint' }, 'Rows turn green once a channel is set up. Set channels up, send tests and answer held requests on the Alerts page.'), checklist),
    h('section', null, h('h2', null, 'Session'), h('button', { type: 'button', class: 'btn', onclick: () => void logout() }, 'Sign out of this browser')),
  );
}

export async function logout(): Promise<void> {
  await api('POST', '/dashboard/logout').catch(() => undefined);
  location.assign('/dashboard');
}
