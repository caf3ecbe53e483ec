// Public face of the Telegram alert channel.
export { createTelegramChannel, DEFAULT_TELEGRAM_API_ROOT, REFUSAL_TEXT } from './channel.js';
export type { TelegramChannelOptions, TelegramRefusal } from './channel.js';
export { discoverTelegramChatId } from './discover.js';
export type { DiscoveredChat, DiscoverOptions } from './discover.js';
export { TelegramChannelError } from './errors.js';
export type { TelegramErrorCode } from './errors.js';
export { fieldsSent, telegramMessage } from './format.js';
