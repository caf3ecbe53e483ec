export type ConnectorErrorCode = 'E_PARSE' | 'E_UNKNOWN_AGENT' | 'E_UNSUPPORTED' | 'E_PROVIDER' | 'E_CONNECTED' | 'E_NOT_CONNECTED' | 'E_IO';

/** A connect/disconnect that cannot go ahead; the message says what to do. */
export class ConnectorError extends Error {
  constructor(
    readonly code: ConnectorErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectorError';
  }
}
