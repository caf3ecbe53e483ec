// How spendcap finds the chat id: the user sends /start to the bot, we read it with getUpdates.
import { Api, GrammyError } from 'grammy';
import { DEFAULT_TELEGRAM_API_ROOT } from './channel.js';
import { TelegramChannelError } from './errors.js';

export interface DiscoveredChat { readonly chatId: string; readonly chatType: string; readonly from?: string; readonly botUsername: string }
export interface DiscoverOptions { readonly timeoutMs?: number }

/**
 * Waits (default 120 s) for a /start message to the bot and returns its chat id, after replying in that
 * chat so the person sees it worked. Needs no running spendcap; do not run it while the channel polls.
 */
export async function discoverTelegramChatId(botToken: string, apiRoot: string = DEFAULT_TELEGRAM_API_ROOT, opts: DiscoverOptions = {}): Promise<DiscoveredChat> {
  const api = new Api(botToken, { apiRoot: apiRoot.replace(/\/+$/, '') });
  let me;
  try {
    me = await api.getMe();
  } catch (err) {
    if (err instanceof GrammyError && err.error_code === 401) throw new TelegramChannelError('E_TELEGRAM_CONFIG', 'Telegram refused the bot token (401): copy it again from @BotFather');
    throw err;
  }
  // getUpdates answers 409 while a webhook is set; spendcap uses long polling only.
  await api.deleteWebhook();
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let offset = 0;
  while (Date.now() < deadline) {
    const wait = Math.max(0, Math.min(25, Math.floor((deadline - Date.now()) / 1000)));
    const updates = await api.getUpdates({ offset, timeout: wait, allowed_updates: ['message'] });
    for (const u of updates) {
      offset = u.update_id + 1;
      const m = u.message;
      if (!m || typeof m.text !== 'string' || !/^\/start(@\w+)?(\s|$)/.test(m.text)) continue;
      // Confirm what we read, so the running channel does not see this /start again.
      await api.getUpdates({ offset, limit: 1, timeout: 0 });
      await api.sendMessage(m.chat.id, `spendcap found this chat: id ${m.chat.id}. Alerts will arrive here.`);
      return { chatId: String(m.chat.id), chatType: m.chat.type, botUsername: me.username, ...(m.from ? { from: m.from.username ?? m.from.first_name } : {}) };
    }
  }
  throw new TelegramChannelError('E_TELEGRAM_NO_START', `no /start reached @${me.username} in time: open https://t.me/${me.username}, send /start, and run the command again`);
}
