// Public face of the Slack alert channel.
export { createSlackChannel, DEFAULT_SLACK_API_URL, REFUSAL_TEXT } from './channel.js';
export type { SlackChannelOptions, SlackRefusal } from './channel.js';
export { SlackChannelError } from './errors.js';
export type { SlackErrorCode } from './errors.js';
export { fieldsSent, formatSlackAppManifest, slackAppManifest, slackMessage, webhookMessage } from './format.js';
