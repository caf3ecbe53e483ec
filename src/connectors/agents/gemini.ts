import { join } from 'node:path';
import { editEnv, editJsonc, parseEnv } from '../formats.js';
import { sameUrl } from '../types.js';
import type { AgentConnector, AgentHome } from '../types.js';

function dir(h: AgentHome): string {
  return join(h.home, '.gemini');
}

export const gemini: AgentConnector = {
  id: 'gemini',
  aliases: ['gemini-cli'],
  name: 'Gemini CLI',
  providers: ['gemini'],
  configPath: (h) => join(dir(h), 'settings.json'),
  files: (h) => [join(dir(h), 'settings.json'), join(dir(h), '.env')],
  detect: (h, exists) => exists(dir(h)),
  connect(current, target, h) {
    const settings = join(dir(h), 'settings.json');
    const envFile = join(dir(h), '.env');
    // settings.json has no base URL: Gemini CLI takes GEMINI_API_KEY and the SDK's GOOGLE_GEMINI_BASE_URL from ~/.gemini/.env.
    return new Map([
      [settings, editJsonc(current.get(settings) ?? null, settings, [[['security', 'auth', 'selectedType'], 'gemini-api-key']])],
      [envFile, editEnv(current.get(envFile) ?? null, { GEMINI_API_KEY: target.token, GOOGLE_GEMINI_BASE_URL: target.url })],
    ]);
  },
  pointsAtSpendcap(current, url, h) {
    const env = parseEnv(current.get(join(dir(h), '.env')) ?? null);
    return sameUrl(env.GOOGLE_GEMINI_BASE_URL, url) && String(env.GEMINI_API_KEY ?? '').startsWith('sc-');
  },
  afterConnect: 'A GEMINI_API_KEY or GOOGLE_GEMINI_BASE_URL set in your shell or a project .env wins over ~/.gemini/.env.',
};
