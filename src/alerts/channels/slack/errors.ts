// Typed errors of the Slack channel: a stable code and a message a user can act on (never a token).
export type SlackErrorCode = 'E_SLACK_CONFIG' | 'E_SLACK_CONNECT';

export class SlackChannelError extends Error {
  override readonly name = 'SlackChannelError';
  readonly code: SlackErrorCode;
  constructor(code: SlackErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
