import { findProvider } from '@pydantic/genai-prices';
import type { MatchLogic, ModelInfo, ModelPrice } from '@pydantic/genai-prices';
import { usdToNanos } from './money.js';
import type { ModelRates, ProviderId, RateCard } from './types.js';

// ---- default multipliers (Anthropic's), on integer n$/Mtok -------------------------------

export const defaultCacheRead = (input: number): number => Math.round(input / 10);
export const defaultCacheWrite5m = (input: number): number => Math.round((input * 5) / 4);
export const defaultCacheWrite1h = (input: number): number => input * 2;
/** 1h write from a given 5-minute write price (2 / 1.25). */
export const cacheWrite1hFrom5m = (cacheWrite5m: number): number => Math.round((cacheWrite5m * 8) / 5);

// ---- ordering --------------------------------------------------------------------------

/** > 0 when a is dearer: output, then input, then long-context rates, then cache rates. */
export function compareRates(a: ModelRates, b: ModelRates): number {
  const keys = (r: ModelRates): number[] => {
    const lc = r.longContext ?? r;
    return [r.output, r.input, lc.output, lc.input, r.cacheWrite1h, r.cacheWrite5m, r.cacheRead, lc.cacheWrite1h, lc.cacheWrite5m, lc.cacheRead];
  };
  const ka = keys(a);
  const kb = keys(b);
  for (let i = 0; i < ka.length; i++) {
    const d = (ka[i] ?? 0) - (kb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function dearest(list: readonly ModelRates[]): ModelRates | null {
  let best: ModelRates | null = null;
  for (const r of list) if (best === null || compareRates(r, best) > 0) best = r;
  return best;
}

// ---- price conversion ------------------------------------------------------------------

interface Field {
  base: number;
  /** Highest tier price (n$/Mtok) and lowest tier start; null when flat. */
  tier: { start: number; price: number } | null;
}

const isUsdRate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** undefined = absent, null = present but malformed. */
function readField(v: unknown): Field | undefined | null {
  if (v === undefined) return undefined;
  if (isUsdRate(v)) return { base: usdToNanos(v), tier: null };
  if (typeof v !== 'object' || v === null) return null;
  const { base, tiers } = v as { base?: unknown; tiers?: unknown };
  if (!isUsdRate(base) || !Array.isArray(tiers)) return null;
  let start = Infinity;
  let price = -1;
  for (const t of tiers as unknown[]) {
    if (typeof t !== 'object' || t === null) return null;
    const { start: s, price: p } = t as { start?: unknown; price?: unknown };
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 0 || !isUsdRate(p)) return null;
    start = Math.min(start, s);
    price = Math.max(price, usdToNanos(p));
  }
  return { base: usdToNanos(base), tier: price < 0 ? null : { start, price } };
}

/**
 * One genai-prices ModelPrice → our ModelRates, or null when it cannot be priced
 * (no input or output price, or malformed): never $0 by accident.
 * Several tiers, or tiers at different starts per field, collapse conservatively into
 * one long-context card: lowest start, highest tier price.
 */
export function modelPriceToRates(p: ModelPrice): ModelRates | null {
  const input = readField(p['input_mtok']);
  const output = readField(p['output_mtok']);
  const read = readField(p['cache_read_mtok']);
  const w5m = readField(p['cache_write_mtok']);
  const w1h = readField(p['cache_write_1h_mtok']);
  if (!input || !output || read === null || w5m === null || w1h === null) return null;

  const card = (pick: (f: Field) => number): RateCard => {
    const inRate = pick(input);
    return {
      input: inRate,
      output: pick(output),
      cacheRead: read ? pick(read) : defaultCacheRead(inRate),
      cacheWrite5m: w5m ? pick(w5m) : defaultCacheWrite5m(inRate),
      cacheWrite1h: w1h ? pick(w1h) : defaultCacheWrite1h(inRate),
    };
  };
  const rates: ModelRates = card((f) => f.base);
  const starts = [input, output, read, w5m, w1h].flatMap((f) => (f?.tier ? [f.tier.start] : []));
  if (starts.length > 0) {
    rates.longContext = Object.freeze({ thresholdTokens: Math.min(...starts), ...card((f) => f.tier?.price ?? f.base) });
  }
  return Object.freeze(rates);
}

// ---- conditional prices ----------------------------------------------------------------

export interface RatesAt {
  /** null: the catalogue lists the model but gives no usable price at this time. */
  rates: ModelRates | null;
  /** [validFrom, validUntil) in epoch ms: the same answer holds for any time in it. */
  validFrom: number;
  validUntil: number;
}

type Schedule =
  | { kind: 'flat'; rates: ModelRates | null }
  | {
      kind: 'dated';
      /** Dearest unconstrained entry; undefined when there is none. */
      open: ModelRates | null | undefined;
      /** Ascending by start. */
      dated: { start: number; rates: ModelRates | null }[];
      /** time_of_date entries (priced ones): their hours may apply any day, so always compete. */
      timed: ModelRates[];
    };

function buildSchedule(prices: ModelInfo['prices']): Schedule {
  if (!Array.isArray(prices)) return { kind: 'flat', rates: modelPriceToRates(prices) };
  const open: (ModelRates | null)[] = [];
  const dated: { start: number; rates: ModelRates | null }[] = [];
  const timed: ModelRates[] = [];
  for (const cp of prices) {
    const rates = modelPriceToRates(cp.prices);
    const c = cp.constraint;
    if (c === undefined) open.push(rates);
    else if (c.type === 'start_date') {
      const start = Date.parse(`${c.start_date}T00:00:00Z`); // UTC midnight, as genai-prices does
      if (!Number.isNaN(start)) dated.push({ start, rates });
    } else if (rates) timed.push(rates);
  }
  dated.sort((a, b) => a.start - b.start);
  const openRates = open.length === 0 ? undefined : open.includes(null) ? null : dearest(open as ModelRates[]);
  return { kind: 'dated', open: openRates, dated, timed };
}

function scheduleAt(s: Schedule, at: number): RatesAt {
  if (s.kind === 'flat') return { rates: s.rates, validFrom: -Infinity, validUntil: Infinity };
  let i = -1;
  while (i + 1 < s.dated.length && (s.dated[i + 1]?.start ?? Infinity) <= at) i++;
  const validFrom = i >= 0 ? (s.dated[i]?.start ?? -Infinity) : -Infinity;
  const validUntil = s.dated[i + 1]?.start ?? Infinity;
  let base: ModelRates | null | undefined = i >= 0 ? s.dated[i]?.rates : s.open;
  // Only future-dated entries and no open one: charge the dearest of them rather than guess.
  if (base === undefined && i < 0 && s.dated.length > 0) {
    base = s.dated.some((d) => d.rates === null) ? null : dearest(s.dated.map((d) => d.rates as ModelRates));
  }
  if (base === null) return { rates: null, validFrom, validUntil };
  return { rates: dearest(base ? [base, ...s.timed] : s.timed), validFrom, validUntil };
}

/**
 * A model's prices over time. Conditional prices: the latest start_date ≤ at, else the
 * unconstrained entry; time_of_date entries always compete and the dearest wins.
 */
export function priceSchedule(prices: ModelInfo['prices']): (atMs: number) => RatesAt {
  const s = buildSchedule(prices);
  return (at) => scheduleAt(s, at);
}

// ---- match logic -----------------------------------------------------------------------

export type Matcher = (modelLower: string) => boolean;

/**
 * True when `rest` continues a version number ending `prefix`: "claude-sonnet-5" must not
 * swallow "claude-sonnet-5-7" / "-5.5" / "-50" (unknown, maybe dearer), while dated ids
 * ("-20250929", "claude-sonnet-4-2025"+"0514") and "@…", "-latest" suffixes still match.
 */
function extendsVersion(prefix: string, rest: string): boolean {
  const tail = /\d+$/.exec(prefix);
  if (!tail) return false;
  const lead = /^\d+/.exec(rest);
  if (lead) return tail[0].length + lead[0].length < 8;
  return /^[-.]\d{1,2}(?!\d)/.test(rest);
}

/**
 * genai-prices MatchLogic → predicate over a lower-cased, trimmed model id (case-insensitive
 * like genai-prices), except that starts_with refuses to extend a version number.
 */
export function compileMatch(logic: MatchLogic): Matcher {
  if ('or' in logic) {
    const ms = logic.or.map(compileMatch);
    return (id) => ms.some((m) => m(id));
  }
  if ('and' in logic) {
    const ms = logic.and.map(compileMatch);
    return (id) => ms.every((m) => m(id));
  }
  if ('equals' in logic) {
    const s = logic.equals.toLowerCase();
    return (id) => id === s;
  }
  if ('starts_with' in logic) {
    const s = logic.starts_with.toLowerCase();
    return (id) => id.startsWith(s) && !extendsVersion(s, id.slice(s.length));
  }
  if ('ends_with' in logic) {
    const s = logic.ends_with.toLowerCase();
    return (id) => id.endsWith(s);
  }
  if ('contains' in logic) {
    const s = logic.contains.toLowerCase();
    return (id) => id.includes(s);
  }
  if ('regex' in logic) {
    let re: RegExp;
    try {
      re = new RegExp(logic.regex);
    } catch {
      return () => false;
    }
    return (id) => re.test(id);
  }
  return () => false;
}

// ---- catalogue -------------------------------------------------------------------------

export interface CatalogueModel {
  readonly id: string;
  readonly deprecated: boolean;
  readonly matches: Matcher;
  ratesAt(atMs: number): RatesAt;
}

/** The provider's models, in genai-prices order (first match wins, as in genai-prices). */
/** genai-prices' provider ids; a generic OpenAI-compatible endpoint has no catalogue (user prices only). */
const CATALOGUE_PROVIDER: Readonly<Record<ProviderId, string | null>> = {
  anthropic: 'anthropic',
  openai: 'openai',
  gemini: 'google',
  openrouter: 'openrouter',
  'openai-compatible': null,
};

export function loadCatalogue(provider: ProviderId): readonly CatalogueModel[] {
  const providerId = CATALOGUE_PROVIDER[provider];
  if (providerId === null) return [];
  const p = findProvider({ providerId });
  if (!p) return [];
  return p.models.map(
    (m): CatalogueModel =>
      Object.freeze({
        id: m.id,
        deprecated: m.deprecated === true,
        matches: compileMatch(m.match),
        ratesAt: priceSchedule(m.prices),
      }),
  );
}
