import { join } from 'node:path';
import { editEnv, editToml, parseEnv, parseToml } from '../formats.js';
import { OPENAI_STYLE, sameUrl, v1 } from '../types.js';
import type { AgentConnector, AgentHome } from '../types.js';

/** The env var Codex reads the token from (`env_key`); Codex loads it from $CODEX_HOME/.env at start. */
export const CODEX_ENV_KEY = 'SPENDCAP_API_KEY';
const PROVIDER = 'spendcap';

function dir(h: AgentHome): string {
  return h.env.CODEX_HOME || join(h.home, '.codex');
}

export const codex: AgentConnector = {
  id: 'codex',
  aliases: ['codex-cli'],
  name: 'Codex CLI',
  providers: OPENAI_STYLE,
  configPath: (h) => join(dir(h), 'config.toml'),
  files: (h) => [join(dir(h), 'config.toml'), join(dir(h), '.env')],
  detect: (h, exists) => exists(dir(h)),
  connect(current, target, h) {
    const config = join(dir(h), 'config.toml');
    const envFile = join(dir(h), '.env');
    const toml = editToml(current.get(config) ?? null, config, (doc) => {
      // Codex ignores OPENAI_BASE_URL; a provider of its own in config.toml is the way (docs/codex-experiment.md).
      doc.model_provider = PROVIDER;
      const providers = (doc.model_providers ?? {}) as Record<string, unknown>;
      providers[PROVIDER] = { name: 'spendcap', base_url: v1(target.url), env_key: CODEX_ENV_KEY, wire_api: 'responses' };
      doc.model_providers = providers;
    });
    return new Map([
      [config, toml],
      [envFile, editEnv(current.get(envFile) ?? null, { [CODEX_ENV_KEY]: target.token })],
    ]);
  },
  pointsAtSpendcap(current, url, h) {
    const config = join(dir(h), 'config.toml');
    const doc = parseToml(current.get(config) ?? null, config);
    const p = (doc.model_providers as Record<string, Record<string, unknown>> | undefined)?.[PROVIDER];
    const token = parseEnv(current.get(join(dir(h), '.env')) ?? null)[CODEX_ENV_KEY];
    return doc.model_provider === PROVIDER && sameUrl(p?.base_url, v1(url)) && typeof token === 'string' && token.startsWith('sc-');
  },
  afterConnect: `The token is in $CODEX_HOME/.env (${CODEX_ENV_KEY}), which Codex loads at start; an ${CODEX_ENV_KEY} in your shell overrides it.`,
};
