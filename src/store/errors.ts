/** A user-facing failure of a store operation (bad name, duplicate, missing). */
export class StoreError extends Error {
  constructor(
    readonly code: 'E_NOT_FOUND' | 'E_EXISTS' | 'E_INVALID' | 'E_LOCKED',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
