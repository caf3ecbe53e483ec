import type { ProviderId } from './types.js';

const SHELL_SAFE = /^[A-Za-z0-9._:@/+-]+$/;

const CONTROL = /[\u0000-\u001f\u007f]/;

/** Quote a model id for the suggested command only when the shell would need it. */
function shellArg(s: string): string {
  if (SHELL_SAFE.test(s)) return s;
  // Control characters cannot be typed anyway; show them escaped, on one line.
  if (CONTROL.test(s)) return JSON.stringify(s);
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * No price for a model: spendcap refuses to forward rather than spend uncapped.
 * PriceBook.resolve() returns this (no throw on the hot path); callers may throw it.
 */
export class UnknownModelError extends Error {
  readonly code = 'E_UNKNOWN_MODEL';
  override readonly name = 'UnknownModelError';
  readonly model: string;
  readonly provider: ProviderId;

  constructor(provider: ProviderId, model: string) {
    // JSON.stringify: the id comes from a request body; keep control characters out of logs.
    super(
      `spendcap has no price for model ${JSON.stringify(model)} (provider ${provider}) and cannot cap its spend. ` +
        `Set one: spendcap price set ${shellArg(model)} --input <USD per Mtok> --output <USD per Mtok>`,
    );
    this.model = model;
    this.provider = provider;
  }
}
