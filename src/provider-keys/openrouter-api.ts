// OpenRouter's key-management API (https://openrouter.ai/docs: management API keys) and its
// generation lookup: the HTTP edge of the second wall and of reconciliation. Nothing here logs a key.
import { usdFloatToNanos } from '../providers/openai/chat-usage.js';
import { DEFAULT_BASE_URLS, BASE_URL_ENV } from '../providers/index.js';
import type { Nanos } from '../pricing/index.js';

export type ProviderApiCode = 'E_PROVIDER_UNREACHABLE' | 'E_PROVIDER_REFUSED' | 'E_PROVIDER_BAD_REPLY' | 'E_PROVIDER_NOT_FOUND';

/** A provider admin call that failed; `code` is stable, the message says what to do. */
export class ProviderApiError extends Error {
  constructor(
    readonly code: ProviderApiCode,
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = 'ProviderApiError';
  }
}

/** Every USD float OpenRouter reports (cost, limit, usage) becomes n$ here, rounded as the relay rounds usage.cost. */
export function openRouterUsd(usd: number): Nanos {
  return usdFloatToNanos(usd);
}

/** n$ → the USD float OpenRouter's `limit` takes. */
export function nanosToUsdFloat(nanos: Nanos): number {
  return nanos / 1e9;
}

export type LimitReset = 'daily' | 'weekly' | 'monthly' | null;

/** What OpenRouter says about one key (GET /keys/{hash}); money in n$. */
export interface OpenRouterKeyInfo {
  hash: string;
  name: string;
  disabled: boolean;
  limitNanos: Nanos | null;
  remainingNanos: Nanos | null;
  limitReset: LimitReset;
  usageNanos: Nanos;
  usageDailyNanos: Nanos | null;
  usageWeeklyNanos: Nanos | null;
  usageMonthlyNanos: Nanos | null;
}

/** What GET /generation?id= says about one generation. */
export interface OpenRouterGeneration {
  id: string;
  totalCostNanos: Nanos;
  cancelled: boolean;
  model: string | null;
}

export function openRouterBase(env: NodeJS.ProcessEnv): string {
  return (env[BASE_URL_ENV.openrouter] ?? DEFAULT_BASE_URLS.openrouter).replace(/\/+$/, '');
}

const rec = (v: unknown): Record<string, unknown> | null => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const usdOrNull = (v: unknown): Nanos | null => {
  const n = numOrNull(v);
  return n === null ? null : openRouterUsd(n);
};

export function parseKeyInfo(data: unknown): OpenRouterKeyInfo {
  const d = rec(data);
  if (d === null || typeof d['hash'] !== 'string') throw new ProviderApiError('E_PROVIDER_BAD_REPLY', 'OpenRouter answered without a key hash');
  const reset = d['limit_reset'];
  return {
    hash: d['hash'],
    name: typeof d['name'] === 'string' ? d['name'] : '',
    disabled: d['disabled'] === true,
    limitNanos: usdOrNull(d['limit']),
    remainingNanos: usdOrNull(d['limit_remaining']),
    limitReset: reset === 'daily' || reset === 'weekly' || reset === 'monthly' ? reset : null,
    usageNanos: usdOrNull(d['usage']) ?? 0,
    usageDailyNanos: usdOrNull(d['usage_daily']),
    usageWeeklyNanos: usdOrNull(d['usage_weekly']),
    usageMonthlyNanos: usdOrNull(d['usage_monthly']),
  };
}

export interface OpenRouterApiOptions {
  base: string;
  /** Bearer token: the management key for /keys, any key of the account for /generation. */
  token: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** A small client; each call has its own timeout so a listing never hangs on a sleeping network. */
export class OpenRouterApi {
  readonly #o: Required<OpenRouterApiOptions>;
  constructor(opts: OpenRouterApiOptions) {
    this.#o = { timeoutMs: 10_000, fetch: globalThis.fetch, ...opts, base: opts.base.replace(/\/+$/, '') };
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await this.#o.fetch(`${this.#o.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#o.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${this.#o.timeoutMs} ms` : (e.cause?.code ?? e.message);
      throw new ProviderApiError('E_PROVIDER_UNREACHABLE', `OpenRouter is unreachable at ${this.#o.base} (${why})`);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      json = null;
    }
    if (!res.ok) {
      const msg = rec(rec(json)?.['error'])?.['message'];
      const detail = typeof msg === 'string' ? msg : text.slice(0, 200);
      if (res.status === 404) throw new ProviderApiError('E_PROVIDER_NOT_FOUND', `OpenRouter: not found (${detail})`, 404);
      const hint = res.status === 401 || res.status === 403 ? ' Check the management key: spendcap provider-admin add openrouter --management-key -' : '';
      throw new ProviderApiError('E_PROVIDER_REFUSED', `OpenRouter refused ${method} ${path.split('?')[0]} (${res.status}: ${detail}).${hint}`, res.status);
    }
    return json;
  }

  /** POST /keys: the key string comes back this once. */
  async createKey(req: { name: string; limitNanos: Nanos; limitReset: LimitReset }): Promise<{ key: string; info: OpenRouterKeyInfo }> {
    const json = rec(await this.#call('POST', '/keys', { name: req.name, limit: nanosToUsdFloat(req.limitNanos), limit_reset: req.limitReset, include_byok_in_limit: true }));
    const key = json?.['key'];
    if (typeof key !== 'string' || key === '') throw new ProviderApiError('E_PROVIDER_BAD_REPLY', 'OpenRouter created a key but sent no key string');
    return { key, info: parseKeyInfo(json?.['data']) };
  }

  async getKey(hash: string): Promise<OpenRouterKeyInfo> {
    return parseKeyInfo(rec(await this.#call('GET', `/keys/${encodeURIComponent(hash)}`))?.['data']);
  }

  async setLimit(hash: string, limitNanos: Nanos, limitReset?: LimitReset): Promise<OpenRouterKeyInfo> {
    const body: Record<string, unknown> = { limit: nanosToUsdFloat(limitNanos) };
    if (limitReset !== undefined) body['limit_reset'] = limitReset;
    return parseKeyInfo(rec(await this.#call('PATCH', `/keys/${encodeURIComponent(hash)}`, body))?.['data']);
  }

  async deleteKey(hash: string): Promise<void> {
    await this.#call('DELETE', `/keys/${encodeURIComponent(hash)}`);
  }

  /** GET /generation?id=: OpenRouter's final cost of one generation (cancelled ones included). */
  async generation(id: string): Promise<OpenRouterGeneration> {
    const d = rec(rec(await this.#call('GET', `/generation?id=${encodeURIComponent(id)}`))?.['data']);
    const cost = numOrNull(d?.['total_cost']);
    if (d === null || cost === null) throw new ProviderApiError('E_PROVIDER_BAD_REPLY', `OpenRouter's generation ${id} has no total_cost`);
    return { id, totalCostNanos: openRouterUsd(cost), cancelled: d['cancelled'] === true, model: typeof d['model'] === 'string' ? d['model'] : null };
  }
}

/** Spendcap periods ↔ OpenRouter's limit_reset (which resets at 00:00 UTC, weeks from Monday). */
export const RESET_TO_PERIOD = { daily: 'day', weekly: 'week', monthly: 'month' } as const;
export function resetOfPeriod(period: string): LimitReset {
  return period === 'day' ? 'daily' : period === 'week' ? 'weekly' : period === 'month' ? 'monthly' : null;
}
