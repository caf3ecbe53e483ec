// Setup help the CLI and the dashboard both show: the Slack app manifest and a copy-paste
// walkthrough per channel kind.
import type { ChannelKind } from './registry.js';
import { slackAppManifest } from './channels/slack/index.js';

/** A Slack app in Socket Mode (no public URL) with a bot that may post and update its messages: the Slack channel's own manifest. */
export function slackManifest(appName = 'spendcap'): Record<string, unknown> {
  return slackAppManifest(appName);
}

export interface Walkthrough {
  kind: ChannelKind;
  title: string;
  steps: string[];
  command: string;
}

export const WALKTHROUGHS: readonly Walkthrough[] = [
  {
    kind: 'telegram',
    title: 'Telegram (buttons, from anywhere)',
    steps: [
      'In Telegram, open @BotFather, send /newbot, pick a name; it answers with a bot token like 123456:ABC…',
      'Open your new bot and send it /start (spendcap may only write to chats that wrote first).',
      'Find your chat id: open https://api.telegram.org/bot<TOKEN>/getUpdates in a browser and read message.chat.id: the first update after your /start carries it.',
      'Add the channel, then send a test.',
    ],
    command: 'spendcap alerts add telegram --bot-token 123456:ABC… --chat-id 987654321 && spendcap alerts test telegram',
  },
  {
    kind: 'slack',
    title: 'Slack (buttons in Socket Mode, no public URL)',
    steps: [
      'Print the app manifest: spendcap alerts slack-manifest',
      'At https://api.slack.com/apps choose Create New App → From a manifest, pick the workspace, paste the manifest.',
      'Basic Information → App-Level Tokens → Generate, scope connections:write: that is the xapp-… token.',
      'Install App → Install to Workspace: copy the Bot User OAuth Token (xoxb-…). Invite the bot to the channel: /invite @spendcap',
      'Add the channel, then send a test. (Plain alerts without buttons: an incoming webhook URL with --webhook-url.)',
    ],
    command: 'spendcap alerts add slack --bot-token xoxb-… --app-token xapp-… --channel C0123456789 && spendcap alerts test slack',
  },
  {
    kind: 'webhook',
    title: 'Webhook (JSON POST, signed)',
    steps: [
      'Any HTTPS endpoint that accepts a JSON POST (ntfy, n8n, Zapier, your own).',
      'With --secret, each request carries X-Spendcap-Signature: sha256=<HMAC-SHA256 of the body>; compare it before trusting the body.',
      'Per budget: add one webhook per budget with --budget NAME.',
    ],
    command: 'spendcap alerts add webhook --url https://example.com/hook --secret "$(openssl rand -hex 16)" && spendcap alerts test webhook',
  },
  {
    kind: 'email',
    title: 'Email (SMTP)',
    steps: ['Use your mail provider’s SMTP submission server: smtps://user:password@host:465, or smtp://…:587 with STARTTLS.', 'The password is encrypted at rest with the data dir’s secret.key.'],
    command: 'spendcap alerts add email --smtp smtps://me%40example.com:APP_PASSWORD@smtp.example.com:465 --to me@example.com && spendcap alerts test email',
  },
  {
    kind: 'desktop',
    title: 'Desktop notification (this machine)',
    steps: ['Linux needs notify-send (libnotify-bin); macOS uses osascript; Windows a PowerShell toast.'],
    command: 'spendcap alerts add desktop && spendcap alerts test desktop',
  },
];
