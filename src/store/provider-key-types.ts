// Typed rows of the provider-keys concern (src/provider-keys/ owns the logic; the rows live here).

/** Providers whose admin APIs spendcap calls: OpenRouter (key management), Anthropic and OpenAI (usage/cost). */
export const ADMIN_PROVIDERS = ['openrouter', 'anthropic', 'openai'] as const;
export type AdminProvider = (typeof ADMIN_PROVIDERS)[number];

export interface AdminKeyInfo {
  provider: AdminProvider;
  hint: string;
  createdAt: number;
}

/** A provider-side key owned by a spendcap key. */
export interface ProviderKeyLink {
  keyId: number;
  provider: 'openrouter';
  /** OpenRouter's id for the key (GET/PATCH/DELETE /keys/{hash}); never the key itself. */
  hash: string;
  /** The name the key has at the provider. */
  label: string;
  createdAt: number;
}
