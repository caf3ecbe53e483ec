import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tightenMode, warnOnStderr } from '../store/data-dir.js';
import type { Warn } from '../store/data-dir.js';

const MASTER_KEY_FILE = 'secret.key';
const CIPHER_VERSION = 'v1';

/** The local key that encrypts provider keys at rest; created on first use, readable by the owner only. */
export function loadOrCreateMasterKey(dataDir: string, warn: Warn = warnOnStderr): Buffer {
  const path = join(dataDir, MASTER_KEY_FILE);
  if (existsSync(path)) {
    tightenMode(path, 0o600, warn);
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${path} is not a 32-byte base64 key; restore it from a backup or remove it (stored provider keys will then need to be added again)`);
    return key;
  }
  const key = randomBytes(32);
  // 'wx' so two processes starting at once cannot overwrite each other's key.
  writeFileSync(path, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
  return key;
}

/** AES-256-GCM; output "v1:" + base64(iv ‖ tag ‖ ciphertext). */
export function encryptSecret(masterKey: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${CIPHER_VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64')}`;
}

export function decryptSecret(masterKey: Buffer, stored: string): string {
  const [version, payload] = stored.split(':', 2);
  if (version !== CIPHER_VERSION || payload === undefined) throw new Error('unknown encrypted secret format');
  const raw = Buffer.from(payload, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', masterKey, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}

/** A spendcap key: 192 random bits, so a plain SHA-256 is a safe at-rest form (no slow hash needed). */
export function newSpendcapToken(): string {
  return `sc-${randomBytes(24).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newAdminToken(): string {
  return randomBytes(32).toString('base64url');
}

export const ADMIN_TOKEN_FILE = 'admin-token';

/**
 * The token the admin API and web page require: `<data-dir>/admin-token`, one line, owner-only.
 * Created at first start; a second process starting at the same time reads the winner's token.
 */
export function loadOrCreateAdminToken(dataDir: string): string {
  const path = join(dataDir, ADMIN_TOKEN_FILE);
  const read = (): string | null => {
    if (!existsSync(path)) return null;
    const token = readFileSync(path, 'utf8').trim();
    if (token.length < 32) throw new Error(`${path} holds no usable admin token (under 32 characters); remove it and start spendcap again to make a new one`);
    return token;
  };
  const existing = read();
  if (existing !== null) {
    // Tighten a file whose mode was loosened by hand: it grants control of every budget.
    tightenMode(path, 0o600, warnOnStderr);
    return existing;
  }
  const token = newAdminToken();
  try {
    writeFileSync(path, token + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return read() ?? token;
    throw err;
  }
  chmodSync(path, 0o600);
  return token;
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}


/** A secret shown in a list: enough to tell two apart, never enough to use. */
export function redactKey(key: string): string {
  return key.length <= 8 ? '****' : `${key.slice(0, 6)}…${key.slice(-2)}`;
}
