export { openPool, migrate, clientConfig } from './pool.js';
export { MIGRATIONS, NOTIFY_CHANNEL } from './migrations.js';
export { BudgetListener } from './notify.js';
export type { BudgetChange } from './notify.js';
export { grantLease, flushBatch, reclaimLeases, ensureRoom, roundTrips } from './leases.js';
export type { Slot, RoomRow, Reclaimed, FlushBatch } from './leases.js';
export { TeamLedger } from './team.js';
export type { TeamOptions } from './team.js';
export { PostgresStoreError } from './errors.js';
