// A Host that records what the extension shows and answers like a user would, for the tests.
import type { ExtensionSettings } from '../../src/discovery';
import type { Host, StatusView } from '../../src/host';
import type { PickRow } from '../../src/view';

export interface Shown {
  kind: 'info' | 'warn' | 'error';
  message: string;
  buttons: string[];
}

export class TestHost implements Host {
  statuses: StatusView[] = [];
  notes: Shown[] = [];
  logs: string[] = [];
  secrets = new Map<string, string>();
  terminals: Array<{ name: string; line: string }> = [];
  clipboard = '';
  opened: string[] = [];
  reports: string[] = [];
  panelOpen = false;
  /** What the user clicks on a notification (undefined: dismisses it). */
  answer: (s: Shown) => string | undefined = () => undefined;
  /** What the user picks in a quick pick. */
  choose: (rows: PickRow[]) => PickRow | undefined = () => undefined;
  typed: string | undefined = undefined;
  /** The terminal's default shell, as VS Code's env.shell says it. */
  shellPath = '/bin/bash';
  onTerminal: (line: string) => void = () => {};

  constructor(public config: ExtensionSettings) {}

  get status(): StatusView | undefined {
    return this.statuses[this.statuses.length - 1];
  }

  setStatus(v: StatusView): void {
    this.statuses.push(v);
  }
  async pick(rows: PickRow[]): Promise<PickRow | undefined> {
    return this.choose(rows);
  }
  showReport(html: string): void {
    this.reports.push(html);
    this.panelOpen = true;
  }
  reportOpen(): boolean {
    return this.panelOpen;
  }
  async notify(kind: Shown['kind'], message: string, buttons: string[]): Promise<string | undefined> {
    const s = { kind, message, buttons };
    this.notes.push(s);
    return this.answer(s);
  }
  async secretGet(key: string): Promise<string | undefined> {
    return this.secrets.get(key);
  }
  async secretStore(key: string, value: string): Promise<void> {
    this.secrets.set(key, value);
  }
  async askSecret(): Promise<string | undefined> {
    return this.typed;
  }
  runInTerminal(name: string, line: string): void {
    this.terminals.push({ name, line });
    this.onTerminal(line);
  }
  async copy(text: string): Promise<void> {
    this.clipboard = text;
  }
  async openExternal(url: string): Promise<void> {
    this.opened.push(url);
  }
  settings(): ExtensionSettings {
    return this.config;
  }
  shell(): string {
    return this.shellPath;
  }
  log(line: string): void {
    this.logs.push(line);
  }
}
