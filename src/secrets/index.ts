import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MASTER_KEY_FILE = 'secret.key';
const CIPHER_VERSION = 'v1';

/** The local key that encrypts provider keys at rest; created on first use, readable by the owner only. */
export function loadOrCreateMasterKey(dataDir: string): Buffer {
  const path = join(dataDir, MASTER_KEY_FILE);
  if (existsSync(path)) {
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

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** For log lines and listings: never more than a recognisable prefix of any key. */
export function redactKey(key: string): string {
  return key.length <= 8 ? '****' : `${key.slice(0, 6)}…${key.slice(-2)}`;
}
