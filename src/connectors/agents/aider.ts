import { join } from 'node:path';
import { editYaml, editYamlSeqItem, parseYaml } from '../formats.js';
import { isToken, OPENAI_STYLE, sameUrl, v1 } from '../types.js';
import type { AgentConnector } from '../types.js';

const BASE_VAR = 'ANTHROPIC_BASE_URL';

export const aider: AgentConnector = {
  id: 'aider',
  aliases: [],
  name: 'Aider',
  providers: ['anthropic', ...OPENAI_STYLE],
  configPath: (h) => join(h.home, '.aider.conf.yml'),
  files: (h) => [join(h.home, '.aider.conf.yml')],
  detect: (h, exists) => exists(join(h.home, '.aider.conf.yml')) || exists(join(h.home, '.aider')),
  connect(current, target, h) {
    const path = join(h.home, '.aider.conf.yml');
    const text = current.get(path) ?? null;
    if (target.provider === 'anthropic') {
      // Aider has no --anthropic-api-base; its set-env list puts the variable in litellm's environment.
      const withKey = editYaml(text, path, [[['anthropic-api-key'], target.token]]);
      return new Map([[path, editYamlSeqItem(withKey, path, 'set-env', `${BASE_VAR}=`, `${BASE_VAR}=${target.url}`)]]);
    }
    const changes: Array<[string[], unknown]> = [
      [['openai-api-base'], v1(target.url)],
      [['openai-api-key'], target.token],
    ];
    return new Map([[path, editYaml(text, path, changes)]]);
  },
  pointsAtSpendcap(current, url, h) {
    const path = join(h.home, '.aider.conf.yml');
    const doc = parseYaml(current.get(path) ?? null, path);
    const openai = sameUrl(doc['openai-api-base'], v1(url)) && isToken(doc['openai-api-key']);
    const setEnv = Array.isArray(doc['set-env']) ? (doc['set-env'] as unknown[]) : [];
    const anthropic = setEnv.some((e) => typeof e === 'string' && e.startsWith(`${BASE_VAR}=`) && sameUrl(e.slice(BASE_VAR.length + 1), url)) && isToken(doc['anthropic-api-key']);
    return openai || anthropic;
  },
};
