import type { ProviderId } from '../pricing/index.js';

/** Where an agent lives: a home directory and the environment that may move its config (CODEX_HOME, XDG_CONFIG_HOME…). */
export interface AgentHome {
  home: string;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
}

/** What connect points the agent at. */
export interface ConnectTarget {
  /** The spendcap server's root, e.g. http://127.0.0.1:8787 (no /v1; each connector adds what its agent needs). */
  url: string;
  /** A spendcap token of the key (sc-…), issued for this agent. */
  token: string;
  /** The key's provider: decides which of the agent's provider settings is written. */
  provider: ProviderId;
  /** Claude Code only: the command line of `spendcap statusline`, to install as its statusLine. */
  statuslineCommand?: string;
}

/** Current text of each file the connector reads (null: the file does not exist). */
export type FileTexts = ReadonlyMap<string, string | null>;

/**
 * One agent's config. Pure: it reads texts and returns new texts; backups, writes and restores
 * are done once for every connector (apply.ts), so each gets them the same way.
 */
export interface AgentConnector {
  /** The name on the command line: `spendcap connect <id>`. */
  id: string;
  aliases: readonly string[];
  /** Display name, e.g. "Claude Code". */
  name: string;
  /** Key providers this agent can use through spendcap. */
  providers: readonly ProviderId[];
  /** The agent's main config file. */
  configPath(h: AgentHome): string;
  /** Every file connect may write, the main config first. */
  files(h: AgentHome): string[];
  /** Whether the agent looks installed or configured here (its config dir exists). */
  detect(h: AgentHome, exists: (path: string) => boolean): boolean;
  /** New texts for the files that change. Unknown keys and comments of the user's files survive. */
  connect(current: FileTexts, target: ConnectTarget, h: AgentHome): Map<string, string>;
  /** Whether the files (as they are now) still send this agent's requests to spendcap at `url`. */
  pointsAtSpendcap(current: FileTexts, url: string, h: AgentHome): boolean;
  /** Said after connect: what the user still has to know (a restart, an env var). */
  afterConnect?: string;
}

/** An agent spendcap cannot configure, with why and what to do instead. */
export interface UnsupportedAgent {
  id: string;
  aliases: readonly string[];
  name: string;
  reason: string;
}

/** http://127.0.0.1:8787 → http://127.0.0.1:8787/v1, for OpenAI-style clients. */
export function v1(url: string): string {
  return `${url.replace(/\/+$/, '')}/v1`;
}

export function sameUrl(a: unknown, b: string): boolean {
  return typeof a === 'string' && a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

export const OPENAI_STYLE: readonly ProviderId[] = ['openai', 'openrouter', 'openai-compatible'];

/** Whether a config value is a spendcap token (sc-…). */
export function isToken(v: unknown): boolean {
  return typeof v === 'string' && v.startsWith('sc-');
}
