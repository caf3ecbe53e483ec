// One reconciliation: fetch what providers report, compare (compare.ts), correct OpenRouter rows,
// remember the result. The steps share one small state object (Run).
import { formatUsd } from '../pricing/index.js';
import type { Nanos } from '../pricing/index.js';
import { adminKeyOf, listProviderKeys, OpenRouterApi, openRouterBase, ProviderApiError } from '../provider-keys/index.js';
import { decryptSecret } from '../secrets/index.js';
import type { EventChannel, Store } from '../store/index.js';
import { corrections, dailyDrift, generationDrift, keyUsageDrift, sumByUtcDay } from './compare.js';
import type { Correction, DriftLine, GenerationCheck, LedgerCost } from './compare.js';
import { applyCorrections, keyLifetimeNanos, LAST_RECONCILE_META, providerRows } from './ledger.js';
import { anthropicDailyCost, openaiDailyCost } from './provider-reports.js';

export interface ReconcileOptions {
  sinceMs: number;
  env: NodeJS.ProcessEnv;
  channel: EventChannel;
  now?: number;
  /** Parallel generation lookups. */
  concurrency?: number;
  /** Waits before retrying a generation OpenRouter does not know yet (it stores them a few seconds late). */
  retryDelaysMs?: readonly number[];
}

export interface ReconcileReport {
  ranAt: string;
  since: string;
  lines: DriftLine[];
  corrections: Correction[];
  /** Σ |drift| over the lines that compare rows (OpenRouter generations) and daily reports, n$. */
  absDriftNanos: Nanos;
  /** Σ (new − old) of the corrected rows, n$. */
  correctedNanos: Nanos;
  /** What could not be compared, and why (no admin key, provider unreachable, rows without a generation id). */
  notes: string[];
}

/** Rows this young may not be stored at OpenRouter yet: a 404 is retried. */
const YOUNG_MS = 120_000;

interface Run {
  store: Store;
  masterKey: () => Buffer;
  opts: ReconcileOptions;
  now: number;
  lines: DriftLine[];
  applied: Correction[];
  notes: string[];
}

export async function runReconcile(store: Store, masterKey: () => Buffer, opts: ReconcileOptions): Promise<ReconcileReport> {
  const run: Run = { store, masterKey, opts, now: opts.now ?? Date.now(), lines: [], applied: [], notes: [] };
  await openRouterGenerations(run);
  await openRouterKeyUsage(run);
  for (const p of ['anthropic', 'openai'] as const) await accountReport(run, p);
  const report: ReconcileReport = {
    ranAt: new Date(run.now).toISOString(),
    since: new Date(opts.sinceMs).toISOString(),
    lines: run.lines,
    corrections: run.applied,
    absDriftNanos: run.lines.filter((l) => l.source !== 'openrouter-key').reduce((s, l) => s + Math.abs(l.driftNanos), 0),
    correctedNanos: run.applied.reduce((s, c) => s + c.toNanos - c.fromNanos, 0),
    notes: run.notes,
  };
  await store.settings.setMeta(LAST_RECONCILE_META, JSON.stringify(report));
  return report;
}

/** The last stored reconciliation, or null before the first. */
export async function lastReconcile(store: Store): Promise<ReconcileReport | null> {
  const raw = await store.settings.getMeta(LAST_RECONCILE_META);
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as ReconcileReport;
  } catch {
    return null;
  }
}

/** A key of the account to ask /generation with: the row's own OpenRouter key, else the management key. */
async function generationToken(run: Run, keyId: number, fallback: string | null): Promise<string | null> {
  const k = (await run.store.keys.list()).find((x) => x.id === keyId && x.provider === 'openrouter');
  return k ? decryptSecret(run.masterKey(), k.providerKeyEnc) : fallback;
}

async function lookup(api: OpenRouterApi, row: LedgerCost, run: Run): Promise<GenerationCheck> {
  const delays = run.now - row.ts < YOUNG_MS ? (run.opts.retryDelaysMs ?? [500, 1000, 2000]) : [];
  for (let attempt = 0; ; attempt++) {
    try {
      const g = await api.generation(row.requestId);
      return { row, providerNanos: g.totalCostNanos, cancelled: g.cancelled };
    } catch (err) {
      if (!(err instanceof ProviderApiError) || err.code !== 'E_PROVIDER_NOT_FOUND') throw err;
      const wait = delays[attempt];
      if (wait === undefined) return { row, providerNanos: null, cancelled: false };
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** Every OpenRouter row since the date beside GET /generation?id=, cut and cancelled ones included; drifted rows are corrected. */
async function openRouterGenerations(run: Run): Promise<void> {
  const rows = await providerRows(run.store, 'openrouter', run.opts.sinceMs);
  const withId = rows.filter((r) => r.requestId.startsWith('gen-'));
  if (rows.length > withId.length) run.notes.push(`${rows.length - withId.length} OpenRouter row(s) carry no generation id (recorded before spendcap kept it) and were not compared`);
  if (withId.length === 0) return;
  const management = await adminKeyOf(run.store, run.masterKey, 'openrouter');
  const base = openRouterBase(run.opts.env);
  const apis = new Map<string, OpenRouterApi>();
  const apiFor = async (row: LedgerCost): Promise<OpenRouterApi | null> => {
    const token = await generationToken(run, row.keyId, management);
    if (token === null) return null;
    let api = apis.get(token);
    if (api === undefined) apis.set(token, (api = new OpenRouterApi({ base, token })));
    return api;
  };
  const checks: GenerationCheck[] = [];
  // Shared by the workers: the first provider error stops them all.
  const state: { failed: string | null } = { failed: null };
  const queue = [...withId];
  const worker = async (): Promise<void> => {
    for (let row = queue.shift(); row !== undefined && state.failed === null; row = queue.shift()) {
      const api = await apiFor(row);
      if (api === null) {
        checks.push({ row, providerNanos: null, cancelled: false });
        continue;
      }
      try {
        checks.push(await lookup(api, row, run));
      } catch (err) {
        if (!(err instanceof ProviderApiError)) throw err;
        state.failed = err.message;
      }
    }
  };
  await Promise.all(Array.from({ length: run.opts.concurrency ?? 4 }, worker));
  if (state.failed !== null) run.notes.push(`OpenRouter generations were not all compared: ${state.failed}`);
  checks.sort((a, b) => a.row.id - b.row.id);
  run.lines.push(...generationDrift(checks));
  const missing = checks.filter((c) => c.providerNanos === null).length;
  if (missing > 0) run.notes.push(`${missing} OpenRouter generation(s) unknown to OpenRouter (deleted key, or not stored yet)`);
  run.applied.push(...await applyCorrections(run.store, corrections(checks), run.opts.channel, 'OpenRouter', run.now));
}

/** Each OpenRouter key spendcap created: its usage at OpenRouter beside what the ledger charged the key (after corrections). */
async function openRouterKeyUsage(run: Run): Promise<void> {
  const links = await listProviderKeys(run.store);
  if (links.length === 0) return;
  const token = await adminKeyOf(run.store, run.masterKey, 'openrouter');
  if (token === null) {
    run.notes.push('OpenRouter key usage not compared: no management key stored (spendcap provider-admin add openrouter --management-key -)');
    return;
  }
  const api = new OpenRouterApi({ base: openRouterBase(run.opts.env), token });
  const names = new Map((await run.store.keys.list()).map((k) => [k.id, k.name]));
  for (const l of links) {
    try {
      const info = await api.getKey(l.hash);
      run.lines.push(keyUsageDrift(names.get(l.keyId) ?? `#${l.keyId}`, await keyLifetimeNanos(run.store, l.keyId), info.usageNanos));
    } catch (err) {
      if (!(err instanceof ProviderApiError)) throw err;
      run.notes.push(`OpenRouter key of "${names.get(l.keyId) ?? l.keyId}" not compared: ${err.message}`);
    }
  }
}

/** Anthropic's or OpenAI's organization cost per UTC day beside the ledger's rows of that provider. */
async function accountReport(run: Run, provider: 'anthropic' | 'openai'): Promise<void> {
  const key = await adminKeyOf(run.store, run.masterKey, provider);
  if (key === null) return;
  try {
    const reported = provider === 'anthropic' ? await anthropicDailyCost(key, run.opts.sinceMs, run.opts.env) : await openaiDailyCost(key, run.opts.sinceMs, run.opts.env);
    const ledger = sumByUtcDay(await providerRows(run.store, provider, run.opts.sinceMs));
    run.lines.push(...dailyDrift(provider, provider, ledger, reported));
  } catch (err) {
    if (!(err instanceof ProviderApiError)) throw err;
    run.notes.push(`${provider} not compared: ${err.message}`);
  }
}

/** One line of the human report. */
export function describeLine(l: DriftLine): string {
  const sign = l.driftNanos > 0 ? '+' : '';
  return `${(l.day ?? 'all time').padEnd(10)}  ${l.source.padEnd(21)} ${l.subject.padEnd(16)} ledger ${formatUsd(l.ledgerNanos).padStart(11)}  provider ${formatUsd(l.providerNanos).padStart(11)}  drift ${sign}${formatUsd(l.driftNanos)}${l.missing > 0 ? `  (${l.missing} of ${l.rows} unknown)` : ''}`;
}
