import {
  cacheWrite1hFrom5m,
  compareRates,
  defaultCacheRead,
  defaultCacheWrite1h,
  defaultCacheWrite5m,
  loadCatalogue,
} from './catalogue.js';
import type { CatalogueModel } from './catalogue.js';
import { UnknownModelError } from './errors.js';
import type { ModelRates, PriceSource, ProviderId, ResolvedPrice } from './types.js';

/** A user-set price, integer n$/Mtok. cacheWrite is the 5-minute write. */
export interface PriceOverride {
  model: string;
  input: number;
  output: number;
  cacheRead?: number;
  cacheWrite?: number;
}

export interface PriceBookOptions {
  overrides?: readonly PriceOverride[];
  /** Clock for date-conditional catalogue prices; tests pin it. */
  now?: () => Date;
}

export interface KnownModel {
  id: string;
  source: Exclude<PriceSource, 'family-fallback'>;
  deprecated: boolean;
  rates: ModelRates;
}

/** Model families per provider: a family word must be a whole dash-separated part of the id. */
const CLAUDE_FAMILIES = ['opus', 'sonnet', 'haiku', 'fable', 'mythos'];
const FAMILIES: Readonly<Record<ProviderId, readonly string[]>> = {
  anthropic: CLAUDE_FAMILIES,
  openai: ['gpt', 'o1', 'o3', 'o4', 'codex'],
  gemini: ['pro', 'flash', 'ultra'],
  // OpenRouter ids name the maker's model ("anthropic/claude-opus-5"): the makers' families apply.
  openrouter: [...CLAUDE_FAMILIES, 'gpt', 'gemini', 'llama', 'mistral', 'deepseek', 'qwen', 'grok'],
  'openai-compatible': [],
};

/** $1M/Mtok: far above any real price, keeps every derived rate a safe integer. */
const MAX_RATE = 1_000_000_000_000_000;
/** Model ids come from request bodies: bound the cache so junk ids cannot grow it forever. */
const MAX_CACHE = 4096;
const DATE_SUFFIX = /[-@]\d{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$/;

const normalise = (model: string): string => model.trim().toLowerCase();

function familiesOf(provider: ProviderId, idLower: string): string[] {
  const words = FAMILIES[provider] ?? [];
  return idLower.split(/[^a-z0-9]+/).filter((part) => words.includes(part));
}

function checkRate(model: string, field: string, v: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isSafeInteger(v) || v < 0 || v > MAX_RATE) {
    throw new RangeError(`price override for "${model}": ${field} must be an integer number of n$ per Mtok in [0, ${MAX_RATE}], got ${String(v)}`);
  }
}

function overrideRates(o: PriceOverride): ModelRates {
  return Object.freeze({
    input: o.input,
    output: o.output,
    cacheRead: o.cacheRead ?? defaultCacheRead(o.input),
    cacheWrite5m: o.cacheWrite ?? defaultCacheWrite5m(o.input),
    cacheWrite1h: o.cacheWrite !== undefined ? cacheWrite1hFrom5m(o.cacheWrite) : defaultCacheWrite1h(o.input),
  });
}

interface Entry {
  value: ResolvedPrice | UnknownModelError;
  /** [validFrom, validUntil) epoch ms: date-conditional prices change at fixed instants. */
  validFrom: number;
  validUntil: number;
}

/**
 * Resolves a request's model to integer rates: user override, then the genai-prices
 * catalogue, then the dearest known model of the same family (estimated). Otherwise an
 * UnknownModelError is returned, never a $0 price.
 */
export class PriceBook {
  readonly #now: () => number;
  #overrides = new Map<string, { id: string; rates: ModelRates }>();
  readonly #catalogues = new Map<ProviderId, readonly CatalogueModel[]>();
  readonly #cache = new Map<string, Entry>();

  constructor(options: PriceBookOptions = {}) {
    const clock = options.now;
    this.#now = clock
      ? () => {
          const t = clock().getTime();
          return Number.isNaN(t) ? Date.now() : t;
        }
      : Date.now;
    this.setOverrides(options.overrides ?? []);
  }

  /** Replaces all overrides (later duplicates win). Throws RangeError on a bad price, changing nothing. */
  setOverrides(list: readonly PriceOverride[]): void {
    const next = new Map<string, { id: string; rates: ModelRates }>();
    for (const o of list) {
      const id = o.model.trim();
      if (id === '') throw new RangeError('price override with an empty model id');
      checkRate(id, 'input', o.input);
      checkRate(id, 'output', o.output);
      checkRate(id, 'cacheRead', o.cacheRead);
      checkRate(id, 'cacheWrite', o.cacheWrite);
      next.set(id.toLowerCase(), { id, rates: overrideRates(o) });
    }
    this.#overrides = next;
    this.#cache.clear();
  }

  /** Hot path: a Map hit plus one clock read. Returns, never throws, the unknown-model error. */
  resolve(provider: ProviderId, model: string): ResolvedPrice | UnknownModelError {
    const now = this.#now();
    const key = `${provider}\u0000${model}`;
    const hit = this.#cache.get(key);
    if (hit !== undefined && now >= hit.validFrom && now < hit.validUntil) return hit.value;
    const entry = this.#compute(provider, model, now);
    if (this.#cache.size >= MAX_CACHE) this.#cache.clear();
    this.#cache.set(key, entry);
    return entry.value;
  }

  /** Overrides, then priced catalogue models (those not shadowed by an override), rates as of now. */
  listKnown(provider: ProviderId): KnownModel[] {
    const now = this.#now();
    const out: KnownModel[] = [...this.#overrides.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((o) => ({ id: o.id, source: 'override', deprecated: false, rates: o.rates }));
    for (const m of this.#catalogue(provider)) {
      if (this.#overrides.has(m.id.toLowerCase())) continue;
      const { rates } = m.ratesAt(now);
      if (rates) out.push({ id: m.id, source: 'catalogue', deprecated: m.deprecated, rates });
    }
    return out;
  }

  #catalogue(provider: ProviderId): readonly CatalogueModel[] {
    let c = this.#catalogues.get(provider);
    if (c === undefined) {
      c = loadCatalogue(provider);
      this.#catalogues.set(provider, c);
    }
    return c;
  }

  #compute(provider: ProviderId, model: string, now: number): Entry {
    const id = normalise(model);
    const forever = { validFrom: -Infinity, validUntil: Infinity };
    const resolved = (pricedAs: string, source: PriceSource, rates: ModelRates): ResolvedPrice =>
      Object.freeze({ model, pricedAs, source, estimated: source === 'family-fallback', rates });

    // (a) user override: exact id, or the id without its -YYYYMMDD / @YYYYMMDD suffix.
    const ov = this.#overrides.get(id) ?? this.#overrides.get(id.replace(DATE_SUFFIX, ''));
    if (ov) return { value: resolved(ov.id, 'override', ov.rates), ...forever };

    const catalogue = this.#catalogue(provider);
    // (b) catalogue match logic (first match wins).
    const known = catalogue.find((m) => m.matches(id));
    if (known) {
      const at = known.ratesAt(now);
      // Listed but unpriced: refuse rather than guess from the family.
      const value = at.rates ? resolved(known.id, 'catalogue', at.rates) : new UnknownModelError(provider, model);
      return { value, validFrom: at.validFrom, validUntil: at.validUntil };
    }

    // (c) family fallback: the dearest priced model sharing a family word.
    const families = familiesOf(provider, id);
    let validFrom = -Infinity;
    let validUntil = Infinity;
    let best: { id: string; rates: ModelRates } | null = null;
    if (families.length > 0) {
      for (const m of catalogue) {
        if (!familiesOf(provider, m.id.toLowerCase()).some((f) => families.includes(f))) continue;
        const at = m.ratesAt(now);
        validFrom = Math.max(validFrom, at.validFrom);
        validUntil = Math.min(validUntil, at.validUntil);
        if (!at.rates) continue;
        const c = best === null ? 1 : compareRates(at.rates, best.rates) || (m.id > best.id ? 1 : -1);
        // Ties: the lexically greatest id, so the choice is stable across catalogue reorderings.
        if (c > 0) best = { id: m.id, rates: at.rates };
      }
    }
    const value = best ? resolved(best.id, 'family-fallback', best.rates) : new UnknownModelError(provider, model);
    return { value, validFrom, validUntil };
  }
}
