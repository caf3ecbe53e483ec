// `spendcap alerts add|list|test|rm|thresholds|slack-manifest` and `spendcap approve|deny`.
import { answerAsk, channelConfig, createChannel, EVENT_NAMES, parseEvents, publicSettings, saveChannel, sendTestThrough } from '../../alerts/index.js';
import type { AlertFacts, ChannelConfig, ChannelKind } from '../../alerts/index.js';
import { parseSmtpUrl } from '../../alerts/channels/email/index.js';
import { slackManifest } from '../../alerts/setup.js';
import { discoverTelegramChatId } from '../../alerts/channels/telegram/index.js';
import { filterOf } from '../../budgets/autotune.js';
import { parseThresholds, periodWindow, readSettings, timeZoneOf, validateBudgetName } from '../../budgets/index.js';
import { StoreError } from '../../store/index.js';
import type { Store } from '../../store/index.js';
import { parse, requireName, str, usd } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { table, when } from '../format.js';
import { runningServerUrl } from '../../dashboard/sessions.js';

const ADD_USAGE = `spendcap alerts add webhook --url URL [--secret S]
       spendcap alerts add telegram --bot-token T [--chat-id ID] [--api-root URL]   (no --chat-id: waits for /start)
       spendcap alerts add slack --bot-token xoxb-… --app-token xapp-… --channel C [--api-url URL] | --webhook-url URL
       spendcap alerts add email --smtp smtp[s]://user:pass@host:port --to ADDR [--from ADDR]
       spendcap alerts add desktop
  each also: [--name NAME] [--budget NAME]… [--events ${EVENT_NAMES.join(',')}]`;

export async function alerts(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'add':
      return add(rest, io);
    case 'list':
    case 'ls':
      return list(rest, io);
    case 'test':
      return test(rest, io);
    case 'rm':
    case 'remove':
      return rm(rest, io);
    case 'thresholds':
      return thresholds(rest, io);
    case 'slack-manifest':
      io.out(JSON.stringify(slackManifest(), null, 2) + '\n');
      return 0;
    default:
      throw new UsageError(`usage: spendcap alerts add|list|test|rm|thresholds|slack-manifest …\n${ADD_USAGE}`);
  }
}

function need(v: unknown, flag: string, kind: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`alerts add ${kind} needs ${flag}`);
  return v.trim();
}

function httpUrl(v: string, flag: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new UsageError(`${flag} must be a URL, got "${v}"`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new UsageError(`${flag} must be an http(s) URL`);
  return v;
}

/** Kind-specific settings from the flags; secrets are split off and encrypted by saveChannel. */
function settingsFor(kind: ChannelKind, v: Record<string, unknown>): Record<string, string> {
  switch (kind) {
    case 'webhook':
      return { url: httpUrl(need(v.url, '--url', kind), '--url'), ...(str(v.secret) ? { secret: str(v.secret)! } : {}) };
    case 'telegram':
      return { botToken: need(v['bot-token'], '--bot-token', kind), chatId: need(v['chat-id'], '--chat-id', kind), ...(str(v['api-root']) ? { apiRoot: httpUrl(str(v['api-root'])!, '--api-root') } : {}) };
    case 'slack':
      if (str(v['webhook-url'])) return { webhookUrl: httpUrl(str(v['webhook-url'])!, '--webhook-url') };
      return {
        botToken: need(v['bot-token'], '--bot-token (or --webhook-url for plain alerts)', kind),
        appToken: need(v['app-token'], '--app-token', kind),
        channel: need(v.channel, '--channel', kind),
        ...(str(v['api-url']) ? { apiUrl: httpUrl(str(v['api-url'])!, '--api-url') } : {}),
      };
    case 'email': {
      const smtp = need(v.smtp, '--smtp', kind);
      try {
        parseSmtpUrl(smtp);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      return { smtp, to: need(v.to, '--to', kind), ...(str(v.from) ? { from: str(v.from)! } : {}) };
    }
    case 'desktop':
      return {};
  }
}

/** Without --chat-id, the chat is the first one that writes /start to the bot. */
async function waitForTelegramStart(botToken: string, apiRoot: string | undefined, io: Io): Promise<string> {
  io.out('Waiting for /start: open your bot in Telegram and send it /start (2 minutes)…\n');
  try {
    const found = await discoverTelegramChatId(botToken, apiRoot, { timeoutMs: 120_000 });
    io.out(`Found chat ${found.chatId} (${found.chatType}) of @${found.botUsername}.\n`);
    return found.chatId;
  } catch (err) {
    throw new UsageError(`${(err as Error).message}; or give the chat id with --chat-id`);
  }
}

async function add(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {
    name: { type: 'string' },
    budget: { type: 'string', multiple: true },
    events: { type: 'string' },
    url: { type: 'string' },
    secret: { type: 'string' },
    'bot-token': { type: 'string' },
    'chat-id': { type: 'string' },
    'api-root': { type: 'string' },
    'app-token': { type: 'string' },
    channel: { type: 'string' },
    'api-url': { type: 'string' },
    'webhook-url': { type: 'string' },
    smtp: { type: 'string' },
    to: { type: 'string' },
    from: { type: 'string' },
  });
  const kind = positionals[0] as ChannelKind | undefined;
  if (kind === undefined || !['webhook', 'telegram', 'slack', 'email', 'desktop'].includes(kind)) throw new UsageError(`usage:\n       ${ADD_USAGE}`);
  const name = validateBudgetName(str(values.name) ?? kind);
  let events: ChannelConfig['events'] = [];
  try {
    events = values.events === undefined ? [] : parseEvents(str(values.events)!);
  } catch (err) {
    throw new UsageError(`--events: ${(err as Error).message}`);
  }
  if (kind === 'telegram' && str(values['chat-id']) === undefined && str(values['bot-token']) !== undefined) {
    values['chat-id'] = await waitForTelegramStart(str(values['bot-token'])!, str(values['api-root']), io);
  }
  const cfg: ChannelConfig = { name, kind, budgets: (values.budget as string[] | undefined) ?? [], events, settings: settingsFor(kind, values) };
  const { store, masterKey } = openStore(values['data-dir'], io);
  try {
    for (const b of cfg.budgets) if ((await store.budgets.byName(b)) === undefined) throw new StoreError('E_NOT_FOUND', `no key or budget named "${b}" (see: spendcap status)`);
    // Built once here so a bad setting fails now, not at 2 a.m.
    if (kind !== 'slack' && kind !== 'telegram') await createChannel(cfg).stop();
    await saveChannel(store.alerts, masterKey(), cfg, Date.now());
    if (values.json) io.out(JSON.stringify({ name, kind, budgets: cfg.budgets, events: cfg.events }) + '\n');
    else io.out(`Added ${kind} alerts "${name}" (${cfg.budgets.length === 0 ? 'every budget' : cfg.budgets.join(', ')}; ${cfg.events.length === 0 ? 'default events' : cfg.events.join(',')}). Send a test: spendcap alerts test ${name}\n`);
    return 0;
  } finally {
    await store.close();
  }
}

async function list(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {}, false);
  const { store } = openStore(values['data-dir'], io);
  try {
    const a = store.alerts;
    const rows = await Promise.all((await a.listChannels()).map(async (c) => {
      const recent = await a.recentOutbox(20, c.name);
      return {
        name: c.name,
        kind: c.kind,
        budgets: c.budgets,
        events: c.events,
        settings: publicSettings(c),
        lastTest: c.testedAt === null ? null : { at: new Date(c.testedAt).toISOString(), ok: c.testOk, detail: c.testDetail },
        failing: recent.filter((r) => r.state === 'failed' || (r.state === 'pending' && r.attempts > 0)).map((r) => ({ kind: r.kind, budget: r.budget, attempts: r.attempts, error: r.lastError })),
      };
    }));
    if (values.json) io.out(JSON.stringify(rows, null, 2) + '\n');
    else if (rows.length === 0) io.out('No alert channels yet. Add one: spendcap alerts add webhook --url URL (see spendcap --help)\n');
    else {
      io.out(
        table([
          ['NAME', 'KIND', 'BUDGETS', 'EVENTS', 'TESTED', 'FAILING'],
          ...rows.map((r) => [r.name, r.kind, r.budgets.length === 0 ? 'all' : r.budgets.join(','), r.events.length === 0 ? 'default' : r.events.join(','), r.lastTest === null ? 'never' : `${r.lastTest.ok ? 'ok' : 'FAILED'} ${when(Date.parse(r.lastTest.at))}`, String(r.failing.length)]),
        ]),
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}

async function testFacts(store: Store, now: number): Promise<AlertFacts> {
  const b = (await store.budgets.list())[0];
  if (b === undefined) return { kind: 'test', budget: 'spendcap', scope: 'global', spentNanos: 0, capNanos: 0, periodStart: null, periodEnd: null };
  const w = periodWindow(b.period, now, timeZoneOf((await readSettings(store))));
  return { kind: 'test', budget: b.name, scope: b.scope, spentNanos: (await store.ledger.spentSince(filterOf(b), w.start)), capNanos: b.capNanos, periodStart: w.start, periodEnd: w.end };
}

async function test(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const name = requireName(positionals, 'channel name', 'spendcap alerts test NAME');
  const { store, masterKey, dataDir } = openStore(values['data-dir'], io);
  try {
    const a = store.alerts;
    const row = await a.channel(name);
    if (row === undefined) throw new StoreError('E_NOT_FOUND', `no alert channel named "${name}" (see: spendcap alerts list)`);
    const channel = createChannel(channelConfig(row, masterKey()));
    const now = Date.now();
    const server = await runningServerUrl(dataDir, store);
    const result = await sendTestThrough(channel, await testFacts(store, now), `${server ?? 'http://127.0.0.1:8787'}/dashboard`, timeZoneOf((await readSettings(store))), now);
    await channel.stop().catch(() => {});
    await a.recordTest(name, result.ok, result.ok ? 'delivered' : (result.error ?? 'failed'), Date.now());
    if (values.json) io.out(JSON.stringify({ name, ok: result.ok, error: result.error ?? null }) + '\n');
    else if (result.ok) io.out(`✓ Test alert delivered through "${name}" (${row.kind}).\n`);
    else io.err(`✗ Test alert through "${name}" (${row.kind}) failed: ${result.error ?? 'unknown error'}\n`);
    return result.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}

async function rm(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const name = requireName(positionals, 'channel name', 'spendcap alerts rm NAME');
  const { store } = openStore(values['data-dir'], io);
  try {
    if (!(await store.alerts.deleteChannel(name))) throw new StoreError('E_NOT_FOUND', `no alert channel named "${name}" (see: spendcap alerts list)`);
    io.out(`Removed alert channel "${name}" and its queued alerts.\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** `alerts thresholds BUDGET 50,90` (or `default`): the percentages at which this budget alerts. */
async function thresholds(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const usage = 'spendcap alerts thresholds BUDGET 50,80,100|default';
  const name = requireName(positionals, 'budget name', usage);
  const text = positionals[1];
  if (text === undefined) throw new UsageError(`missing thresholds. Usage: ${usage}`);
  const { store } = openStore(values['data-dir'], io);
  try {
    if ((await store.budgets.byName(name)) === undefined) throw new StoreError('E_NOT_FOUND', `no key or budget named "${name}" (see: spendcap status)`);
    const list = text === 'default' ? null : parseThresholds(text);
    await store.alerts.setBudgetSettings(name, { thresholds: list });
    io.out(`"${name}" alerts at ${list === null ? `the default thresholds (${(await readSettings(store)).thresholds.join(',')}%)` : `${list.join(',')}%`}.\n`);
    return 0;
  } finally {
    await store.close();
  }
}

/** `spendcap approve NAME [--add USD]` / `spendcap deny NAME`: answers the oldest request waiting on NAME. */
async function answer(argv: string[], io: Io, how: 'approve' | 'deny'): Promise<number> {
  const { values, positionals } = parse(argv, how === 'approve' ? { add: { type: 'string' } } : {});
  const name = requireName(positionals, 'key or budget name', how === 'approve' ? 'spendcap approve NAME [--add USD]' : 'spendcap deny NAME');
  const { store } = openStore(values['data-dir'], io);
  try {
    const pending = await store.alerts.pendingAsks(Date.now(), name);
    if (pending.length === 0) throw new StoreError('E_NOT_FOUND', `no request is waiting for approval on "${name}"`);
    const user = process.env.USER ?? 'cli';
    const addNanos = how === 'approve' && values.add !== undefined ? usd(str(values.add), '--add') : undefined;
    const outcome = await answerAsk(store, pending[0]!.id, how, 'cli', user, addNanos);
    (outcome.ok ? io.out : io.err)(`${outcome.text}\n`);
    return outcome.ok ? 0 : 1;
  } finally {
    await store.close();
  }
}

export const approve = (argv: string[], io: Io) => answer(argv, io, 'approve');
export const deny = (argv: string[], io: Io) => answer(argv, io, 'deny');
