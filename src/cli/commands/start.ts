import { BASE_URL_ENV } from '../../providers/index.js';
import { DEFAULT_HOST, DEFAULT_PORT, startServer } from '../../server/server.js';
import { resolveDataDir } from '../../store/index.js';
import { parse, str } from '../args.js';
import { openStore, storeUrl } from '../context.js';
import type { Io } from '../context.js';
import { applySettingsFlags, SETTINGS_OPTIONS } from './settings.js';
import { makeSignInLink, openBrowser } from './dashboard.js';
import { UsageError } from '../errors.js';
import { printable } from '../format.js';

export async function start(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { port: { type: 'string' }, host: { type: 'string' }, 'no-open': { type: 'boolean' }, quiet: { type: 'boolean' }, ...SETTINGS_OPTIONS }, false);
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0–65535; got "${String(values.port)}"`);
  const host = str(values.host) ?? DEFAULT_HOST;
  const dataDir = resolveDataDir(str(values['data-dir']), io.env);
  // --tz, --default-session-cap, --thresholds, --retain-days persist in the data dir: status and later starts agree.
  const { store } = openStore(values['data-dir'], io);
  try {
    await applySettingsFlags(store, values);
  } finally {
    await store.close();
  }
  const teamStore = storeUrl(io);
  const server = await startServer({
    dataDir,
    ...(teamStore !== undefined ? { store: teamStore } : {}),
    host,
    port,
    baseUrls: Object.fromEntries(Object.entries(BASE_URL_ENV).flatMap(([provider, env]) => (io.env[env] ? [[provider, io.env[env]]] : []))),
    // Quiet: no log function at all, so the server does not build and redact a line per request.
    ...(values.quiet ? {} : { log: (line: string) => io.out(`${new Date().toISOString().slice(11, 19)} ${printable(line)}\n`) }),
    guardProcess: true,
  });
  const loopback = host === '127.0.0.1' || host === 'localhost' || host === '::1';
  io.out(`spendcap is running on ${server.url}  (data: ${dataDir})\n`);
  if (teamStore !== undefined) io.out(`Team mode: budgets shared through ${(await import('../../store/postgres/team-mode.js')).redactUrl(teamStore)}\n`);
  if (!loopback) io.out(`WARNING: listening on ${host}, not loopback: anyone who can reach this address and holds a spendcap key can spend through it.\n`);
  if (server.recoveredHolds > 0) io.out(`Charged ${server.recoveredHolds} request(s) left in flight by the last stop at their last estimate (see spendcap log).\n`);
  io.out(`\nPoint an agent at it with a spendcap key (create one: spendcap key add NAME --provider anthropic|openai|gemini|openrouter --provider-key … --cap 15):\n`);
  io.out(`  Claude Code:    ANTHROPIC_BASE_URL=${server.url} ANTHROPIC_API_KEY=sc-… claude\n`);
  io.out(`  Codex CLI:      a [model_providers.spendcap] with base_url = "${server.url}/v1" in ~/.codex/config.toml (docs/agents.md)\n`);
  io.out(`  Anthropic SDK:  new Anthropic({ baseURL: '${server.url}', apiKey: 'sc-…' })\n`);
  io.out(`  SDKs:           base URL ${server.url} (Anthropic, Gemini) or ${server.url}/v1 (OpenAI), API key sc-…  (docs/agents.md)\n\n`);
  // A one-time link signs the browser in; `spendcap dashboard` prints a new one whenever needed.
  const link = await makeSignInLink(server.store, server.url);
  io.out(`Dashboard (one-time sign-in link, valid 10 minutes; spendcap dashboard prints another):\n  ${link.url}\n\n`);
  if (values['no-open'] !== true) openBrowser(link.url);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.out('spendcap: stopping; open requests are settled.\n');
  await server.close();
  return 0;
}
