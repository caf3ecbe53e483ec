// The one place where `provider-key --agent AGENT` meets the agent connectors (src/connectors/):
// the same path as `spendcap connect AGENT --key NAME`, so the agent gets a token of its own.
import type { Io } from '../cli/context.js';

export interface ConnectRequest {
  agent: string;
  /** The spendcap key provider-key just created. */
  keyName: string;
  dataDir: string;
  io: Io;
}

/** Connects AGENT to the spendcap key; true when it did. What connect prints goes to stderr, so a --json stdout stays one document. */
export async function connectAgent(req: ConnectRequest): Promise<boolean> {
  const { connect } = await import('../cli/commands/connect.js');
  const io: Io = { ...req.io, out: req.io.err };
  try {
    return (await connect([req.agent, '--key', req.keyName, '--data-dir', req.dataDir], io)) === 0;
  } catch (err) {
    req.io.err(`spendcap: could not connect ${req.agent}: ${(err as Error).message}\n`);
    return false;
  }
}
