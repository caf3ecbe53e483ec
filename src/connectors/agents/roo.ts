import { join } from 'node:path';
import { editJsonc, parseJsonc } from '../formats.js';
import { OPENAI_STYLE, sameUrl, v1 } from '../types.js';
import type { AgentConnector, AgentHome } from '../types.js';

/** VS Code's user settings folder on each platform. */
export function vscodeUserDir(h: AgentHome): string {
  if (h.platform === 'darwin') return join(h.home, 'Library', 'Application Support', 'Code', 'User');
  if (h.platform === 'win32') return join(h.env.APPDATA || join(h.home, 'AppData', 'Roaming'), 'Code', 'User');
  return join(h.env.XDG_CONFIG_HOME || join(h.home, '.config'), 'Code', 'User');
}

const SETTING = 'roo-cline.autoImportSettingsPath';
const PROFILE = 'spendcap';

/**
 * Roo Code keeps provider profiles in VS Code's secret storage, which no file reaches; what a file
 * can do is its `roo-cline.autoImportSettingsPath` setting: at VS Code start Roo imports the
 * profiles of that JSON file. So connect writes a one-profile import file and points the setting at it.
 */
export const roo: AgentConnector = {
  id: 'roo',
  aliases: ['roo-code', 'roo-cline'],
  name: 'Roo Code (VS Code)',
  providers: ['anthropic', ...OPENAI_STYLE],
  configPath: (h) => join(vscodeUserDir(h), 'settings.json'),
  files: (h) => [join(vscodeUserDir(h), 'settings.json'), join(vscodeUserDir(h), 'roo-spendcap-import.json')],
  detect: (h, exists) => exists(vscodeUserDir(h)),
  connect(current, target, h) {
    const settings = join(vscodeUserDir(h), 'settings.json');
    const importFile = join(vscodeUserDir(h), 'roo-spendcap-import.json');
    const profile =
      target.provider === 'anthropic'
        ? { apiProvider: 'anthropic', anthropicBaseUrl: target.url, apiKey: target.token }
        : { apiProvider: 'openai', openAiBaseUrl: v1(target.url), openAiApiKey: target.token };
    const exported = { providerProfiles: { currentApiConfigName: PROFILE, apiConfigs: { [PROFILE]: { id: PROFILE, ...profile } } } };
    return new Map([
      [settings, editJsonc(current.get(settings) ?? null, settings, [[[SETTING], importFile]])],
      [importFile, editJsonc(null, importFile, [[['providerProfiles'], exported.providerProfiles]])],
    ]);
  },
  pointsAtSpendcap(current, url, h) {
    const settings = join(vscodeUserDir(h), 'settings.json');
    const importFile = join(vscodeUserDir(h), 'roo-spendcap-import.json');
    if (parseJsonc(current.get(settings) ?? null, settings)[SETTING] !== importFile) return false;
    const profiles = parseJsonc(current.get(importFile) ?? null, importFile).providerProfiles as { apiConfigs?: Record<string, Record<string, unknown>> } | undefined;
    const p = profiles?.apiConfigs?.[PROFILE];
    return sameUrl(p?.anthropicBaseUrl, url) || sameUrl(p?.openAiBaseUrl, v1(url));
  },
  afterConnect: 'Restart VS Code: Roo Code imports the "spendcap" profile at start.',
};
