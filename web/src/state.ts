// What several views share: the budgets (full rows from /api/budgets, money kept current by
// /api/live), the settings' thresholds, and who wants to hear when they change.
import { get, live } from './api.js';
import type { Budget, LiveBudget, Settings } from './api.js';

type Listener = (changed: Budget[], removed: string[], full: boolean) => void;

export const state = {
  budgets: new Map<string, Budget>(),
  thresholds: [50, 80, 100] as number[],
  settings: null as Settings | null,
  liveUp: false,
  loaded: false,
};

const listeners = new Set<Listener>();
export function onBudgets(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
const emit = (changed: Budget[], removed: string[], full: boolean): void => {
  for (const l of listeners) l(changed, removed, full);
};

let reloading: Promise<void> | null = null;
/** Re-reads every budget (the live feed only carries money; ceilings, periods' ends and new budgets come from here). */
export function reloadBudgets(): Promise<void> {
  reloading ??= get<{ budgets: Budget[] }>('/api/budgets')
    .then(({ budgets }) => {
      const removed = [...state.budgets.keys()].filter((n) => !budgets.some((b) => b.name === n));
      state.budgets = new Map(budgets.map((b) => [b.name, b]));
      state.loaded = true;
      emit(budgets, removed, true);
    })
    .finally(() => (reloading = null));
  return reloading;
}

/** Applies the budget an action answered with, without waiting for the live feed. */
export function applyBudget(b: Budget | null): void {
  if (b === null) return;
  state.budgets.set(b.name, b);
  emit([b], [], false);
}

export async function loadSettings(): Promise<Settings | null> {
  try {
    state.settings = await get<Settings>('/api/settings');
    state.thresholds = [...state.settings.thresholds].sort((a, b) => a - b);
  } catch {
    /* older server without /api/settings: keep the defaults */
  }
  return state.settings;
}

const liveListeners = new Set<(up: boolean) => void>();
export function onLiveState(l: (up: boolean) => void): void {
  liveListeners.add(l);
}

function merge(list: LiveBudget[]): { changed: Budget[]; unknown: boolean } {
  const changed: Budget[] = [];
  let unknown = false;
  for (const l of list) {
    const b = state.budgets.get(l.name);
    if (b === undefined) {
      unknown = true;
      continue;
    }
    const next = { ...b, ...l };
    state.budgets.set(l.name, next);
    changed.push(next);
  }
  return { changed, unknown };
}

let settleTimer: number | null = null;
const settleListeners = new Set<() => void>();
/** Called (at most every 1.5–3 s) after money settled or a request started holding some: views with ledger-based figures refresh. */
export function onSettled(l: () => void): () => void {
  settleListeners.add(l);
  return () => settleListeners.delete(l);
}

export function startLive(): void {
  live(
    (snapshot) => {
      const { changed, unknown } = merge(snapshot);
      if (unknown || snapshot.length !== state.budgets.size) void reloadBudgets();
      else emit(changed, [], false);
    },
    (budgets, removed) => {
      const before = new Map(budgets.map((b) => [b.name, state.budgets.get(b.name)]));
      for (const n of removed) state.budgets.delete(n);
      const { changed, unknown } = merge(budgets);
      if (unknown) void reloadBudgets();
      emit(changed, removed, false);
      const settled = budgets.some((b) => before.get(b.name)?.spentUsd !== b.spentUsd);
      // A request starting (held money from none) opens a session the overview shows as in flight: refresh sooner.
      const started = budgets.some((b) => (before.get(b.name)?.heldUsd ?? 0) === 0 && b.heldUsd > 0);
      if ((settled || started) && settleTimer === null) {
        settleTimer = window.setTimeout(
          () => {
            settleTimer = null;
            for (const l of settleListeners) l();
          },
          settled ? 3000 : 1500,
        );
      }
    },
    (up) => {
      state.liveUp = up;
      for (const l of liveListeners) l(up);
    },
  );
}
