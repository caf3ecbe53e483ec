// Channel config as stored: secret settings (tokens, passwords, webhook secrets) encrypted with the
// data dir's master key, like provider keys; the rest plain so `alerts list` can show it.
import { decryptSecret, encryptSecret } from '../secrets/index.js';
import type { AlertStoreApi, ChannelRow } from '../store/index.js';
import type { AlertKind, ChannelConfig } from './types.js';

/** Setting names whose values never leave the store unencrypted. */
export const SECRET_SETTINGS: readonly string[] = ['secret', 'botToken', 'appToken', 'webhookUrl', 'smtp'];

export function saveChannel(alerts: AlertStoreApi, masterKey: Buffer, cfg: ChannelConfig, now: number): Promise<void> {
  const plain: Record<string, string> = {};
  const secret: Record<string, string> = {};
  for (const [k, v] of Object.entries(cfg.settings)) (SECRET_SETTINGS.includes(k) ? secret : plain)[k] = v;
  return alerts.insertChannel({
    name: cfg.name,
    kind: cfg.kind,
    budgets: [...cfg.budgets],
    events: [...cfg.events],
    settings: plain,
    secretsEnc: Object.keys(secret).length === 0 ? null : encryptSecret(masterKey, JSON.stringify(secret)),
    createdAt: now,
  });
}

export function channelConfig(row: ChannelRow, masterKey: Buffer): ChannelConfig {
  const secret = row.secretsEnc === null ? {} : (JSON.parse(decryptSecret(masterKey, row.secretsEnc)) as Record<string, string>);
  return { name: row.name, kind: row.kind as ChannelConfig['kind'], budgets: row.budgets, events: row.events as AlertKind[], settings: { ...row.settings, ...secret } };
}

/** What `alerts list` shows of a channel's settings: secrets as "set", and an SMTP URL without its password. */
export function publicSettings(row: ChannelRow): Record<string, string> {
  const out: Record<string, string> = { ...row.settings };
  if (row.secretsEnc !== null) out.secrets = 'encrypted';
  return out;
}
