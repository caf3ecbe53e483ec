// A small client of spendcap's admin API (docs/admin-api.md). The token goes in the Authorization
// header only; no error message or log line ever contains it.
import { liftBody } from './money';
import type { Money } from './money';
import { parseBudget, parseBudgets } from './model';
import type { Budget } from './model';

export type ApiErrorCode = 'not-running' | 'unauthorized' | 'not-found' | 'refused' | 'bad-answer';

/** A failed admin call, with a stable code and a message a person can act on. */
export class SpendcapApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = 'SpendcapApiError';
  }
}

export interface Connection {
  /** e.g. http://127.0.0.1:8787, no trailing slash. */
  url: string;
  token: string;
}

export interface Settings {
  effectiveTimeZone: string;
  /** Percent of the cap, e.g. [50, 80, 100]. */
  thresholds: number[];
}

export interface UsagePage {
  total: number;
  items: Array<Record<string, unknown>>;
}

export interface StatsAnswer {
  totals: { byOutcome: Record<string, number> };
  byModel: Array<Record<string, unknown>>;
  byDayKey: Array<Record<string, unknown>>;
  timeZone: string;
}

export class AdminClient {
  readonly url: string;
  readonly #token: string;

  constructor(conn: Connection) {
    this.url = conn.url.replace(/\/+$/, '');
    this.#token = conn.token;
  }

  /** Headers for a request of the admin API; also used by the live stream. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.#token}`, ...extra };
  }

  async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
        body: body === undefined ? null : JSON.stringify(body),
        signal: signal ?? AbortSignal.timeout(10_000),
      });
    } catch {
      throw new SpendcapApiError('not-running', `spendcap does not answer at ${this.url}: start it (spendcap start) or set spendcap.url`);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch {
      throw new SpendcapApiError('bad-answer', `${this.url}${path} did not answer JSON (HTTP ${res.status}): is this spendcap?`, res.status);
    }
    if (res.ok) return json;
    const message = (json as { error?: { message?: unknown } } | null)?.error?.message;
    const why = typeof message === 'string' ? message : `HTTP ${res.status}`;
    if (res.status === 401) throw new SpendcapApiError('unauthorized', 'spendcap refused the admin token: run "spendcap: Enter the admin token", or check spendcap.dataDir', 401);
    if (res.status === 404) throw new SpendcapApiError('not-found', why, 404);
    throw new SpendcapApiError('refused', why, res.status);
  }

  async budgets(): Promise<Budget[]> {
    const a = (await this.request('GET', '/api/budgets')) as { budgets?: unknown };
    return parseBudgets(a?.budgets);
  }

  async settings(): Promise<Settings> {
    const a = (await this.request('GET', '/api/settings')) as Partial<Settings> | null;
    return {
      effectiveTimeZone: typeof a?.effectiveTimeZone === 'string' ? a.effectiveTimeZone : 'UTC',
      thresholds: Array.isArray(a?.thresholds) ? a.thresholds.filter((t): t is number => typeof t === 'number') : [],
    };
  }

  async stats(since: Date): Promise<StatsAnswer> {
    const a = (await this.request('GET', `/api/stats?since=${encodeURIComponent(since.toISOString())}`)) as Partial<StatsAnswer> | null;
    return {
      totals: { byOutcome: a?.totals?.byOutcome ?? {} },
      byModel: Array.isArray(a?.byModel) ? a.byModel : [],
      byDayKey: Array.isArray(a?.byDayKey) ? a.byDayKey : [],
      timeZone: typeof a?.timeZone === 'string' ? a.timeZone : 'UTC',
    };
  }

  async usage(q: { since?: Date; outcome?: string; limit?: number }): Promise<UsagePage> {
    const p = new URLSearchParams();
    if (q.since) p.set('since', q.since.toISOString());
    if (q.outcome) p.set('outcome', q.outcome);
    p.set('limit', String(q.limit ?? 1000));
    const a = (await this.request('GET', `/api/usage?${p.toString()}`)) as Partial<UsagePage> | null;
    return { total: typeof a?.total === 'number' ? a.total : 0, items: Array.isArray(a?.items) ? a.items : [] };
  }

  lift(name: string, by: Money | 'ceiling'): Promise<Budget> {
    return this.#action(name, 'lift', liftBody(by));
  }

  kill(name: string): Promise<Budget> {
    return this.#action(name, 'kill');
  }

  unkill(name: string): Promise<Budget> {
    return this.#action(name, 'unkill');
  }

  async #action(name: string, verb: string, body?: unknown): Promise<Budget> {
    const a = (await this.request('POST', `/api/budgets/${encodeURIComponent(name)}/${verb}`, body)) as { budget?: unknown } | null;
    const b = parseBudget(a?.budget);
    if (b === null) throw new SpendcapApiError('bad-answer', `spendcap's answer to ${verb} has no budget`);
    return b;
  }
}
