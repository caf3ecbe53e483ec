import { parse, requireName, usd } from '../args.js';
import { openStore } from '../context.js';
import type { Io } from '../context.js';
import { UsageError } from '../errors.js';
import { printable, table, usd as fmt } from '../format.js';

/** Prices on the command line are USD per million tokens; stored as n$ per million tokens. */
export async function price(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parse(rest, { input: { type: 'string' }, output: { type: 'string' }, 'cache-read': { type: 'string' }, 'cache-write': { type: 'string' } });
  const { store } = openStore(values['data-dir'], io);
  try {
    switch (sub) {
      case 'set': {
        const model = requireName(positionals, 'model', 'spendcap price set MODEL --input USD --output USD [--cache-read USD] [--cache-write USD]');
        const p = {
          model,
          input: usd(values.input, '--input'),
          output: usd(values.output, '--output'),
          cacheRead: values['cache-read'] === undefined ? null : usd(values['cache-read'], '--cache-read'),
          cacheWrite: values['cache-write'] === undefined ? null : usd(values['cache-write'], '--cache-write'),
        };
        await store.prices.set(p);
        await store.events.insert({ ts: Date.now(), kind: 'price-set', budget: null, channel: 'cli', capBeforeNanos: null, capAfterNanos: null, detail: JSON.stringify(p) });
        io.out(values.json ? JSON.stringify(p) + '\n' : `Price for ${printable(model)}: ${fmt(p.input)} in / ${fmt(p.output)} out per million tokens.\n`);
        return 0;
      }
      case 'rm': {
        const model = requireName(positionals, 'model', 'spendcap price rm MODEL');
        io.out((await store.prices.remove(model)) ? `Removed the price override for ${printable(model)}.\n` : `No override for ${printable(model)}.\n`);
        return 0;
      }
      case 'list':
      case 'ls': {
        const list = (await store.prices.list());
        if (values.json) io.out(JSON.stringify(list, null, 2) + '\n');
        else if (list.length === 0) io.out('No price overrides; every model is priced from the bundled catalogue (@pydantic/genai-prices).\n');
        else io.out(table([['MODEL', 'INPUT', 'OUTPUT', 'CACHE READ', 'CACHE WRITE'], ...list.map((p) => [p.model, fmt(p.input), fmt(p.output), p.cacheRead === null ? 'default' : fmt(p.cacheRead), p.cacheWrite === null ? 'default' : fmt(p.cacheWrite)])]));
        return 0;
      }
      default:
        throw new UsageError('usage: spendcap price set|list|rm …');
    }
  } finally {
    await store.close();
  }
}
