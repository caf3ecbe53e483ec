// Typed rows of the alerts concern (channels, outbox, per-budget settings, asks).
export interface ChannelRow {
  name: string;
  kind: string;
  budgets: string[];
  events: string[];
  /** Non-secret settings (url, chatId, to, …). */
  settings: Record<string, string>;
  /** Encrypted JSON of the secret settings (tokens, passwords, webhook secrets); null when none. */
  secretsEnc: string | null;
  createdAt: number;
  testedAt: number | null;
  testOk: boolean | null;
  testDetail: string | null;
}

export type OutboxState = 'pending' | 'sent' | 'failed' | 'superseded';

export interface OutboxRow {
  id: string;
  channel: string;
  dedupeKey: string;
  kind: string;
  budget: string;
  /** The Alert as JSON (src/alerts/types.ts). */
  alert: string;
  count: number;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  messageRef: string | null;
  needsUpdate: boolean;
  createdAt: number;
  updatedAt: number;
  sentAt: number | null;
}

export interface BudgetAlertSettings {
  budget: string;
  ask: boolean;
  askTimeoutS: number | null;
  thresholds: number[] | null;
}

export type AskState = 'pending' | 'approved' | 'denied' | 'expired';
export interface AskRow {
  id: string;
  budget: string;
  keyName: string | null;
  addNanos: number;
  state: AskState;
  createdAt: number;
  expiresAt: number;
  decidedBy: string | null;
  decidedAt: number | null;
}

