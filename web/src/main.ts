// The dashboard shell: sign-in from a #token= link, the navigation, client-side routes under
// /dashboard, and the live feed every view shares.
import './style.css';
import { h, mount } from './dom.js';
import { loadSettings, onLiveState, reloadBudgets, startLive } from './state.js';
import { alertsView } from './views/alerts.js';
import { history as historyView } from './views/history.js';
import { keysView } from './views/onboarding.js';
import { overview } from './views/overview.js';
import { pricing } from './views/pricing.js';
import { logout, settings } from './views/settings.js';
import { trust } from './views/trust.js';
import { usage } from './views/usage.js';

type View = (root: HTMLElement, signal: AbortSignal) => Promise<void>;

const ROUTES: Array<{ path: string; label: string; view: View; title: string }> = [
  { path: '/dashboard', label: 'Live', view: overview, title: 'Live spend' },
  { path: '/dashboard/keys', label: 'Keys', view: (r) => keysView(r), title: 'Keys' },
  { path: '/dashboard/history', label: 'History', view: historyView, title: 'History' },
  { path: '/dashboard/usage', label: 'Usage', view: usage, title: 'Usage' },
  { path: '/dashboard/pricing', label: 'Pricing', view: pricing, title: 'Pricing' },
  { path: '/dashboard/alerts', label: 'Alerts', view: alertsView, title: 'Alerts' },
  { path: '/dashboard/settings', label: 'Settings', view: settings, title: 'Settings' },
  { path: '/dashboard/trust', label: 'Trust', view: trust, title: 'Trust' },
];

/** A one-time link opened while already signed in: exchange it too, then drop it from the address bar. */
async function exchangeFragment(): Promise<void> {
  const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (m === null) return;
  window.history.replaceState(null, '', location.pathname + location.search);
  await fetch('/dashboard/session', { method: 'POST', headers: { 'content-type': 'application/json', 'x-spendcap-csrf': '1' }, body: JSON.stringify({ token: decodeURIComponent(m[1]!) }) }).catch(() => undefined);
}

function shell(): { main: HTMLElement; nav: HTMLElement; live: HTMLElement } {
  const live = h('span', { class: 'live-dot', role: 'status', title: 'live feed' }, 'connecting');
  const nav = h('nav', { class: 'nav', 'aria-label': 'Dashboard' }, h('ul', null, ...ROUTES.map((r) => h('li', null, h('a', { href: r.path, 'data-link': '' }, r.label)))));
  const main = h('main', { id: 'main', tabindex: '-1' });
  mount(
    document.body,
    h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
    h('header', { class: 'top' }, h('a', { href: '/dashboard', class: 'brand', 'data-link': '' }, 'spendcap'), nav, h('div', { class: 'top-right' }, live, h('button', { type: 'button', class: 'btn small ghost', onclick: () => void logout() }, 'Sign out'))),
    main,
  );
  return { main, nav, live };
}

let current: AbortController | null = null;
async function render(main: HTMLElement, nav: HTMLElement, focus: boolean): Promise<void> {
  const path = location.pathname.replace(/\/+$/, '') || '/dashboard';
  const route = ROUTES.find((r) => r.path === path) ?? null;
  current?.abort();
  const ctl = new AbortController();
  current = ctl;
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === route?.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${route?.title ?? 'Not found'} · spendcap`;
  main.setAttribute('aria-busy', 'true');
  try {
    if (route === null) mount(main, h('h1', null, 'Not found'), h('p', null, h('a', { href: '/dashboard', 'data-link': '' }, 'Back to live spend')));
    else await route.view(main, ctl.signal);
  } catch (e) {
    if (!ctl.signal.aborted) mount(main, h('h1', null, route?.title ?? 'Error'), h('p', { class: 'status error', role: 'alert' }, e instanceof Error ? e.message : String(e)));
  } finally {
    if (current === ctl) main.removeAttribute('aria-busy');
  }
  if (focus) main.focus({ preventScroll: true });
}

async function start(): Promise<void> {
  await exchangeFragment();
  const { main, nav, live } = shell();
  onLiveState((up) => {
    live.textContent = up ? 'live' : 'reconnecting';
    live.classList.toggle('up', up);
  });
  // Internal links change the route without a reload.
  document.addEventListener('click', (e) => {
    const a = (e.target as Element | null)?.closest?.('a[data-link]');
    if (!(a instanceof HTMLAnchorElement) || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    if (a.pathname !== location.pathname) window.history.pushState(null, '', a.pathname);
    window.scrollTo(0, 0);
    void render(main, nav, true);
  });
  window.addEventListener('popstate', () => void render(main, nav, true));
  await loadSettings();
  void reloadBudgets().catch(() => undefined);
  startLive();
  await render(main, nav, false);
}

void start();
