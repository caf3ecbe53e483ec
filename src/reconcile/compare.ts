// Pure comparisons of the ledger with what providers report. No I/O: the runner (run.ts) fetches,
// these decide what drifted and what to correct.
import type { Nanos } from '../pricing/index.js';

/** The ledger fields reconciliation reads. */
export interface LedgerCost {
  id: number;
  ts: number;
  requestId: string;
  keyId: number;
  keyName: string;
  provider: string;
  costNanos: Nanos;
}

/** One OpenRouter row beside OpenRouter's final figure for its generation (null: OpenRouter does not know it). */
export interface GenerationCheck {
  row: LedgerCost;
  providerNanos: Nanos | null;
  cancelled: boolean;
}

/** A ledger row set to the provider's figure. */
export interface Correction {
  rowId: number;
  requestId: string;
  keyName: string;
  day: string;
  fromNanos: Nanos;
  toNanos: Nanos;
  cancelled: boolean;
}

export type DriftSource = 'openrouter-generation' | 'openrouter-key' | 'anthropic' | 'openai';

/** Drift of one key (or one provider account) on one day: positive = the provider billed more than the ledger says. */
export interface DriftLine {
  source: DriftSource;
  /** A spendcap key name, or the provider for account-wide reports (Anthropic, OpenAI). */
  subject: string;
  /** UTC day (providers bucket by UTC), or null for a key's whole life (OpenRouter key usage). */
  day: string | null;
  ledgerNanos: Nanos;
  providerNanos: Nanos;
  driftNanos: Nanos;
  /** Rows compared, and rows the provider had no figure for. */
  rows: number;
  missing: number;
}

/** The UTC calendar day of an epoch-ms time, "YYYY-MM-DD". */
export function utcDay(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}

/** Rows whose charge differs from OpenRouter's final figure become corrections to that figure. */
export function corrections(checks: readonly GenerationCheck[]): Correction[] {
  const out: Correction[] = [];
  for (const c of checks) {
    if (c.providerNanos === null || c.providerNanos === c.row.costNanos) continue;
    out.push({ rowId: c.row.id, requestId: c.row.requestId, keyName: c.row.keyName, day: utcDay(c.row.ts), fromNanos: c.row.costNanos, toNanos: c.providerNanos, cancelled: c.cancelled });
  }
  return out;
}

/** Per key and UTC day: the ledger's sum beside OpenRouter's, for the rows OpenRouter knows. */
export function generationDrift(checks: readonly GenerationCheck[]): DriftLine[] {
  const lines = new Map<string, DriftLine>();
  for (const c of checks) {
    const day = utcDay(c.row.ts);
    const k = `${c.row.keyName}\u0000${day}`;
    let l = lines.get(k);
    if (l === undefined) {
      l = { source: 'openrouter-generation', subject: c.row.keyName, day, ledgerNanos: 0, providerNanos: 0, driftNanos: 0, rows: 0, missing: 0 };
      lines.set(k, l);
    }
    l.rows++;
    if (c.providerNanos === null) {
      l.missing++;
      continue;
    }
    l.ledgerNanos += c.row.costNanos;
    l.providerNanos += c.providerNanos;
    l.driftNanos = l.providerNanos - l.ledgerNanos;
  }
  return [...lines.values()].sort((a, b) => (a.day ?? '').localeCompare(b.day ?? '') || a.subject.localeCompare(b.subject));
}

/** A provider's daily totals beside the ledger's for the same provider: one line per day either side has. */
export function dailyDrift(source: DriftSource, subject: string, ledger: ReadonlyMap<string, Nanos>, provider: ReadonlyMap<string, Nanos>): DriftLine[] {
  const days = [...new Set([...ledger.keys(), ...provider.keys()])].sort();
  return days.map((day) => {
    const l = ledger.get(day) ?? 0;
    const p = provider.get(day) ?? 0;
    return { source, subject, day, ledgerNanos: l, providerNanos: p, driftNanos: p - l, rows: 0, missing: 0 };
  });
}

/** An OpenRouter key's lifetime usage beside what the ledger charged its spendcap key. */
export function keyUsageDrift(keyName: string, ledgerNanos: Nanos, providerUsageNanos: Nanos): DriftLine {
  return { source: 'openrouter-key', subject: keyName, day: null, ledgerNanos, providerNanos: providerUsageNanos, driftNanos: providerUsageNanos - ledgerNanos, rows: 0, missing: 0 };
}

/** Sums rows per UTC day (the ledger side of an account-wide daily report). */
export function sumByUtcDay(rows: readonly { ts: number; costNanos: Nanos }[]): Map<string, Nanos> {
  const out = new Map<string, Nanos>();
  for (const r of rows) out.set(utcDay(r.ts), (out.get(utcDay(r.ts)) ?? 0) + r.costNanos);
  return out;
}
