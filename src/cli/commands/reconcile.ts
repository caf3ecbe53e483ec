import type { Io } from '../context.js';
import { UsageError } from '../errors.js';

export async function reconcile(argv: string[], io: Io): Promise<number> {
  void argv;
  void io;
  throw new UsageError('reconcile: not yet');
}
