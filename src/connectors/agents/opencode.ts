import { join } from 'node:path';
import { editJsonc, parseJsonc } from '../formats.js';
import { isToken, OPENAI_STYLE, sameUrl, v1 } from '../types.js';
import type { AgentConnector, AgentHome, FileTexts } from '../types.js';
import type { ProviderId } from '../../pricing/index.js';

function dir(h: AgentHome): string {
  return join(h.env.XDG_CONFIG_HOME || join(h.home, '.config'), 'opencode');
}

/** opencode.jsonc when the user has one, else opencode.json. */
function configOf(current: FileTexts | null, h: AgentHome, exists?: (p: string) => boolean): string {
  const jsonc = join(dir(h), 'opencode.jsonc');
  if (current ? (current.get(jsonc) ?? null) !== null : exists?.(jsonc)) return jsonc;
  return join(dir(h), 'opencode.json');
}

/** opencode's provider id for a key's provider, and the base URL its AI SDK provider expects. */
function entry(provider: ProviderId, url: string): { id: string; baseURL: string } {
  if (provider === 'anthropic') return { id: 'anthropic', baseURL: v1(url) };
  if (provider === 'gemini') return { id: 'google', baseURL: `${url.replace(/\/+$/, '')}/v1beta` };
  if (provider === 'openrouter') return { id: 'openrouter', baseURL: v1(url) };
  return { id: 'openai', baseURL: v1(url) };
}

export const opencode: AgentConnector = {
  id: 'opencode',
  aliases: [],
  name: 'opencode',
  providers: ['anthropic', 'gemini', ...OPENAI_STYLE],
  configPath: (h) => join(dir(h), 'opencode.json'),
  files: (h) => [join(dir(h), 'opencode.json'), join(dir(h), 'opencode.jsonc')],
  detect: (h, exists) => exists(dir(h)),
  connect(current, target, h) {
    const path = configOf(current, h);
    const text = current.get(path) ?? null;
    const e = entry(target.provider, target.url);
    const changes: Array<[string[], unknown]> = [
      [['provider', e.id, 'options', 'baseURL'], e.baseURL],
      [['provider', e.id, 'options', 'apiKey'], target.token],
    ];
    if (text === null) changes.unshift([['$schema'], 'https://opencode.ai/config.json']);
    return new Map([[path, editJsonc(text, path, changes)]]);
  },
  pointsAtSpendcap(current, url, h) {
    const path = configOf(current, h);
    const providers = (parseJsonc(current.get(path) ?? null, path).provider ?? {}) as Record<string, { options?: Record<string, unknown> }>;
    return Object.values(providers).some((p) => typeof p.options?.baseURL === 'string' && (sameUrl(p.options.baseURL, v1(url)) || sameUrl(p.options.baseURL, `${url.replace(/\/+$/, '')}/v1beta`)) && isToken(p.options.apiKey));
  },
  afterConnect: 'Pick a model of that provider in opencode (e.g. --model anthropic/claude-sonnet-4-5).',
};
