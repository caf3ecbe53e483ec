import { join } from 'node:path';
import { editJsonc, parseJsonc } from '../formats.js';
import { sameUrl } from '../types.js';
import type { AgentConnector, AgentHome } from '../types.js';

/** Claude Code reads ~/.claude/settings.json (or $CLAUDE_CONFIG_DIR/settings.json); its `env` block applies to every run. */
function dir(h: AgentHome): string {
  return h.env.CLAUDE_CONFIG_DIR || join(h.home, '.claude');
}

export const claude: AgentConnector = {
  id: 'claude',
  aliases: ['claude-code'],
  name: 'Claude Code',
  providers: ['anthropic'],
  configPath: (h) => join(dir(h), 'settings.json'),
  files: (h) => [join(dir(h), 'settings.json')],
  detect: (h, exists) => exists(dir(h)),
  connect(current, target, h) {
    const path = join(dir(h), 'settings.json');
    const changes: Array<[string[], unknown]> = [
      // No /v1: Claude Code adds /v1/messages itself.
      [['env', 'ANTHROPIC_BASE_URL'], target.url],
      [['env', 'ANTHROPIC_API_KEY'], target.token],
    ];
    if (target.statuslineCommand) changes.push([['statusLine'], { type: 'command', command: target.statuslineCommand, padding: 0 }]);
    return new Map([[path, editJsonc(current.get(path) ?? null, path, changes)]]);
  },
  pointsAtSpendcap(current, url, h) {
    const path = join(dir(h), 'settings.json');
    const env = parseJsonc(current.get(path) ?? null, path).env as Record<string, unknown> | undefined;
    return sameUrl(env?.ANTHROPIC_BASE_URL, url) && typeof env?.ANTHROPIC_API_KEY === 'string' && env.ANTHROPIC_API_KEY.startsWith('sc-');
  },
  afterConnect: 'New Claude Code sessions use it; the first interactive run asks once whether to use this API key: answer yes.',
};
