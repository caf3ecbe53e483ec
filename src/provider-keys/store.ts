// What spendcap keeps about provider-side keys: the management/admin keys a user stored once
// (encrypted like provider keys), and which spendcap key owns which OpenRouter key (its `hash`).
// The rows live in the Store (store.providerKeys); this module adds the encryption.
import { decryptSecret, encryptSecret, redactKey } from '../secrets/index.js';
import { ADMIN_PROVIDERS } from '../store/index.js';
import type { AdminKeyInfo, AdminProvider, ProviderKeyLink, Store } from '../store/index.js';

export { ADMIN_PROVIDERS };
export type { AdminKeyInfo, AdminProvider, ProviderKeyLink };

export function isAdminProvider(p: string): p is AdminProvider {
  return (ADMIN_PROVIDERS as readonly string[]).includes(p);
}

export function saveAdminKey(store: Store, masterKey: () => Buffer, provider: AdminProvider, key: string, now = Date.now()): Promise<AdminKeyInfo> {
  return store.providerKeys.saveAdmin(provider, encryptSecret(masterKey(), key), redactKey(key), now);
}

/** The stored admin key in clear, or null when the user stored none. */
export async function adminKeyOf(store: Store, masterKey: () => Buffer, provider: AdminProvider): Promise<string | null> {
  const enc = await store.providerKeys.adminEnc(provider);
  return enc === null ? null : decryptSecret(masterKey(), enc);
}

export function listAdminKeys(store: Store): Promise<AdminKeyInfo[]> {
  return store.providerKeys.listAdmin();
}

export function removeAdminKey(store: Store, provider: AdminProvider): Promise<boolean> {
  return store.providerKeys.removeAdmin(provider);
}

export function linkProviderKey(store: Store, link: ProviderKeyLink): Promise<void> {
  return store.providerKeys.link(link);
}

export function providerKeyOf(store: Store, keyId: number): Promise<ProviderKeyLink | null> {
  return store.providerKeys.linkOf(keyId);
}

export function listProviderKeys(store: Store): Promise<ProviderKeyLink[]> {
  return store.providerKeys.links();
}

export function unlinkProviderKey(store: Store, keyId: number): Promise<void> {
  return store.providerKeys.unlink(keyId);
}
