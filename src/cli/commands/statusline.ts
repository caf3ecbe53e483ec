import type { Io } from '../context.js';

export async function statusline(_argv: string[], io: Io): Promise<number> {
  io.err('not yet\n');
  return 1;
}
