// Connecting agents to spendcap: one interface (types.ts), one connector per agent (agents/),
// one place for backups and writes (apply.ts).
import { aider } from './agents/aider.js';
import { claude } from './agents/claude.js';
import { codex } from './agents/codex.js';
import { gemini } from './agents/gemini.js';
import { opencode } from './agents/opencode.js';
import { roo } from './agents/roo.js';
import { UNSUPPORTED } from './agents/unsupported.js';
import { ConnectorError } from './errors.js';
import type { AgentConnector } from './types.js';

export const CONNECTORS: readonly AgentConnector[] = [claude, codex, opencode, aider, gemini, roo];
export { UNSUPPORTED };
export { ConnectorError } from './errors.js';
export type { ConnectorErrorCode } from './errors.js';
export { connectFiles, readTexts, restoreFiles } from './apply.js';
export type { RestoredFile } from './apply.js';
export { CODEX_ENV_KEY } from './agents/codex.js';
export type { AgentConnector, AgentHome, ConnectTarget, FileTexts, UnsupportedAgent } from './types.js';

/** The connector for a name given on the command line (its id or an alias). */
export function findConnector(name: string): AgentConnector {
  const n = name.toLowerCase();
  const c = CONNECTORS.find((x) => x.id === n || x.aliases.includes(n));
  if (c) return c;
  const u = UNSUPPORTED.find((x) => x.id === n || x.aliases.includes(n));
  if (u) throw new ConnectorError('E_UNSUPPORTED', `spendcap cannot configure ${u.name}: ${u.reason}`);
  throw new ConnectorError('E_UNKNOWN_AGENT', `unknown agent "${name}"; one of: ${CONNECTORS.map((x) => x.id).join(', ')}`);
}
