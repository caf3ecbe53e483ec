// The one place where `provider-key --agent AGENT` meets the agent connectors (src/connectors/, built
// on another branch). Until the lead wires it, it connects nothing and the CLI prints the command to run.
import type { Io } from '../cli/context.js';

export interface ConnectRequest {
  agent: string;
  /** The spendcap key provider-key just created. */
  keyName: string;
  dataDir: string;
  io: Io;
}

/**
 * Connects AGENT to the spendcap key; true when it did. WIRE HERE: call the connector of
 * src/connectors/ (as `spendcap connect AGENT --key NAME` does) and return true.
 */
export async function connectAgent(req: ConnectRequest): Promise<boolean> {
  void req;
  return false;
}
