import type { Io } from '../context.js';

export async function run(_argv: string[], io: Io): Promise<number> {
  io.err('not yet\n');
  return 1;
}
