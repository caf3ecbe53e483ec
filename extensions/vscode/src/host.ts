// Everything the extension needs from VS Code, as a small interface: vscode-host.ts implements it
// with the real API, the tests with a recorder. Nothing else imports 'vscode'.
import type { ExtensionSettings } from './discovery';
import type { BudgetState } from './model';
import type { PickRow } from './view';

export type StatusState = BudgetState | 'off' | 'connecting' | 'no-token' | 'empty';

export interface StatusView {
  text: string;
  tooltip: string;
  state: StatusState;
  /** The command a click runs. */
  command: string;
}

export interface Host {
  setStatus(v: StatusView): void;
  pick(rows: PickRow[], placeholder: string): Promise<PickRow | undefined>;
  /** Opens the report panel, or updates it when open. */
  showReport(html: string): void;
  /** Whether the report panel is open (then live changes refresh it). */
  reportOpen(): boolean;
  notify(kind: 'info' | 'warn' | 'error', message: string, buttons: string[]): Promise<string | undefined>;
  secretGet(key: string): Promise<string | undefined>;
  secretStore(key: string, value: string): Promise<void>;
  /** A password-style input box; undefined when dismissed. */
  askSecret(prompt: string): Promise<string | undefined>;
  runInTerminal(name: string, commandLine: string): void;
  copy(text: string): Promise<void>;
  openExternal(url: string): Promise<void>;
  settings(): ExtensionSettings;
  /** The path of the terminal's default shell (VS Code's env.shell), "" when unknown. */
  shell(): string;
  /** The output channel. Never given a token. */
  log(line: string): void;
}
