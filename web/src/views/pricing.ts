// The price of each model seen, where it comes from, and the override editor.
import { api, enc, get, qs } from '../api.js';
import type { PriceOverride, UsageRow } from '../api.js';
import { field, h, mount, statusLine } from '../dom.js';
import { dateTime, int } from '../format.js';

/** GET /api/pricing's inUse: what the server's price book charges now for each model the ledger saw (USD per Mtok). */
interface InUse {
  provider: string;
  model: string;
  pricedAs: string | null;
  source: 'override' | 'catalogue' | 'family-fallback' | 'unknown';
  estimated: boolean;
  inputUsd: number | null;
  outputUsd: number | null;
  cacheReadUsd: number | null;
  cacheWrite5mUsd: number | null;
  cacheWrite1hUsd: number | null;
}

const SOURCE_LABEL: Record<InUse['source'], string> = { override: 'override', catalogue: 'catalogue (genai-prices)', 'family-fallback': 'estimated (dearest of its family)', unknown: 'no price' };
const SOURCE_PILL: Record<InUse['source'], string> = { override: 'pill ok', catalogue: 'pill', 'family-fallback': 'pill warn', unknown: 'pill bad' };

const rate = (n: number | null | undefined): string => (n === null || n === undefined ? '—' : `$${n.toLocaleString('en-US', { maximumFractionDigits: 4 })}`);

export async function pricing(root: HTMLElement, signal: AbortSignal): Promise<void> {
  const [p, rows] = await Promise.all([
    get<{ unit: string; overrides: PriceOverride[]; inUse: InUse[] }>('/api/pricing'),
    // Only for the request counts and last-used times of the recent rows; the prices come from the server.
    get<{ items: UsageRow[] }>(`/api/usage${qs({ limit: 1000 })}`),
  ]);
  if (signal.aborted) return;
  const overrides = new Map(p.overrides.map((o) => [o.model.toLowerCase(), o]));
  const seen = new Map<string, InUse & { requests: number; last: string | null }>();
  for (const m of p.inUse) seen.set(`${m.provider}/${m.model}`, { ...m, requests: 0, last: null });
  for (const r of rows.items) {
    const s = seen.get(`${r.provider}/${r.model}`);
    if (s === undefined) continue;
    s.requests++;
    if (s.last === null || r.ts > s.last) s.last = r.ts;
  }

  const model = h('input', { type: 'text', required: true, autocomplete: 'off', placeholder: 'e.g. my-model or anthropic/claude-opus-4' });
  const input = h('input', { type: 'number', min: '0', step: 'any', required: true, inputmode: 'decimal' });
  const output = h('input', { type: 'number', min: '0', step: 'any', required: true, inputmode: 'decimal' });
  const cacheRead = h('input', { type: 'number', min: '0', step: 'any', inputmode: 'decimal', placeholder: 'from input' });
  const cacheWrite = h('input', { type: 'number', min: '0', step: 'any', inputmode: 'decimal', placeholder: 'from input' });
  const status = statusLine();
  const edit = (m: string): void => {
    const o = overrides.get(m.toLowerCase());
    model.value = m;
    input.value = o ? String(o.input) : '';
    output.value = o ? String(o.output) : '';
    cacheRead.value = o?.cacheRead != null ? String(o.cacheRead) : '';
    cacheWrite.value = o?.cacheWrite != null ? String(o.cacheWrite) : '';
    input.focus();
  };
  const num = (s: string): number | null => (s.trim() === '' ? null : Number(s));
  const form = h(
    'form',
    { class: 'card price-form', 'aria-label': 'Price override' },
    h('h2', null, 'Set a price override'),
    h('p', { class: 'hint' }, `${p.unit}. Overrides win over the bundled catalogue from the next request on.`),
    h('div', { class: 'grid2' }, field('Model', model), field('Input', input), field('Output', output), field('Cache read', cacheRead), field('Cache write (5 min)', cacheWrite)),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn primary' }, 'Save price')),
    status,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    status.show('Saving…');
    api('PUT', `/api/pricing/${enc(model.value.trim())}`, { input: Number(input.value), output: Number(output.value), cacheRead: num(cacheRead.value), cacheWrite: num(cacheWrite.value) }).then(
      () => void pricing(root, signal),
      (err: unknown) => status.show(err instanceof Error ? err.message : String(err), 'error'),
    );
  });
  const remove = (m: string): void => {
    api('DELETE', `/api/pricing/${enc(m)}`).then(
      () => void pricing(root, signal),
      (err: unknown) => status.show(err instanceof Error ? err.message : String(err), 'error'),
    );
  };

  // The server lists them most recently used first; keep its order.
  const seenList = [...seen.values()];
  mount(
    root,
    h('h1', null, 'Pricing'),
    h('h2', null, 'Prices in use'),
    h('p', { class: 'hint' }, `What the proxy charges now for each model used in the last 90 days, ${p.unit}.`),
    seenList.length === 0
      ? h('p', { class: 'empty' }, 'No requests yet: models appear here once they are used.')
      : h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            null,
            h('thead', null, h('tr', null, ...['Model', 'Provider', 'Price from', 'Input', 'Output', 'Cache read', 'Cache write', 'Requests', 'Last used', ''].map((t, i) => h('th', { scope: 'col', class: `${i >= 3 && i <= 7 ? 'r' : ''}${i === 5 || i === 6 || i === 8 ? ' opt' : ''}`.trim() }, t)))),
            h(
              'tbody',
              null,
              ...seenList.map((s) =>
                h(
                  'tr',
                  null,
                  h('td', null, s.model, s.pricedAs && s.pricedAs !== s.model ? h('small', { class: 'sub' }, `priced as ${s.pricedAs}`) : null),
                  h('td', null, s.provider),
                  h('td', null, h('span', { class: SOURCE_PILL[s.source] }, SOURCE_LABEL[s.source])),
                  h('td', { class: 'r num' }, rate(s.inputUsd)),
                  h('td', { class: 'r num' }, rate(s.outputUsd)),
                  h('td', { class: 'r num opt' }, rate(s.cacheReadUsd)),
                  h('td', { class: 'r num opt', title: s.cacheWrite1hUsd === null ? '' : `1-hour write: ${rate(s.cacheWrite1hUsd)}` }, rate(s.cacheWrite5mUsd)),
                  h('td', { class: 'r num' }, s.requests === 0 ? '—' : int(s.requests)),
                  h('td', { class: 'num opt' }, dateTime(s.last)),
                  h('td', null, h('button', { type: 'button', class: 'btn small', 'aria-label': `Override ${s.model}`, onclick: () => edit(s.model) }, 'Override')),
                ),
              ),
            ),
          ),
        ),
    h('h2', null, 'Overrides'),
    p.overrides.length === 0
      ? h('p', { class: 'empty' }, 'None: every price comes from the bundled catalogue.')
      : h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            null,
            h('thead', null, h('tr', null, ...['Model', 'Input', 'Output', 'Cache read', 'Cache write', 'Set', ''].map((t, i) => h('th', { scope: 'col', class: i >= 1 && i <= 4 ? 'r' : '' }, t)))),
            h(
              'tbody',
              null,
              ...p.overrides.map((o) =>
                h(
                  'tr',
                  null,
                  h('td', null, o.model),
                  h('td', { class: 'r num' }, rate(o.input)),
                  h('td', { class: 'r num' }, rate(o.output)),
                  h('td', { class: 'r num' }, rate(o.cacheRead)),
                  h('td', { class: 'r num' }, rate(o.cacheWrite)),
                  h('td', { class: 'num' }, dateTime(o.updatedAt)),
                  h('td', { class: 'nowrap' }, h('button', { type: 'button', class: 'btn small', 'aria-label': `Edit ${o.model}`, onclick: () => edit(o.model) }, 'Edit'), ' ', h('button', { type: 'button', class: 'btn small danger', 'aria-label': `Remove ${o.model}`, onclick: () => remove(o.model) }, 'Remove')),
                ),
              ),
            ),
          ),
        ),
    form,
  );
}
