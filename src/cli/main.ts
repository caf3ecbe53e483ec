import { resolveDataDir, StoreError } from '../store/index.js';
import type { Io } from './context.js';
import { explainFailure, UsageError } from './errors.js';
import { printable } from './format.js';
import type { FailureContext } from './errors.js';

export type Command = (argv: string[], io: Io) => Promise<number>;

/** Commands load lazily, so `spendcap status` does not pay for the server's imports. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  start: async () => (await import('./commands/start.js')).start,
  key: async () => (await import('./commands/key.js')).key,
  cap: async () => (await import('./commands/budget-actions.js')).cap,
  kill: async () => (await import('./commands/budget-actions.js')).kill,
  unkill: async () => (await import('./commands/budget-actions.js')).unkill,
  lift: async () => (await import('./commands/budget-actions.js')).lift,
  status: async () => (await import('./commands/status.js')).status,
  log: async () => (await import('./commands/log.js')).log,
  price: async () => (await import('./commands/price.js')).price,
  budget: async () => (await import('./commands/budget.js')).budget,
  events: async () => (await import('./commands/events.js')).events,
  settings: async () => (await import('./commands/settings.js')).settings,
  dashboard: async () => (await import('./commands/dashboard.js')).dashboard,
  alerts: async () => (await import('./commands/alerts.js')).alerts,
  approve: async () => (await import('./commands/alerts.js')).approve,
  deny: async () => (await import('./commands/alerts.js')).deny,
  'provider-admin': async () => (await import('./commands/provider-admin.js')).providerAdmin,
  'provider-key': async () => (await import('./commands/provider-key.js')).providerKey,
  reconcile: async () => (await import('./commands/reconcile.js')).reconcile,
  connect: async () => (await import('./commands/connect.js')).connect,
  disconnect: async () => (await import('./commands/disconnect.js')).disconnect,
  agents: async () => (await import('./commands/agents.js')).agents,
  run: async () => (await import('./commands/run.js')).run,
  statusline: async () => (await import('./commands/statusline.js')).statusline,
  watch: async () => (await import('./commands/watch.js')).watch,
};

export const HELP = `spendcap: a local proxy with hard dollar caps for LLM APIs

Usage: spendcap <command> [options]      (every command takes --data-dir DIR)

  start [--port 8787] [--host 127.0.0.1] [--no-open]   run the proxy (the default command)
        [--tz ZONE] [--default-session-cap USD] [--thresholds 50,80,100] [--retain-days 90]   (saved in the data dir)
  key add NAME --provider anthropic --provider-key K --cap USD [--period day|week|month|total]
          [--session-cap USD] [--ceiling USD] [--mode hard|soft|ask] [--ask-timeout S] [--clamp] [--json]   create a key (printed once)
  key list [--json] | key rm NAME
  budget add NAME --scope global|tag --cap USD [--period P] [--mode hard|soft|ask] [--ceiling USD] [--clamp]
  key tokens NAME [--json] | key revoke NAME TOKEN_ID_OR_LABEL   a key's tokens (one per connected agent)
          [--autotune off|suggest|creep]   a cap on everything (global) or on requests sending x-spendcap-budget: NAME (tag)
  budget list [--json] | budget rm NAME | budget autotune NAME off|suggest|creep
  budget badge NAME [--json]              the URL of NAME's status badge, with its own read-only token
  cap set NAME [USD] [--period P] [--ceiling USD] [--session-cap USD] [--mode hard|soft|ask] [--clamp|--no-clamp]
  kill NAME | unkill NAME                 stop a key or budget now (open streams are cut) / re-open it
  lift NAME… --add USD | --double | --to-ceiling
  status [--json]                         every budget: spent, held, cap, remaining, reset
  events [--json] [--limit N] [--budget NAME]   audit log: actions, blocks, cuts, thresholds
  settings [--tz ZONE] [--default-session-cap USD|none] [--thresholds 50,80,100] [--retain-days N] [--json]
  log [--json|--csv|--jsonl] [--since 2026-03-01|7d] [--limit N]   ledger rows (exports run oldest first)
  price set MODEL --input USD --output USD [--cache-read USD] [--cache-write USD]   (USD per million tokens)
  price list [--json] | price rm MODEL
  dashboard [--no-open] [--json]          print (and open) a one-time sign-in link to the web dashboard
  alerts add webhook|telegram|slack|email|desktop … [--name NAME] [--budget NAME]… [--events threshold,block,cut,kill,lift]
  alerts list [--json] | alerts test NAME | alerts rm NAME | alerts thresholds BUDGET 50,80,100|default | alerts slack-manifest
  approve NAME [--add USD] | deny NAME    answer a request held by a budget in --mode ask (docs/alerts.md)
  provider-admin add openrouter --management-key K | add anthropic|openai --admin-key K | list | rm P   ("-" = stdin)
  provider-key openrouter USD [--reset daily|weekly|monthly] [--agent AGENT] [--name N]   a key capped at OpenRouter too
  reconcile [--since DATE] [--json]       compare the ledger with what providers report; correct OpenRouter rows
  connect AGENT --key NAME [--url URL] [--statusline]   point an agent's own config at spendcap with a new token
          (claude, codex, opencode, aider, gemini, roo); or --provider P --provider-key K --cap USD to create the key too
  disconnect AGENT | agents [--json]      restore the agent's files byte for byte / what is connected
  run --key NAME [--cap USD] [--url URL] -- CMD ARGS…   run a command as its own capped session
  statusline                              one line for Claude Code's statusLine (reads its JSON on stdin)
  watch [--url URL]                       live terminal view: bars, last requests, burn rate; +/k/u keys

Data: --data-dir, else $SPENDCAP_HOME, else ~/.spendcap.
Team mode: --store postgres://… (or $SPENDCAP_STORE) on every command shares budgets through Postgres (docs/deploy.md).
`;

export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    io.out(HELP);
    return 0;
  }
  if (first === '--version' || first === '-v') {
    io.out('spendcap 0.1.0\n');
    return 0;
  }
  // `spendcap` and `spendcap --port 9000` mean start.
  const name = first === undefined || first.startsWith('-') ? 'start' : first;
  const args = first === undefined || first.startsWith('-') ? argv : rest;
  const load = COMMANDS[name];
  if (!load) {
    io.err(`spendcap: unknown command "${name}"\n\n${HELP}`);
    return 2;
  }
  try {
    return await (await load())(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`spendcap ${name}: ${printable(err.message)}\n`);
      return 2;
    }
    if (err instanceof StoreError) {
      io.err(`spendcap ${name}: ${printable(err.message)}\n`);
      return 1;
    }
    const failure = explainFailure(err, await failureContext(args, io));
    if (failure) {
      io.err(`spendcap ${name}: ${printable(failure.message)} [${failure.code}]\n`);
      return 1;
    }
    throw err;
  }
}

/** The data dir, host and port a command was given, for the message of a failure (best effort: the command may have failed parsing them). */
async function failureContext(args: string[], io: Io): Promise<FailureContext> {
  const { DEFAULT_HOST, DEFAULT_PORT } = await import('../server/server.js');
  const flag = (n: string): string | undefined => {
    const i = args.indexOf(n);
    if (i >= 0) return args[i + 1];
    return args.find((a) => a.startsWith(`${n}=`))?.slice(n.length + 1);
  };
  const port = flag('--port');
  return { dataDir: resolveDataDir(flag('--data-dir'), io.env), host: flag('--host') ?? DEFAULT_HOST, port: port === undefined ? DEFAULT_PORT : Number(port) };
}

function defaultIo(): Io {
  return { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), env: process.env };
}
