// The admin API as the page uses it: same-origin fetch (the session cookie goes by itself), the
// CSRF header on every change, and a 401 sends the user back to sign in.

export interface LiveBudget {
  name: string;
  /** key, global or tag */
  scope: string;
  /** day, week, month or total */
  period: string;
  /** hard or soft */
  mode: string;
  killed: boolean;
  capUsd: number;
  spentUsd: number;
  heldUsd: number;
  remainingUsd: number;
}

export interface Budget extends LiveBudget {
  id: number | null;
  ceilingUsd: number | null;
  sessionCapUsd: number | null;
  clamp: boolean;
  /** off, suggest or creep */
  autotune: string;
  periodStart: string | null;
  periodEnd: string | null;
  estimatedPriceRequests: number;
  updatedAt: string | null;
}

export interface BudgetDetail extends Budget {
  /** Key budgets: recent sessions (last 14 days), newest first; empty for global and tag budgets. */
  sessions: Session[];
  byModel: ModelSpend[];
  autotuneSuggestion: { suggestedUsd: number | null; reason: string };
}

export interface Session {
  id: string;
  requests: number;
  spentUsd: number;
  /** The session cap that applies, null for none. */
  capUsd: number | null;
  lastSeen: string | null;
  /** ok, cut, blocked or error; null while its first request is in flight. */
  lastOutcome: string | null;
  /** A request of this session holds money right now. */
  open: boolean;
}

export interface ModelSpend {
  provider: string;
  model: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface Key {
  name: string;
  provider: string;
  baseUrl: string | null;
  tokenHint: string;
  createdAt: string | null;
  budget: { capUsd: number; period: string; mode: string; killed: boolean; ceilingUsd: number | null; sessionCapUsd: number | null } | null;
}

export interface UsageRow {
  id: number;
  ts: string;
  requestId: string | null;
  keyId: number | null;
  keyName: string | null;
  session: string | null;
  tag: string | null;
  provider: string;
  model: string;
  pricedAs: string | null;
  priceEstimated: boolean;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  costUsd: number;
  providerCostUsd: number | null;
  meteredCostUsd: number | null;
  outcome: 'ok' | 'cut' | 'blocked' | 'error';
  usageSource: string | null;
  status: number | null;
  durationMs: number | null;
  detail: string | null;
}

export interface EventRow {
  id: number;
  ts: string;
  kind: string;
  budget: string | null;
  channel: string;
  capBeforeUsd: number | null;
  capAfterUsd: number | null;
  detail: string | null;
}

export interface Page<T> {
  total: number;
  limit: number;
  offset: number;
  items: T[];
}

export interface Stats {
  since: string;
  until: string | null;
  totals: { requests: number; costUsd: number; inputTokens: number; outputTokens: number; byOutcome: Record<string, number> };
  byModel: ModelSpend[];
  byDay: Array<{ day: string; requests: number; costUsd: number }>;
  /** The last 14 days (data dir's time zone), per key and per model; byHour: today by hour ("2026-03-01T13"). */
  byDayKey: Array<{ day: string; key: string; costUsd: number }>;
  byDayModel: Array<{ day: string; model: string; costUsd: number }>;
  byHour: Array<{ hour: string; costUsd: number }>;
  timeZone: string;
}

export interface PriceOverride {
  model: string;
  input: number;
  output: number;
  cacheRead: number | null;
  cacheWrite: number | null;
  updatedAt: string | null;
}

export interface Settings {
  timeZone: string | null;
  effectiveTimeZone: string;
  thresholds: number[];
  retainDays: number;
  defaultSessionCapUsd: number | null;
}

export interface Trust {
  dataDir: string;
  files: Array<{ name: string; path: string; exists: boolean; mode: string | null; bytes: number | null; what: string }>;
  encrypted: string[];
  hashed?: string[];
  plaintext: string[];
  neverStored?: string[];
  alertChannels: AlertChannel[];
  listen: string;
  tokenStorage: string;
}

export interface AlertChannel {
  id: string;
  name: string;
  configured: boolean;
  /** Exactly the fields this channel receives, from the code that builds its messages. */
  fields: string[];
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field: string | null,
  ) {
    super(message);
  }
}

const CSRF = { 'x-spendcap-csrf': '1' };

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = method === 'GET' ? {} : { ...CSRF };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body), cache: 'no-store' });
  if (res.status === 401) {
    // The session is gone (logged out, expired): the server shows its sign-in page at /dashboard.
    location.assign('/dashboard');
    throw new ApiFailure(401, 'signed out', null);
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    /* not JSON: reported below */
  }
  if (!res.ok) {
    const err = (json as { error?: { message?: string; field?: string | null; param?: string | null } } | null)?.error;
    throw new ApiFailure(res.status, err?.message ?? `${method} ${path}: HTTP ${res.status}`, err?.field ?? err?.param ?? null);
  }
  return json as T;
}

export const get = <T>(path: string): Promise<T> => api<T>('GET', path);

export function qs(params: Record<string, string | number | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

export const enc = encodeURIComponent;

/** Budgets' money as /api/live pushes it; reconnects by itself (EventSource does), refreshes on reconnect. */
export function live(onSnapshot: (b: LiveBudget[]) => void, onSpend: (b: LiveBudget[], removed: string[]) => void, onState: (up: boolean) => void): () => void {
  const es = new EventSource('/api/live');
  es.addEventListener('snapshot', (e) => {
    onState(true);
    onSnapshot((JSON.parse((e as MessageEvent<string>).data) as { budgets: LiveBudget[] }).budgets);
  });
  es.addEventListener('spend', (e) => {
    const d = JSON.parse((e as MessageEvent<string>).data) as { budgets: LiveBudget[]; removed?: string[] };
    onSpend(d.budgets, d.removed ?? []);
  });
  es.addEventListener('error', () => {
    onState(false);
    // A closed stream (not a retrying one) usually means the session ended: check, and sign in again if so.
    if (es.readyState === EventSource.CLOSED) void fetch('/dashboard/session').then((r) => r.status === 401 && location.assign('/dashboard'));
  });
  return () => es.close();
}
