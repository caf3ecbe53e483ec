// Stub until the slack channel lands (built by the chat-channels helper, who replaces this file).
import type { AlertChannel, ChannelConfig } from '../../types.js';

export function factory(config: ChannelConfig): AlertChannel {
  throw new Error(`the slack alert channel "${config.name}" is not built in this version of spendcap`);
}
export default factory;
