// The HTTP edge of reconciliation for account-wide reports: Anthropic's cost report and OpenAI's
// organization costs, each as USD per UTC day. Shapes (docs, 2026):
// - Anthropic GET /v1/organizations/cost_report?starting_at=RFC3339&bucket_width=1d&limit=31[&page=]
//   (x-api-key: admin key, anthropic-version) → {data: [{starting_at, ending_at, results: [{amount:
//   "123.45" (a decimal string in cents), currency: "USD", …}]}], has_more, next_page}.
// - OpenAI GET /v1/organization/costs?start_time=UNIX&bucket_width=1d&limit=31[&page=] (Bearer admin
//   key) → {data: [{start_time, end_time, results: [{amount: {value: 0.06 (USD), currency: "usd"}}]}],
//   has_more, next_page}.
import { usdToNanos } from '../pricing/index.js';
import type { Nanos } from '../pricing/index.js';
import { ProviderApiError } from '../provider-keys/index.js';

export const ADMIN_BASE_ENV = { anthropic: 'SPENDCAP_ANTHROPIC_ADMIN_BASE_URL', openai: 'SPENDCAP_OPENAI_ADMIN_BASE_URL' } as const;
const DEFAULT_ADMIN_BASE = { anthropic: 'https://api.anthropic.com', openai: 'https://api.openai.com' } as const;

export function adminBase(provider: 'anthropic' | 'openai', env: NodeJS.ProcessEnv): string {
  return (env[ADMIN_BASE_ENV[provider]] ?? DEFAULT_ADMIN_BASE[provider]).replace(/\/+$/, '');
}

/** At most this many pages per report: a runaway cursor must not loop forever. */
const MAX_PAGES = 20;

const rec = (v: unknown): Record<string, unknown> | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

async function getJson(provider: string, url: string, headers: Record<string, string>, timeoutMs: number): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    throw new ProviderApiError('E_PROVIDER_UNREACHABLE', `${provider} is unreachable (${e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message)})`);
  }
  const text = await res.text();
  if (!res.ok) {
    const hint = res.status === 401 || res.status === 403 ? ` Check the admin key: spendcap provider-admin add ${provider} --admin-key -` : '';
    throw new ProviderApiError('E_PROVIDER_REFUSED', `${provider} refused the cost report (${res.status}: ${text.slice(0, 200)}).${hint}`, res.status);
  }
  try {
    const json = rec(JSON.parse(text));
    if (json !== null && Array.isArray(json['data'])) return json;
  } catch {
    // fall through
  }
  throw new ProviderApiError('E_PROVIDER_BAD_REPLY', `${provider}'s cost report is not the documented shape`);
}

function addDay(out: Map<string, Nanos>, day: string, nanos: Nanos): void {
  out.set(day, (out.get(day) ?? 0) + nanos);
}

/** Anthropic's cost per UTC day since `sinceMs`, in n$ (amounts arrive as cents in decimal strings). */
export async function anthropicDailyCost(adminKey: string, sinceMs: number, env: NodeJS.ProcessEnv, timeoutMs = 15_000): Promise<Map<string, Nanos>> {
  const out = new Map<string, Nanos>();
  let page: string | null = null;
  for (let i = 0; i < MAX_PAGES; i++) {
    const q = new URLSearchParams({ starting_at: new Date(sinceMs).toISOString(), bucket_width: '1d', limit: '31' });
    if (page !== null) q.set('page', page);
    const json = await getJson('anthropic', `${adminBase('anthropic', env)}/v1/organizations/cost_report?${q.toString()}`, { 'x-api-key': adminKey, 'anthropic-version': '2023-06-01' }, timeoutMs);
    for (const bucket of json['data'] as unknown[]) {
      const b = rec(bucket);
      const start = typeof b?.['starting_at'] === 'string' ? b['starting_at'] : null;
      if (start === null || !Array.isArray(b?.['results'])) continue;
      for (const r of b['results'] as unknown[]) {
        const cents = Number(rec(r)?.['amount']);
        if (Number.isFinite(cents)) addDay(out, start.slice(0, 10), usdToNanos(cents / 100));
      }
    }
    page = json['has_more'] === true && typeof json['next_page'] === 'string' ? json['next_page'] : null;
    if (page === null) break;
  }
  return out;
}

/** OpenAI's organization cost per UTC day since `sinceMs`, in n$. */
export async function openaiDailyCost(adminKey: string, sinceMs: number, env: NodeJS.ProcessEnv, timeoutMs = 15_000): Promise<Map<string, Nanos>> {
  const out = new Map<string, Nanos>();
  let page: string | null = null;
  for (let i = 0; i < MAX_PAGES; i++) {
    const q = new URLSearchParams({ start_time: String(Math.floor(sinceMs / 1000)), bucket_width: '1d', limit: '31' });
    if (page !== null) q.set('page', page);
    const json = await getJson('openai', `${adminBase('openai', env)}/v1/organization/costs?${q.toString()}`, { authorization: `Bearer ${adminKey}` }, timeoutMs);
    for (const bucket of json['data'] as unknown[]) {
      const b = rec(bucket);
      const start = typeof b?.['start_time'] === 'number' ? b['start_time'] : null;
      if (start === null || !Array.isArray(b?.['results'])) continue;
      for (const r of b['results'] as unknown[]) {
        const value = rec(rec(r)?.['amount'])?.['value'];
        const usd = typeof value === 'number' ? value : Number(value);
        if (Number.isFinite(usd)) addDay(out, new Date(start * 1000).toISOString().slice(0, 10), usdToNanos(usd));
      }
    }
    page = json['has_more'] === true && typeof json['next_page'] === 'string' ? json['next_page'] : null;
    if (page === null) break;
  }
  return out;
}
