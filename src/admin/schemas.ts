import { z } from 'zod';
import { AUTOTUNE_MODES, PERIODS } from '../store/index.js';
import type { AutotuneMode } from '../store/index.js';
import { PROVIDER_IDS } from '../pricing/index.js';
import type { ProviderId } from '../pricing/index.js';

/** The answer to a bad request: what is wrong and which field, so a UI can point at it. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Largest dollar amount accepted anywhere: keeps every n$ figure a safe integer with room to add. */
const MAX_USD = 1_000_000;

const usd = z
  .number({ error: 'must be a dollar amount (a JSON number, e.g. 15 or 0.5)' })
  .min(0, { error: 'must be ≥ 0' })
  .max(MAX_USD, { error: `must be ≤ ${MAX_USD}` });
const usdOrNull = usd.nullable();
const positiveUsd = usd.refine((n) => n > 0, { error: 'must be > 0' });
const period = z.enum(PERIODS as [string, ...string[]], { error: `must be one of ${PERIODS.join(', ')}` });
const mode = z.enum(['hard', 'soft'], { error: 'must be hard or soft' });
const autotune = z.enum(AUTOTUNE_MODES as [AutotuneMode, ...AutotuneMode[]], { error: `must be one of ${AUTOTUNE_MODES.join(', ')}` });
const name = z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'must be 1–64 letters, digits, dots, dashes or underscores' });

export const createBudgetSchema = z.strictObject({
  name,
  scope: z.enum(['global', 'tag'], { error: 'must be global or tag (key budgets are created with their key: spendcap key add)' }),
  cap: usd,
  period: period.default('day'),
  mode: mode.default('hard'),
  ceiling: usdOrNull.default(null),
  clamp: z.boolean({ error: 'must be true or false' }).default(false),
  autotune: autotune.default('off'),
});
export type CreateBudgetBody = z.infer<typeof createBudgetSchema>;

export const updateBudgetSchema = z
  .strictObject({
    cap: usd.optional(),
    period: period.optional(),
    mode: mode.optional(),
    ceiling: usdOrNull.optional(),
    sessionCap: usdOrNull.optional(),
    clamp: z.boolean({ error: 'must be true or false' }).optional(),
    autotune: autotune.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { error: 'give at least one of cap, period, mode, ceiling, sessionCap, clamp, autotune' });
export type UpdateBudgetBody = z.infer<typeof updateBudgetSchema>;

/** Exactly one of add, double, toCeiling: the same three ways as `spendcap lift`. */
export const liftSchema = z
  .strictObject({
    add: positiveUsd.optional(),
    double: z.literal(true, { error: 'must be true' }).optional(),
    toCeiling: z.literal(true, { error: 'must be true' }).optional(),
  })
  .refine((b) => [b.add !== undefined, b.double === true, b.toCeiling === true].filter(Boolean).length === 1, {
    error: 'give exactly one of add (dollars), double: true, toCeiling: true',
    path: ['add'],
  });
export type LiftBody = z.infer<typeof liftSchema>;

/** POST /api/keys: the fields of `spendcap key add`; src/keys checks the rest (provider, base URL, ceiling ≥ cap). */
export const createKeySchema = z.strictObject({
  name,
  // Every provider `spendcap key add` takes: one list (src/pricing), so the two cannot drift.
  provider: z.enum(PROVIDER_IDS as [ProviderId, ...ProviderId[]], { error: `must be one of ${PROVIDER_IDS.join(', ')}` }).default('anthropic'),
  providerKey: z.string({ error: "must be the provider's API key (a string)" }).min(1, { error: 'is required' }).max(4096, { error: 'is too long' }),
  capUsd: usd,
  period: period.default('day'),
  sessionCapUsd: usdOrNull.default(null),
  ceilingUsd: usdOrNull.default(null),
  mode: mode.default('hard'),
  clamp: z.boolean({ error: 'must be true or false' }).default(false),
  baseUrl: z.string({ error: 'must be a URL (a string)' }).max(2048, { error: 'is too long' }).optional(),
});
export type CreateKeyBody = z.infer<typeof createKeySchema>;

/** PATCH /api/settings: the same four settings as `spendcap settings`; null resets to the default. */
export const settingsPatchSchema = z
  .strictObject({
    timeZone: z.string({ error: 'must be an IANA zone name or null' }).max(100).nullable().optional(),
    thresholds: z.array(z.number({ error: 'must be whole percentages' }).int({ error: 'must be whole percentages' }).min(1, { error: 'must be 1–1000' }).max(1000, { error: 'must be 1–1000' }), { error: 'must be a list of percentages, e.g. [50, 80, 100]' }).max(20).optional(),
    retainDays: z.number({ error: 'must be a whole number of days' }).int({ error: 'must be a whole number of days' }).min(14, { error: 'must be ≥ 14 (auto-tune reads the last 14 days)' }).max(100_000).optional(),
    defaultSessionCapUsd: usdOrNull.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { error: 'give at least one of timeZone, thresholds, retainDays, defaultSessionCapUsd' });
export type SettingsPatchBody = z.infer<typeof settingsPatchSchema>;

/** Kill and unkill take no fields; an empty body or {} is fine. */
export const emptySchema = z.strictObject({});

/** USD per million tokens, as `spendcap price set` takes them. */
const perMtok = z
  .number({ error: 'must be dollars per million tokens (a JSON number)' })
  .min(0, { error: 'must be ≥ 0' })
  .max(1_000_000, { error: 'must be ≤ 1000000' });
export const priceSchema = z.strictObject({
  input: perMtok,
  output: perMtok,
  cacheRead: perMtok.nullable().default(null),
  cacheWrite: perMtok.nullable().default(null),
});
export type PriceBody = z.infer<typeof priceSchema>;

/** A time bound in a query: ISO 8601 or epoch milliseconds. */
const instant = z.string().transform((s, ctx) => {
  const t = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(t)) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 time (2026-01-31 or 2026-01-31T12:00:00Z) or epoch milliseconds' });
    return z.NEVER;
  }
  return t;
});
const int = (min: number, max: number, dflt: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().min(min, { error: `must be ≥ ${min}` }).max(max, { error: `must be ≤ ${max}` }))
    .default(dflt);

export const pageQuerySchema = z.strictObject({
  limit: int(1, 1000, 50),
  offset: int(0, Number.MAX_SAFE_INTEGER, 0),
  since: instant.optional(),
  until: instant.optional(),
});
export const usageQuerySchema = pageQuerySchema.extend({ key: z.string().optional(), budget: z.string().optional(), outcome: z.enum(['ok', 'cut', 'blocked', 'error'], { error: 'must be ok, cut, blocked or error' }).optional() });
const EVENT_CHANNELS = ['web', 'cli', 'api', 'slack', 'telegram', 'auto'] as const;
export const eventsQuerySchema = pageQuerySchema.extend({ budget: z.string().optional(), kind: z.string().optional(), channel: z.enum(EVENT_CHANNELS, { error: `must be one of ${EVENT_CHANNELS.join(', ')}` }).optional() });
export const statsQuerySchema = z.strictObject({ since: instant.optional(), until: instant.optional(), key: z.string().optional() });
export const badgeQuerySchema = z.strictObject({ token: z.string().optional(), label: z.string().max(40, { error: 'must be at most 40 characters' }).optional() });
export const emptyQuerySchema = z.strictObject({ token: z.string().optional() });

/** The first problem zod found, as an ApiError naming the field (dotted path; the unknown key for strict objects). */
export function toApiError(error: z.ZodError, where: 'body' | 'query', input?: unknown): ApiError {
  const issue = error.issues[0];
  if (issue === undefined) return new ApiError(400, `invalid ${where}`);
  if (issue.path.length === 0 && issue.code === 'invalid_type') return new ApiError(400, `the ${where} must be a JSON object`, null);
  let field = issue.path.map(String).join('.');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    field = field ? `${field}.${key}` : key;
    message = where === 'query' ? 'is not a parameter of this endpoint' : 'is not a field of this request';
  } else if (issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined) {
    message = 'is required';
  }
  return new ApiError(400, `${field || where}: ${message}`, field || null);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

export function parseWith<S extends z.ZodType>(schema: S, input: unknown, where: 'body' | 'query'): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw toApiError(r.error, where, input);
  return r.data;
}

/** A query string as a plain object; a repeated parameter is an error (which one would count?). */
export function queryObject(query: string): Record<string, string> {
  const params = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query);
  const out: Record<string, string> = {};
  for (const [k, v] of params) {
    if (Object.hasOwn(out, k)) throw new ApiError(400, `${k}: given more than once`, k);
    out[k] = v;
  }
  return out;
}
