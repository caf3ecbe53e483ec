import type { UnsupportedAgent } from '../types.js';

export const UNSUPPORTED: readonly UnsupportedAgent[] = [
  {
    id: 'cursor',
    aliases: [],
    name: 'Cursor',
    reason:
      'Cursor sends model requests from its own servers, so a base URL on this machine (127.0.0.1) never sees them, and its "Override OpenAI Base URL" lives in its internal state database, not a config file. Use spendcap with Cursor only behind a public URL you expose yourself, set by hand in Cursor Settings > Models.',
  },
  {
    id: 'cline',
    aliases: [],
    name: 'Cline (VS Code)',
    reason:
      'Cline keeps its provider and API key in VS Code\'s secret storage, which no file reaches. Set it by hand: API Provider "Anthropic", "Use custom base URL" = the spendcap URL, API key = a token from `spendcap key tokens`; or use Roo Code (`spendcap connect roo`).',
  },
];
