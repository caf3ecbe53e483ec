// Adding a key: provider key in, spendcap key out (shown once), with the snippets that point
// each agent or SDK at this spendcap (the same as docs/agents.md, base URL filled in).
import { api, get, ApiFailure } from '../api.js';
import type { Key } from '../api.js';
import { field, h, mount, statusLine } from '../dom.js';
import { usd } from '../format.js';
import { reloadBudgets } from '../state.js';

const PROVIDERS = [
  { id: 'anthropic', label: 'Anthropic', placeholder: 'sk-ant-…', name: 'claude' },
  { id: 'openai', label: 'OpenAI', placeholder: 'sk-proj-…', name: 'codex' },
  { id: 'gemini', label: 'Gemini', placeholder: 'AIza…', name: 'gemini' },
  { id: 'openrouter', label: 'OpenRouter', placeholder: 'sk-or-…', name: 'router' },
  { id: 'openai-compatible', label: 'Other (OpenAI-compatible)', placeholder: 'the provider’s API key', name: 'compat' },
] as const;
type ProviderId = (typeof PROVIDERS)[number]['id'];

export interface Snippet {
  title: string;
  lang: string;
  text: string;
}

/** The snippets for a provider's key, in the order a user most likely wants them. */
export function snippets(provider: string, token: string, base: string): Snippet[] {
  const v1 = `${base}/v1`;
  const anthropicSdk: Snippet = { title: 'Anthropic SDK', lang: 'ts', text: `import Anthropic from '@anthropic-ai/sdk';\nconst client = new Anthropic({ baseURL: '${base}', apiKey: '${token}' });` };
  const openaiSdk: Snippet = {
    title: provider === 'openrouter' ? 'OpenAI SDK (OpenRouter model ids)' : 'OpenAI SDK',
    lang: 'ts',
    text: `import OpenAI from 'openai';\nconst client = new OpenAI({ baseURL: '${v1}', apiKey: '${token}' });\n// or: OPENAI_BASE_URL=${v1} OPENAI_API_KEY=${token}`,
  };
  const codex: Snippet = {
    title: 'Codex CLI (~/.codex/config.toml)',
    lang: 'toml',
    text: `model = "gpt-5"\nmodel_provider = "spendcap"\n\n[model_providers.spendcap]\nname = "spendcap"\nbase_url = "${v1}"\nenv_key = "SPENDCAP_KEY"\nwire_api = "responses"\n\n# then run: SPENDCAP_KEY=${token} codex`,
  };
  switch (provider) {
    case 'anthropic':
      return [
        { title: 'Claude Code', lang: 'sh', text: `export ANTHROPIC_BASE_URL=${base}   # no /v1: Claude Code adds /v1/messages\nexport ANTHROPIC_API_KEY=${token}\nclaude` },
        { title: 'Claude Code, every shell (~/.claude/settings.json)', lang: 'json', text: `{ "env": { "ANTHROPIC_BASE_URL": "${base}", "ANTHROPIC_API_KEY": "${token}" } }` },
        anthropicSdk,
        { title: 'Python SDK', lang: 'py', text: `anthropic.Anthropic(base_url="${base}", api_key="${token}")` },
      ];
    case 'openai':
      return [codex, openaiSdk, { title: 'Python SDK', lang: 'py', text: `openai.OpenAI(base_url="${v1}", api_key="${token}")` }];
    case 'gemini':
      return [
        { title: 'Gemini SDK', lang: 'ts', text: `import { GoogleGenAI } from '@google/genai';\nconst ai = new GoogleGenAI({ apiKey: '${token}', httpOptions: { baseUrl: '${base}' } });\n// or: GOOGLE_GEMINI_BASE_URL=${base} GEMINI_API_KEY=${token}` },
        { title: 'Python SDK', lang: 'py', text: `genai.Client(api_key="${token}", http_options={"base_url": "${base}"})` },
      ];
    default:
      return [openaiSdk, codex];
  }
}

export async function copy(text: string, btn: HTMLButtonElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission (an embedded browser): select the text so Ctrl+C works.
    const pre = btn.closest('.snippet, .token-box')?.querySelector('pre, code');
    if (pre) getSelection()?.selectAllChildren(pre);
  }
  const was = btn.textContent;
  btn.textContent = 'Copied';
  setTimeout(() => (btn.textContent = was), 1500);
}

function snippetBox(s: Snippet): HTMLElement {
  const btn = h('button', { type: 'button', class: 'btn small', 'aria-label': `Copy ${s.title}` }, 'Copy');
  btn.addEventListener('click', () => void copy(s.text, btn));
  return h('div', { class: 'snippet' }, h('div', { class: 'snippet-head' }, h('h3', null, s.title), btn), h('pre', { tabindex: '0' }, h('code', { class: `lang-${s.lang}` }, s.text)));
}

/** The add-a-key form; after it, the key and snippets. `first`: the first-run wording. */
export async function onboarding(first: boolean): Promise<HTMLElement> {
  const existing = first ? [] : (await get<{ keys: Key[] }>('/api/keys')).keys.map((k) => k.name);
  const box = h('section', { class: 'onboarding card', 'aria-label': 'Add a key' });
  let provider: ProviderId = 'anthropic';

  const radios = h(
    'fieldset',
    { class: 'providers' },
    h('legend', null, '1. Provider'),
    ...PROVIDERS.map((p) =>
      h('label', { class: 'radio' }, h('input', { type: 'radio', name: 'provider', value: p.id, checked: p.id === provider, onchange: () => pick(p.id) }), h('span', null, p.label)),
    ),
  );
  const providerKey = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: PROVIDERS[0].placeholder });
  const name = h('input', { type: 'text', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._-]{0,63}', value: uniqueName('claude', existing), autocomplete: 'off' });
  const cap = h('input', { type: 'number', min: '0.01', step: '0.01', value: '10', inputmode: 'decimal', required: true });
  const period = h('select', null, h('option', { value: 'day' }, 'per day'), h('option', { value: 'week' }, 'per week'), h('option', { value: 'month', selected: true }, 'per month'), h('option', { value: 'total' }, 'in total (never resets)'));
  const sessionCap = h('input', { type: 'number', min: '0.01', step: '0.01', inputmode: 'decimal', placeholder: 'none' });
  const baseUrl = h('input', { type: 'url', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://api.groq.com/openai/v1' });
  const baseUrlField = field('Base URL', baseUrl, 'The URL you would give the OpenAI SDK for this provider.');
  baseUrlField.hidden = true;
  const status = statusLine();

  function pick(id: ProviderId): void {
    const was = PROVIDERS.find((p) => p.id === provider)!;
    provider = id;
    const p = PROVIDERS.find((x) => x.id === id)!;
    providerKey.placeholder = p.placeholder;
    if (name.value === uniqueName(was.name, existing) || name.value === '') name.value = uniqueName(p.name, existing);
    // Only a generic OpenAI-compatible provider needs its endpoint: the others are known.
    baseUrlField.hidden = id !== 'openai-compatible';
    baseUrl.required = id === 'openai-compatible';
  }

  const form = h(
    'form',
    { class: 'onboard-form', 'aria-label': 'New key' },
    radios,
    h('fieldset', null, h('legend', null, '2. Provider key'), field('Provider API key', providerKey, 'Stored encrypted on this machine; agents never see it.'), baseUrlField, field('Name', name, 'How budgets, history and the CLI call this key.')),
    h('fieldset', null, h('legend', null, '3. Cap'), h('div', { class: 'grid2' }, field('Cap ($)', cap), field('Period', period), field('Session cap ($, optional)', sessionCap, 'caps each agent session (Claude Code, Codex, opencode)'))),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn primary' }, 'Create key')),
    status,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    status.show('Creating…');
    const body: Record<string, unknown> = { name: name.value.trim(), provider, providerKey: providerKey.value.trim(), capUsd: Number(cap.value), period: period.value };
    if (sessionCap.value.trim() !== '') body.sessionCapUsd = Number(sessionCap.value);
    if (provider === 'openai-compatible') body.baseUrl = baseUrl.value.trim();
    api<{ key: Key; token: string }>('POST', '/api/keys', body).then(
      (r) => {
        providerKey.value = '';
        void reloadBudgets();
        showResult(r.key, r.token);
      },
      (err: unknown) => {
        status.show(err instanceof Error ? err.message : String(err), 'error');
        if (err instanceof ApiFailure && err.field !== null) {
          const target = ({ providerKey, name, capUsd: cap, period, sessionCapUsd: sessionCap, baseUrl } as Record<string, HTMLElement | undefined>)[err.field];
          target?.focus();
        }
      },
    );
  });

  function showResult(key: Key, token: string): void {
    const copyBtn = h('button', { type: 'button', class: 'btn primary' }, 'Copy key');
    copyBtn.addEventListener('click', () => void copy(token, copyBtn));
    const base = location.origin;
    mount(
      box,
      h('h2', null, `Key “${key.name}” is ready`),
      h('p', null, `Capped at ${usd(key.budget?.capUsd ?? Number(cap.value))} ${key.budget?.period === 'total' ? 'in total' : `per ${key.budget?.period ?? period.value}`}. This is the only time the key is shown: copy it now.`),
      h('div', { class: 'token-box' }, h('code', { class: 'token', 'data-token': '' }, token), copyBtn),
      h('h2', null, 'Point your tools at spendcap'),
      ...snippets(key.provider, token, base).map(snippetBox),
      key.provider === 'anthropic' ? h('p', { class: 'hint' }, 'Codex and the OpenAI SDK speak OpenAI’s API: add an OpenAI (or OpenRouter) key for them, and this page shows their snippets, Codex’s config.toml block included.') : null,
      h('div', { class: 'row' }, h('a', { href: '/dashboard', class: 'btn primary', 'data-link': '' }, 'Go to live spend'), h('button', { type: 'button', class: 'btn', onclick: () => void onboarding(false).then((f) => box.replaceWith(f)) }, 'Add another key')),
    );
    box.querySelector('h2')?.setAttribute('tabindex', '-1');
    (box.querySelector('h2') as HTMLElement | null)?.focus();
  }

  mount(box, first ? h('h2', null, 'Add your first key') : h('h2', null, 'Add a key'), form);
  return box;
}

function uniqueName(base: string, taken: string[]): string {
  if (!taken.includes(base)) return base;
  for (let i = 2; ; i++) if (!taken.includes(`${base}-${i}`)) return `${base}-${i}`;
}

/** /dashboard/keys: the keys there are, and the form to add one. */
export async function keysView(root: HTMLElement): Promise<void> {
  const keys = (await get<{ keys: Key[] }>('/api/keys')).keys;
  const form = await onboarding(keys.length === 0);
  mount(
    root,
    h('h1', null, 'Keys'),
    keys.length === 0
      ? h('p', { class: 'empty' }, 'No keys yet.')
      : h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            null,
            h('thead', null, h('tr', null, ...['Name', 'Provider', 'Key', 'Cap', 'Created'].map((t) => h('th', { scope: 'col' }, t)))),
            h(
              'tbody',
              null,
              ...keys.map((k) =>
                h('tr', null, h('td', null, k.name), h('td', null, k.provider), h('td', { class: 'mono' }, k.tokenHint), h('td', { class: 'num' }, k.budget ? `${usd(k.budget.capUsd)} / ${k.budget.period}` : '—'), h('td', { class: 'num' }, k.createdAt ? new Date(k.createdAt).toLocaleDateString() : '—')),
              ),
            ),
          ),
        ),
    form,
  );
}
