import { restoreFiles } from '../../connectors/index.js';
import { revokeKeyToken } from '../../keys/index.js';
import { parse, requireName } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { connector } from './connect.js';

export async function disconnect(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const agent = connector(requireName(positionals, 'agent', 'spendcap disconnect AGENT'));
  const { store } = openStore(values['data-dir'], io);
  try {
    const c = await store.connections.get(agent.id);
    if (!c) throw new UsageError(`${agent.name} was not connected by spendcap connect (see: spendcap agents)`);
    const restored = restoreFiles(c.files);
    let revoked = false;
    if (c.tokenId !== null && (await store.keys.byName(c.keyName))) {
      try {
        await revokeKeyToken(store, c.keyName, String(c.tokenId));
        revoked = true;
      } catch {
        // Already revoked by hand: nothing left to do.
      }
    }
    await store.connections.remove(agent.id);
    if (values.json) {
      io.out(JSON.stringify({ agent: agent.id, key: c.keyName, tokenRevoked: revoked, files: restored }, null, 2) + '\n');
      return 0;
    }
    io.out(`Disconnected ${agent.name} from key "${c.keyName}"${revoked ? `; token ${c.tokenId} revoked` : ''}.\n`);
    for (const r of restored) {
      io.out(`  ${r.removed ? 'removed' : 'restored'} ${r.path}\n`);
      if (r.editedSavedAt) io.out(`    it was edited after connect; that version is kept at ${r.editedSavedAt}\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}
