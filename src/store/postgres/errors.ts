/** A Postgres store failure a user can act on (unreachable server, database newer than this spendcap). */
export class PostgresStoreError extends Error {
  constructor(
    readonly code: 'E_STORE_CONNECT' | 'E_STORE_NEWER' | 'E_STORE_URL',
    message: string,
  ) {
    super(message);
    this.name = 'PostgresStoreError';
  }
}
