// Public face of reconciliation: the ledger beside what providers report (docs/provider-keys.md).
export { corrections, dailyDrift, generationDrift, keyUsageDrift, sumByUtcDay, utcDay } from './compare.js';
export type { Correction, DriftLine, DriftSource, GenerationCheck, LedgerCost } from './compare.js';
export { describeLine, lastReconcile, runReconcile } from './run.js';
export type { ReconcileOptions, ReconcileReport } from './run.js';
export { ADMIN_BASE_ENV } from './provider-reports.js';
export { OpenRouterCutReconciler } from './openrouter-cut.js';
export type { CutReconcilerOptions, EstimatedOpenRouterRow } from './openrouter-cut.js';
