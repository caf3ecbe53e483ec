// Desktop notifications for the person at the machine: notify-send (Linux), osascript (macOS),
// a PowerShell toast (Windows). Spawned, no dependency; the command is found on PATH.
import { spawn } from 'node:child_process';
import type { Alert, AlertChannel, ChannelConfig, DeliveryResult } from '../../types.js';

const TIMEOUT_MS = 10_000;

/** The command and its arguments for this platform; title and body are arguments, never a shell string. */
export function notifyCommand(platform: NodeJS.Platform, title: string, body: string): { cmd: string; args: string[] } {
  if (platform === 'darwin') {
    const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    return { cmd: 'osascript', args: ['-e', `display notification ${q(body)} with title ${q(title)}`] };
  }
  if (platform === 'win32') {
    const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
    const script = [
      '[Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications, ContentType = WindowsRuntime] | Out-Null',
      '$t = [Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent([Windows.UI.Notifications.ToastTemplateType]::ToastText02)',
      `$x = $t.GetElementsByTagName('text'); $x.Item(0).AppendChild($t.CreateTextNode(${q(title)})) | Out-Null; $x.Item(1).AppendChild($t.CreateTextNode(${q(body)})) | Out-Null`,
      "[Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier('spendcap').Show([Windows.UI.Notifications.ToastNotification]::new($t))",
    ].join('; ');
    return { cmd: 'powershell.exe', args: ['-NoProfile', '-NonInteractive', '-Command', script] };
  }
  return { cmd: 'notify-send', args: ['--app-name=spendcap', title, body] };
}

/** What this channel sends, for the Trust page. */
export const FIELDS_SENT: readonly string[] = ['title', 'text (spent, cap, reset, dashboard link)'];

export function createDesktopChannel(config: ChannelConfig): AlertChannel {
  const platform = (config.settings.platform as NodeJS.Platform | undefined) ?? process.platform;
  return {
    kind: 'desktop',
    name: config.name,
    fieldsSent: FIELDS_SENT,
    send(alert: Alert): Promise<DeliveryResult> {
      const body = alert.text.split('\n').filter((l) => !l.startsWith('Dashboard: ')).join('\n');
      const { cmd, args } = notifyCommand(platform, `spendcap: ${alert.title}`, body);
      return new Promise((resolve) => {
        let stderr = '';
        const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: TIMEOUT_MS, windowsHide: true });
        child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')).slice(0, 500));
        child.on('error', (err) => resolve({ ok: false, error: `${cmd} could not run: ${(err as NodeJS.ErrnoException).code ?? err.message}`, retryable: false }));
        child.on('close', (code) => resolve(code === 0 ? { ok: true } : { ok: false, error: `${cmd} exited ${code}: ${stderr.trim().slice(0, 200)}`, retryable: true }));
      });
    },
    stop: async () => {},
  };
}
