/** A mistake in how a command was called; printed with a hint, exit code 2. */
export class UsageError extends Error {
  readonly code = 'E_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
