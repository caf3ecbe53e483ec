import { formatUsd } from '../pricing/index.js';
import type { Nanos } from '../pricing/index.js';
import { AUTOTUNE_MODES, PERIODS, StoreError } from '../store/index.js';
import type { AutotuneMode, BudgetMode, BudgetRecord, EventChannel, EventRecord, Period, Store } from '../store/index.js';

/**
 * The one place budget actions happen: the CLI, the admin API and the web page call these, with
 * their channel. Each action and its event row are one transaction; the event keeps the cap before
 * and after. A running server sees the change on its next request (PRAGMA data_version).
 */

export interface ActionResult {
  before: BudgetRecord | null;
  after: BudgetRecord | null;
  event: EventRecord;
}

export type LiftHow = { add: Nanos } | { double: true } | { toCeiling: true };

export interface CapChanges {
  capNanos?: Nanos;
  period?: Period;
  /** null removes the ceiling. */
  ceilingNanos?: Nanos | null;
  /** null removes the key's own session cap (the global default then applies). Key budgets only. */
  sessionCapNanos?: Nanos | null;
  mode?: BudgetMode;
  clamp?: boolean;
  autotune?: AutotuneMode;
}

export interface NewBudget {
  name: string;
  scope: 'global' | 'tag';
  capNanos: Nanos;
  period?: Period;
  mode?: BudgetMode;
  ceilingNanos?: Nanos | null;
  clamp?: boolean;
  autotune?: AutotuneMode;
}

export interface ActionOptions {
  /** Free text kept in the event (e.g. who asked, from the chat adapters). */
  detail?: string;
  /** Epoch ms of the event (tests). */
  now?: number;
}

export const BUDGET_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateBudgetName(name: string): string {
  if (!BUDGET_NAME_RE.test(name)) throw new StoreError('E_INVALID', `name "${name}" must be 1–64 letters, digits, dots, dashes or underscores, starting with a letter or digit`);
  return name;
}

function checkNanos(value: unknown, what: string): Nanos {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new StoreError('E_INVALID', `${what} must be a whole number of nano-dollars ≥ 0; got ${String(value)}`);
  return value;
}

function checkPeriod(p: unknown): Period {
  if (typeof p === 'string' && (PERIODS as readonly string[]).includes(p)) return p as Period;
  throw new StoreError('E_INVALID', `period must be one of ${PERIODS.join(', ')}; got "${String(p)}"`);
}

function checkMode(m: unknown): BudgetMode {
  if (m === 'hard' || m === 'soft') return m;
  throw new StoreError('E_INVALID', `mode must be hard or soft; got "${String(m)}"`);
}

function checkAutotune(m: unknown): AutotuneMode {
  if (typeof m === 'string' && (AUTOTUNE_MODES as readonly string[]).includes(m)) return m as AutotuneMode;
  throw new StoreError('E_INVALID', `autotune must be one of ${AUTOTUNE_MODES.join(', ')}; got "${String(m)}"`);
}

/** The rules every stored budget keeps, whichever action made it. */
function checkBudget(b: BudgetRecord): BudgetRecord {
  if (b.ceilingNanos !== null && b.capNanos > b.ceilingNanos) {
    throw new StoreError('E_INVALID', `the cap of "${b.name}" (${formatUsd(b.capNanos)}) would pass its ceiling of ${formatUsd(b.ceilingNanos)}; raise the ceiling first (cap set ${b.name} … --ceiling USD)`);
  }
  if (b.autotune === 'creep' && b.ceilingNanos === null) {
    throw new StoreError('E_INVALID', `auto-tune "creep" raises the cap of "${b.name}" by itself, so it needs a ceiling to stay under: cap set ${b.name} ${b.capNanos / 1e9} --ceiling USD`);
  }
  if (b.scope !== 'key' && b.sessionCapNanos !== null) throw new StoreError('E_INVALID', `session caps belong to keys; "${b.name}" is a ${b.scope} budget`);
  return b;
}

/** Stops a budget now: new requests are refused and open streams on it are cut (hard mode). */
export async function killBudget(store: Store, name: string, channel: EventChannel, opts: ActionOptions = {}): Promise<ActionResult> {
  return store.budgets.change(name, (b) => ({ ...b, killed: true }), { kind: 'kill', channel, detail: opts.detail ?? null, ...(opts.now ? { ts: opts.now } : {}) });
}

/** Re-opens a killed budget. Also clears a reached cap in a running server (it reloads the budget). */
export async function unkillBudget(store: Store, name: string, channel: EventChannel, opts: ActionOptions = {}): Promise<ActionResult> {
  return store.budgets.change(name, (b) => ({ ...b, killed: false }), { kind: 'unkill', channel, detail: opts.detail ?? null, ...(opts.now ? { ts: opts.now } : {}) });
}

/** Raises the cap (never past the ceiling) and re-opens the budget: whoever lifts wants to continue. */
export async function liftBudget(store: Store, name: string, how: LiftHow, channel: EventChannel, opts: ActionOptions = {}): Promise<ActionResult> {
  return store.budgets.change(
    name,
    (b) => {
      let capNanos: Nanos;
      let what: string;
      if ('add' in how) {
        capNanos = b.capNanos + checkNanos(how.add, 'the amount to add');
        what = `--add ${how.add / 1e9}`;
      } else if ('double' in how) {
        capNanos = b.capNanos * 2;
        what = '--double';
      } else {
        if (b.ceilingNanos === null) throw new StoreError('E_INVALID', `"${b.name}" has no ceiling; set one with: spendcap cap set ${b.name} ${b.capNanos / 1e9} --ceiling USD`);
        capNanos = b.ceilingNanos;
        what = '--to-ceiling';
      }
      if (b.ceilingNanos !== null && capNanos > b.ceilingNanos) {
        throw new StoreError('E_INVALID', `lifting "${b.name}" (${what}) to ${formatUsd(capNanos)} would pass its ceiling of ${formatUsd(b.ceilingNanos)}; raise the ceiling with cap set --ceiling`);
      }
      return { ...b, capNanos, killed: false };
    },
    { kind: 'lift', channel, detail: opts.detail ?? null, ...(opts.now ? { ts: opts.now } : {}) },
  );
}

/** Changes any of a budget's settings; the event says what changed. */
export async function setCap(store: Store, name: string, changes: CapChanges, channel: EventChannel, opts: ActionOptions = {}): Promise<ActionResult> {
  if (changes.capNanos !== undefined) checkNanos(changes.capNanos, 'the cap');
  if (changes.ceilingNanos != null) checkNanos(changes.ceilingNanos, 'the ceiling');
  if (changes.sessionCapNanos != null) checkNanos(changes.sessionCapNanos, 'the session cap');
  if (changes.period !== undefined) checkPeriod(changes.period);
  if (changes.mode !== undefined) checkMode(changes.mode);
  if (changes.autotune !== undefined) checkAutotune(changes.autotune);
  if (changes.clamp !== undefined && typeof changes.clamp !== 'boolean') throw new StoreError('E_INVALID', 'clamp must be true or false');
  return store.budgets.change(
    name,
    (b) =>
      checkBudget({
        ...b,
        ...(changes.capNanos !== undefined ? { capNanos: changes.capNanos } : {}),
        ...(changes.period !== undefined ? { period: changes.period } : {}),
        ...(changes.ceilingNanos !== undefined ? { ceilingNanos: changes.ceilingNanos } : {}),
        ...(changes.sessionCapNanos !== undefined ? { sessionCapNanos: changes.sessionCapNanos } : {}),
        ...(changes.mode !== undefined ? { mode: changes.mode } : {}),
        ...(changes.clamp !== undefined ? { clamp: changes.clamp } : {}),
        ...(changes.autotune !== undefined ? { autotune: changes.autotune } : {}),
      }),
    { kind: 'cap-set', channel, detail: (before, after) => joinDetail(describeChanges(before, after), opts.detail), ...(opts.now ? { ts: opts.now } : {}) },
  );
}

/** Turns auto-tune off, to suggestions, or to creep (applies suggestions under the ceiling). */
export async function setAutotune(store: Store, name: string, mode: AutotuneMode, channel: EventChannel, opts: ActionOptions = {}): Promise<ActionResult> {
  checkAutotune(mode);
  return store.budgets.change(name, (b) => checkBudget({ ...b, autotune: mode }), {
    kind: 'autotune',
    channel,
    detail: (before, after) => joinDetail(`autotune ${before.autotune} → ${after.autotune}`, opts.detail),
    ...(opts.now ? { ts: opts.now } : {}),
  });
}

/** A global budget (every request through this proxy) or a tag budget (requests that name it in x-spendcap-budget). */
export async function createBudget(store: Store, spec: NewBudget, channel: EventChannel, opts: ActionOptions = {}): Promise<ActionResult> {
  validateBudgetName(spec.name);
  if (spec.scope !== 'global' && spec.scope !== 'tag') throw new StoreError('E_INVALID', `scope must be global or tag (a key's budget is made by key add); got "${String(spec.scope)}"`);
  const record = checkBudget({
    id: 0,
    name: spec.name,
    scope: spec.scope,
    keyId: null,
    capNanos: checkNanos(spec.capNanos, 'the cap'),
    period: spec.period === undefined ? 'day' : checkPeriod(spec.period),
    sessionCapNanos: null,
    ceilingNanos: spec.ceilingNanos == null ? null : checkNanos(spec.ceilingNanos, 'the ceiling'),
    mode: spec.mode === undefined ? 'hard' : checkMode(spec.mode),
    killed: false,
    clamp: spec.clamp ?? false,
    autotune: spec.autotune === undefined ? 'off' : checkAutotune(spec.autotune),
    updatedAt: 0,
  });
  const { after, event } = await store.budgets.create(record, {
    channel,
    detail: joinDetail(`${record.scope}, ${formatUsd(record.capNanos)} per ${record.period}, ${record.mode}${record.ceilingNanos !== null ? `, ceiling ${formatUsd(record.ceilingNanos)}` : ''}${record.clamp ? ', clamp' : ''}`, opts.detail),
    ...(opts.now ? { ts: opts.now } : {}),
  });
  return { before: null, after, event };
}

/** Removes a global or tag budget (a key's budget goes with `key rm`). Its ledger rows stay. */
export async function deleteBudget(store: Store, name: string, channel: EventChannel, opts: ActionOptions = {}): Promise<ActionResult> {
  const { before, event } = await store.budgets.remove(name, { channel, detail: opts.detail ?? null, ...(opts.now ? { ts: opts.now } : {}) });
  return { before, after: null, event };
}

function describeChanges(a: BudgetRecord, b: BudgetRecord): string | null {
  const parts: string[] = [];
  const money = (m: Nanos | null) => (m === null ? 'none' : formatUsd(m));
  if (a.capNanos !== b.capNanos) parts.push(`cap ${money(a.capNanos)} → ${money(b.capNanos)}`);
  if (a.period !== b.period) parts.push(`period ${a.period} → ${b.period}`);
  if (a.ceilingNanos !== b.ceilingNanos) parts.push(`ceiling ${money(a.ceilingNanos)} → ${money(b.ceilingNanos)}`);
  if (a.sessionCapNanos !== b.sessionCapNanos) parts.push(`session cap ${money(a.sessionCapNanos)} → ${money(b.sessionCapNanos)}`);
  if (a.mode !== b.mode) parts.push(`mode ${a.mode} → ${b.mode}`);
  if (a.clamp !== b.clamp) parts.push(`clamp ${a.clamp ? 'on' : 'off'} → ${b.clamp ? 'on' : 'off'}`);
  if (a.autotune !== b.autotune) parts.push(`autotune ${a.autotune} → ${b.autotune}`);
  return parts.length === 0 ? null : parts.join('; ');
}

function joinDetail(a: string | null, b: string | undefined): string | null {
  if (a === null) return b ?? null;
  return b === undefined ? a : `${a} (${b})`;
}
