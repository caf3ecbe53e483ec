// Typed errors of the Telegram channel: a stable code and a message a user can act on (never the token).
export type TelegramErrorCode = 'E_TELEGRAM_CONFIG' | 'E_TELEGRAM_NO_START';

export class TelegramChannelError extends Error {
  override readonly name = 'TelegramChannelError';
  readonly code: TelegramErrorCode;
  constructor(code: TelegramErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
