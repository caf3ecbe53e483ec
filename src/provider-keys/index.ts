// Public face of the provider-side keys: stored admin keys, OpenRouter keys owned by spendcap keys,
// and OpenRouter's management API client.
export { ADMIN_PROVIDERS, adminKeyOf, isAdminProvider, linkProviderKey, listAdminKeys, listProviderKeys, providerKeyOf, removeAdminKey, saveAdminKey, unlinkProviderKey } from './store.js';
export type { AdminKeyInfo, AdminProvider, ProviderKeyLink } from './store.js';
export { nanosToUsdFloat, OpenRouterApi, openRouterBase, openRouterUsd, parseKeyInfo, ProviderApiError, RESET_TO_PERIOD, resetOfPeriod } from './openrouter-api.js';
export type { LimitReset, OpenRouterGeneration, OpenRouterKeyInfo, ProviderApiCode } from './openrouter-api.js';
