// Host on the real VS Code API. Kept thin: every decision lives in controller.ts, which is tested.
import * as vscode from 'vscode';
import type { ExtensionSettings } from './discovery';
import type { Host, StatusState, StatusView } from './host';
import type { PickRow } from './view';

const BACKGROUND: Partial<Record<StatusState, string>> = {
  warn: 'statusBarItem.warningBackground',
  reached: 'statusBarItem.errorBackground',
  killed: 'statusBarItem.errorBackground',
};
const ICON: Record<StatusState, string> = { ok: '$(pulse)', warn: '$(warning)', reached: '$(error)', killed: '$(circle-slash)', off: '$(debug-disconnect)', connecting: '$(sync~spin)', 'no-token': '$(debug-disconnect)', empty: '$(pulse)' };

export class VscodeHost implements Host {
  readonly #ctx: vscode.ExtensionContext;
  readonly #item: vscode.StatusBarItem;
  readonly #out: vscode.OutputChannel;
  #panel: vscode.WebviewPanel | null = null;

  constructor(ctx: vscode.ExtensionContext) {
    this.#ctx = ctx;
    this.#item = vscode.window.createStatusBarItem('spendcap.status', vscode.StatusBarAlignment.Right, 100);
    this.#item.name = 'spendcap';
    this.#out = vscode.window.createOutputChannel('spendcap');
    ctx.subscriptions.push(this.#item, this.#out);
    this.#item.show();
  }

  setStatus(v: StatusView): void {
    this.#item.text = `${ICON[v.state]} ${v.text}`;
    this.#item.tooltip = v.tooltip;
    this.#item.command = v.command;
    const bg = BACKGROUND[v.state];
    this.#item.backgroundColor = bg === undefined ? undefined : new vscode.ThemeColor(bg);
  }

  async pick(rows: PickRow[], placeholder: string): Promise<PickRow | undefined> {
    const items = rows.map((r) => ({ label: r.label, description: r.description, detail: r.detail, row: r }));
    const chosen = await vscode.window.showQuickPick(items, { placeHolder: placeholder, matchOnDescription: true });
    return chosen?.row;
  }

  showReport(html: string): void {
    if (this.#panel === null) {
      this.#panel = vscode.window.createWebviewPanel('spendcap.report', 'spendcap', vscode.ViewColumn.Beside, { enableScripts: false });
      this.#panel.onDidDispose(() => (this.#panel = null));
    }
    this.#panel.webview.html = html.replace("style-src 'unsafe-inline' ", `style-src 'unsafe-inline' ${this.#panel.webview.cspSource} `);
  }

  reportOpen(): boolean {
    return this.#panel !== null;
  }

  notify(kind: 'info' | 'warn' | 'error', message: string, buttons: string[]): Promise<string | undefined> {
    const show = kind === 'info' ? vscode.window.showInformationMessage : kind === 'warn' ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
    return Promise.resolve(show(message, ...buttons));
  }

  secretGet(key: string): Promise<string | undefined> {
    return Promise.resolve(this.#ctx.secrets.get(key));
  }

  secretStore(key: string, value: string): Promise<void> {
    return Promise.resolve(this.#ctx.secrets.store(key, value));
  }

  askSecret(prompt: string): Promise<string | undefined> {
    return Promise.resolve(vscode.window.showInputBox({ prompt, password: true, ignoreFocusOut: true }));
  }

  runInTerminal(name: string, commandLine: string): void {
    const t = vscode.window.createTerminal({ name });
    t.show();
    t.sendText(commandLine, true);
  }

  copy(text: string): Promise<void> {
    return Promise.resolve(vscode.env.clipboard.writeText(text));
  }

  async openExternal(url: string): Promise<void> {
    await vscode.env.openExternal(vscode.Uri.parse(url, true));
  }

  settings(): ExtensionSettings {
    const c = vscode.workspace.getConfiguration('spendcap');
    return {
      url: c.get<string>('url', ''),
      dataDir: c.get<string>('dataDir', ''),
      command: c.get<string>('command', 'spendcap'),
      budget: c.get<string>('budget', ''),
      notifications: c.get<boolean>('notifications', true),
    };
  }

  shell(): string {
    return vscode.env.shell ?? '';
  }

  log(line: string): void {
    this.#out.appendLine(`${new Date().toISOString().slice(11, 19)} ${line}`);
  }
}
