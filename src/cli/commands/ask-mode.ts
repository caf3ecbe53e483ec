// `--mode ask [--ask-timeout SECONDS]` on key add, budget add and cap set: the budget is stored
// hard (the proxy refuses past the cap) and marked in the alerts table as one whose refusals wait
// for a person's answer (src/alerts/ask.ts).
import type { Store } from '../../store/index.js';
import { UsageError } from '../errors.js';

export const ASK_OPTIONS = { 'ask-timeout': { type: 'string' } } as const;

export interface AskChoice {
  /** The mode to store: ask becomes hard. */
  mode: string | undefined;
  /** true: ask on; false: a hard/soft mode was chosen, ask off; undefined: unchanged. */
  ask: boolean | undefined;
  timeoutS: number | undefined;
}

export function askChoice(values: Record<string, unknown>): AskChoice {
  const raw = typeof values.mode === 'string' ? values.mode : undefined;
  let timeoutS: number | undefined;
  if (values['ask-timeout'] !== undefined) {
    const n = Number(values['ask-timeout']);
    if (!Number.isInteger(n) || n < 1 || n > 3600) throw new UsageError(`--ask-timeout must be whole seconds 1–3600; got "${typeof values['ask-timeout'] === 'string' ? values['ask-timeout'] : typeof values['ask-timeout']}"`);
    timeoutS = n;
  }
  if (raw === 'ask') return { mode: 'hard', ask: true, timeoutS };
  if (timeoutS !== undefined && raw !== undefined) throw new UsageError('--ask-timeout goes with --mode ask');
  return { mode: raw, ask: raw === undefined ? undefined : false, timeoutS };
}

export async function applyAsk(store: Store, budget: string, choice: AskChoice): Promise<void> {
  if (choice.ask === undefined && choice.timeoutS === undefined) return;
  await store.alerts.setBudgetSettings(budget, { ...(choice.ask !== undefined ? { ask: choice.ask } : {}), ...(choice.timeoutS !== undefined ? { askTimeoutS: choice.timeoutS } : {}) });
}
