import { existsSync } from 'node:fs';
import { CONNECTORS, readTexts } from '../../connectors/index.js';
import { parse } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { table, when } from '../format.js';
import { agentHome, serverUrl } from './connect.js';

export async function agents(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { url: { type: 'string' } }, false);
  const { store, dataDir } = openStore(values['data-dir'], io);
  try {
    const h = agentHome(io);
    const connections = new Map((await store.connections.list()).map((c) => [c.agent, c]));
    const fallbackUrl = await serverUrl(typeof values.url === 'string' ? values.url : undefined, dataDir, store);
    const rows = CONNECTORS.map((a) => {
      const c = connections.get(a.id);
      const url = c?.url ?? fallbackUrl;
      let points: boolean | null;
      try {
        points = a.pointsAtSpendcap(readTexts(a.files(h)), url, h);
      } catch {
        points = null; // the file no longer parses
      }
      return { agent: a.id, name: a.name, detected: a.detect(h, existsSync), connected: c !== undefined, key: c?.keyName ?? null, tokenId: c?.tokenId ?? null, url, pointsAtSpendcap: points, config: a.configPath(h), connectedAt: c ? new Date(c.connectedAt).toISOString() : null };
    });
    if (values.json) {
      io.out(JSON.stringify(rows, null, 2) + '\n');
      return 0;
    }
    const state = (r: (typeof rows)[number]) =>
      r.connected ? (r.pointsAtSpendcap ? 'connected' : r.pointsAtSpendcap === null ? 'connected, config unreadable' : 'connected, but the config no longer points at spendcap') : r.pointsAtSpendcap ? 'points at spendcap (set by hand)' : r.detected ? 'not connected' : 'not found';
    io.out(table([['AGENT', 'STATE', 'KEY', 'URL', 'SINCE', 'CONFIG'], ...rows.map((r) => [r.agent, state(r), r.key ?? '', r.connected || r.pointsAtSpendcap ? r.url : '', r.connectedAt ? when(Date.parse(r.connectedAt)) : '', r.config])]));
    return 0;
  } finally {
    await store.close();
  }
}
