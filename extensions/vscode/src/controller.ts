// The extension's behaviour, independent of VS Code: connect, follow the live stream, keep the status
// bar true, alert, and run the commands. Talks to the editor only through Host.
import { execFile } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { alertsFor, cutAlerts } from './alerts';
import type { Alert } from './alerts';
import { AdminClient, SpendcapApiError } from './api';
import { commandWords, envLines, findTokens, resolvePlace, SECRET_KEY, shellKind, startCommandLine } from './discovery';
import type { Place, TokenSource } from './discovery';
import type { Host, StatusView } from './host';
import { LiveFollower } from './live';
import type { LiveOptions, LiveStatus } from './live';
import { LIFT_STEPS, QUICK_LIFT, formatCap, formatCents } from './money';
import type { Money } from './money';
import { budgetState, mergeBudgets, pickBudget, spendText } from './model';
import type { Budget } from './model';
import { buildReport } from './report';
import { quickPickRows, reportHtml } from './view';

export const PLUS_FIVE = `+${formatCap(QUICK_LIFT)}`;
export const OPEN_DASHBOARD = 'Open dashboard';

export interface ControllerOptions {
  live?: LiveOptions;
  /** Wait after a burst of live events before refreshing an open panel or checking for cut responses. */
  settleMs?: number;
  home?: string;
  env?: NodeJS.ProcessEnv;
}

/** The controller's mutable state, in one place. */
interface State {
  place: Place | null;
  client: AdminClient | null;
  follower: LiveFollower | null;
  live: LiveStatus | 'no-token';
  budgets: Budget[];
  /** The budget the user picked in the quick pick (wins over the setting until reload). */
  chosen: string | undefined;
  thresholds: number[];
  /** Cut responses are looked for from here on (ISO of the last one seen + 1 ms). */
  cutSince: Date;
  settleTimer: NodeJS.Timeout | null;
  /**
   * Re-read the budgets at the next settle: after one of our own actions the bar shows its answer,
   * but the live stream sends only the net change since its last push, so a state that flips back
   * within its window (our unkill, then a kill from elsewhere) would never reach us.
   */
  recheck: boolean;
  /** Tokens not tried yet on this connection (the typed one after the file's). */
  tokens: Array<{ token: string; source: TokenSource }>;
}

export class Controller {
  readonly #host: Host;
  readonly #opts: ControllerOptions;
  readonly #s: State = { place: null, client: null, follower: null, live: 'connecting', budgets: [], chosen: undefined, thresholds: [], cutSince: new Date(), settleTimer: null, recheck: false, tokens: [] };
  /** Every alert raised, newest last (the tests read it; notifications may be off). */
  readonly alerts: Alert[] = [];

  constructor(host: Host, opts: ControllerOptions = {}) {
    this.#host = host;
    this.#opts = opts;
  }

  get budgets(): readonly Budget[] {
    return this.#s.budgets;
  }

  get liveStatus(): LiveStatus | 'no-token' {
    return this.#s.live;
  }

  get follower(): LiveFollower | null {
    return this.#s.follower;
  }

  /** (Re)connects with the current settings and token. */
  async start(): Promise<void> {
    this.stop();
    const place = resolvePlace(this.#host.settings(), this.#opts.env ?? process.env, this.#opts.home ?? homedir());
    this.#s.place = place;
    this.#s.cutSince = new Date();
    const tokens = await findTokens(place.dataDir, () => this.#host.secretGet(SECRET_KEY));
    this.#s.tokens = tokens.slice(1);
    const found = tokens[0];
    if (found === undefined) {
      this.#s.live = 'no-token';
      this.#host.log(`no admin token in ${join(place.dataDir, 'admin-token')} nor typed: waiting for spendcap to start, or for "spendcap: Enter the admin token"`);
      this.#render();
      // spendcap writes the token at its first start: try the file again when the user starts it.
      return;
    }
    this.#connect(place, found);
  }

  #connect(place: Place, found: { token: string; source: TokenSource }): void {
    this.#host.log(`connecting to ${place.url} (token from ${found.source === 'data-dir' ? join(place.dataDir, 'admin-token') : 'VS Code secret storage'})`);
    const client = new AdminClient({ url: place.url, token: found.token });
    this.#s.client = client;
    const follower = new LiveFollower(
      client,
      {
        status: (st, detail) => this.#onStatus(st, detail),
        snapshot: (b) => this.#onSnapshot(b),
        spend: (changed, removed) => this.#onSpend(changed, removed),
      },
      this.#opts.live,
    );
    this.#s.follower = follower;
    follower.start();
  }

  stop(): void {
    this.#s.follower?.stop();
    this.#s.follower = null;
    this.#s.client = null;
    if (this.#s.settleTimer !== null) clearTimeout(this.#s.settleTimer);
    this.#s.settleTimer = null;
  }

  /** The budget the status bar shows. */
  current(): Budget | undefined {
    return pickBudget(this.#s.budgets, this.#s.chosen ?? (this.#host.settings().budget || undefined));
  }

  statusView(): StatusView {
    const url = this.#s.place?.url ?? '';
    switch (this.#s.live) {
      case 'no-token':
        return { text: 'spendcap: off', tooltip: `No admin token yet. Click to start spendcap in a terminal (it writes one), or run "spendcap: Enter the admin token".`, state: 'no-token', command: 'spendcap.start' };
      case 'unauthorized':
        return { text: 'spendcap: token?', tooltip: `spendcap at ${url} refused the admin token. Click to enter it.`, state: 'off', command: 'spendcap.setToken' };
      case 'off':
        return { text: 'spendcap: off', tooltip: `spendcap is not running at ${url}. Click to start it in a terminal.`, state: 'off', command: 'spendcap.start' };
      case 'connecting':
        if (this.#s.budgets.length === 0) return { text: 'spendcap: …', tooltip: `Connecting to ${url}`, state: 'connecting', command: 'spendcap.showDetails' };
        break;
      case 'live':
        break;
    }
    const b = this.current();
    if (b === undefined) return { text: 'spendcap: no budget', tooltip: 'spendcap runs but has no budget yet: spendcap key add NAME --cap 15 …', state: 'empty', command: 'spendcap.showDetails' };
    const state = budgetState(b);
    const text = `${spendText(b)}${state === 'killed' ? ' killed' : ''}`;
    const tooltip = `spendcap budget "${b.name}" (${b.scope}, ${b.period}): ${text}, held ${formatCents(b.held)}. Click for every budget, today's spend and the burn rate.`;
    return { text, tooltip, state, command: 'spendcap.showDetails' };
  }

  #render(): void {
    this.#host.setStatus(this.statusView());
  }

  #onStatus(st: LiveStatus, detail?: string): void {
    const next = this.#s.tokens.shift();
    if (st === 'unauthorized' && next !== undefined && this.#s.place !== null) {
      this.#host.log('the admin token was refused: trying the next one');
      this.#s.follower?.stop();
      this.#connect(this.#s.place, next);
      return;
    }
    if (next !== undefined) this.#s.tokens.unshift(next);
    if (st !== this.#s.live) this.#host.log(`live stream: ${st}${detail ? ` (${detail})` : ''}`);
    this.#s.live = st;
    this.#render();
  }

  #onSnapshot(budgets: Budget[]): void {
    // The snapshot lacks ceilings and period ends: fetch the full list once per connection.
    this.#s.budgets = mergeBudgets(this.#s.budgets.filter((b) => budgets.some((n) => n.name === b.name)), budgets, []);
    this.#render();
    void this.#refreshFull();
  }

  async #refreshFull(): Promise<void> {
    const c = this.#s.client;
    if (c === null) return;
    try {
      const [full, settings] = await Promise.all([c.budgets(), c.settings()]);
      this.#s.thresholds = settings.thresholds;
      this.#s.budgets = mergeBudgets(this.#s.budgets, full, []);
      this.#render();
    } catch (err) {
      this.#host.log(`could not read the budgets: ${(err as Error).message}`);
    }
  }

  #onSpend(changed: Budget[], removed: string[]): void {
    const known = new Map(this.#s.budgets.map((b) => [b.name, b]));
    const alerts = alertsFor(known, changed, this.#s.thresholds);
    this.#s.budgets = mergeBudgets(this.#s.budgets, changed, removed);
    this.#render();
    for (const a of alerts) this.#alert(a);
    this.#settleLater();
  }

  /** After a burst of live events: look for cut responses, refresh an open panel. Nothing runs when idle. */
  #settleLater(): void {
    if (this.#s.settleTimer !== null) return;
    this.#s.settleTimer = setTimeout(() => {
      this.#s.settleTimer = null;
      void this.#settle();
    }, this.#opts.settleMs ?? 750);
  }

  async #settle(): Promise<void> {
    const c = this.#s.client;
    if (c === null) return;
    try {
      if (this.#s.recheck) {
        this.#s.recheck = false;
        this.#applyFull(await c.budgets());
      }
      const cuts = await c.usage({ since: this.#s.cutSince, outcome: 'cut', limit: 100 });
      if (cuts.items.length > 0) {
        const newest = Math.max(...cuts.items.map((r) => Date.parse(String(r.ts))).filter((t) => Number.isFinite(t)));
        if (Number.isFinite(newest)) this.#s.cutSince = new Date(newest + 1);
        for (const a of cutAlerts(cuts.items)) this.#alert(a);
      }
      if (this.#host.reportOpen()) await this.showReport();
    } catch (err) {
      this.#host.log(`could not check for cut responses: ${(err as Error).message}`);
    }
  }

  /** A full listing read after our own action: alerts for what changed meanwhile, then the bar. */
  #applyFull(full: Budget[]): void {
    const known = new Map(this.#s.budgets.map((b) => [b.name, b]));
    const alerts = alertsFor(known, full, this.#s.thresholds);
    this.#s.budgets = mergeBudgets(this.#s.budgets.filter((b) => full.some((n) => n.name === b.name)), full, []);
    this.#render();
    for (const a of alerts) this.#alert(a);
  }

  #alert(a: Alert): void {
    this.alerts.push(a);
    this.#host.log(a.message);
    if (!this.#host.settings().notifications) return;
    const kind = a.kind === 'threshold' ? 'warn' : 'error';
    void this.#host.notify(kind, a.message, [PLUS_FIVE, OPEN_DASHBOARD]).then(async (choice) => {
      if (choice === PLUS_FIVE) await this.lift(QUICK_LIFT, a.budget);
      else if (choice === OPEN_DASHBOARD) await this.openDashboard();
    });
  }

  #need(): AdminClient | null {
    if (this.#s.client === null || this.#s.live === 'off' || this.#s.live === 'no-token') {
      void this.#host.notify('warn', 'spendcap is not running (or has no admin token yet).', ['Start spendcap']).then((c) => {
        if (c === 'Start spendcap') this.startServerInTerminal();
      });
      return null;
    }
    return this.#s.client;
  }

  /** Runs an action on `name` (default: the status bar's budget) and reports it. */
  async #act(what: string, name: string | undefined, run: (c: AdminClient, name: string) => Promise<Budget>): Promise<Budget | null> {
    const c = this.#need();
    if (c === null) return null;
    const target = name ?? this.current()?.name;
    if (target === undefined) {
      void this.#host.notify('warn', 'spendcap has no budget yet.', []);
      return null;
    }
    try {
      const b = await run(c, target);
      this.#s.budgets = mergeBudgets(this.#s.budgets, [b], []);
      this.#render();
      this.#s.recheck = true;
      this.#settleLater();
      void this.#host.notify('info', `spendcap: ${what} "${b.name}": now ${spendText(b)}${b.killed ? ' (killed)' : ''}.`, []);
      return b;
    } catch (err) {
      const msg = err instanceof SpendcapApiError ? err.message : String(err);
      void this.#host.notify('error', `spendcap: could not ${what} "${target}": ${msg}`, []);
      return null;
    }
  }

  lift(by: Money | 'ceiling', name?: string): Promise<Budget | null> {
    return this.#act(by === 'ceiling' ? 'lift to the ceiling' : `lift by ${formatCap(by)}`, name, (c, n) => c.lift(n, by));
  }

  kill(name?: string): Promise<Budget | null> {
    return this.#act('kill', name, (c, n) => c.kill(n));
  }

  unkill(name?: string): Promise<Budget | null> {
    return this.#act('unkill', name, (c, n) => c.unkill(n));
  }

  /** The click: every budget, today's figures, and the actions. */
  async showDetails(): Promise<void> {
    const c = this.#need();
    if (c === null) return;
    let rows;
    try {
      rows = quickPickRows(await buildReport(c));
    } catch (err) {
      void this.#host.notify('error', `spendcap: ${(err as Error).message}`, []);
      return;
    }
    const actions = [
      { label: '$(graph) Open the report panel', description: '', action: 'report' },
      ...LIFT_STEPS.map((s) => ({ label: `$(arrow-up) Lift +${formatCap(s)}`, description: this.current()?.name ?? '', action: `lift:${s}` })),
      { label: '$(arrow-up) Lift to the ceiling', description: this.current()?.name ?? '', action: 'ceiling' },
      { label: '$(circle-slash) Kill', description: this.current()?.name ?? '', action: 'kill' },
      { label: '$(debug-start) Unkill', description: this.current()?.name ?? '', action: 'unkill' },
      { label: '$(link-external) Open the dashboard', description: 'one-time sign-in link', action: 'dashboard' },
      { label: '$(clippy) Copy the env vars for a terminal', description: '', action: 'env' },
    ];
    const picked = await this.#host.pick([...rows, ...actions.map((a) => ({ label: a.label, description: a.description, budget: `action:${a.action}` }))], 'Pick a budget to show it in the status bar, or an action');
    if (picked?.budget === undefined) return;
    await this.#onPicked(picked.budget);
  }

  async #onPicked(choice: string): Promise<void> {
    if (!choice.startsWith('action:')) {
      this.#s.chosen = choice;
      this.#render();
      return;
    }
    const a = choice.slice('action:'.length);
    if (a === 'report') await this.showReport();
    else if (a.startsWith('lift:')) await this.lift(Number(a.slice(5)));
    else if (a === 'ceiling') await this.lift('ceiling');
    else if (a === 'kill') await this.kill();
    else if (a === 'unkill') await this.unkill();
    else if (a === 'dashboard') await this.openDashboard();
    else if (a === 'env') await this.copyEnv();
  }

  async showReport(): Promise<void> {
    const c = this.#need();
    if (c === null) return;
    this.#host.showReport(reportHtml(await buildReport(c)));
  }

  /** Runs the spendcap CLI (the setting spendcap.command) with the data dir; its stdout. */
  runCli(args: string[]): Promise<string> {
    const place = this.#s.place ?? resolvePlace(this.#host.settings());
    const [cmd, ...pre] = commandWords(this.#host.settings().command);
    return new Promise((resolve, reject) => {
      execFile(cmd!, [...pre, ...args, '--data-dir', place.dataDir], { timeout: 15_000, env: this.#opts.env ?? process.env }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${[cmd, ...pre, ...args].join(' ')} failed: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      });
    });
  }

  /** A one-time sign-in link from `spendcap dashboard --json --no-open`, opened in the browser. */
  async openDashboard(): Promise<string | null> {
    try {
      const out = JSON.parse(await this.runCli(['dashboard', '--json', '--no-open'])) as { url?: unknown; running?: unknown };
      if (typeof out.url !== 'string') throw new Error('spendcap dashboard --json gave no url');
      if (out.running === false) void this.#host.notify('warn', 'spendcap is not running: the link works once you start it.', []);
      await this.#host.openExternal(out.url);
      this.#host.log('opened the dashboard with a one-time sign-in link');
      return out.url;
    } catch (err) {
      void this.#host.notify('error', `spendcap: could not open the dashboard: ${(err as Error).message}. Set spendcap.command to how you run spendcap.`, []);
      return null;
    }
  }

  async copyEnv(): Promise<string> {
    const url = (this.#s.place ?? resolvePlace(this.#host.settings())).url;
    const text = envLines(url, shellKind(this.#host.shell()));
    await this.#host.copy(text);
    void this.#host.notify('info', `spendcap: copied the base URLs for ${url}; add your spendcap key (sc-…), shown once when it was made.`, []);
    return text;
  }

  startServerInTerminal(): void {
    const place = this.#s.place ?? resolvePlace(this.#host.settings());
    const home = this.#opts.home ?? homedir();
    const env = this.#opts.env ?? process.env;
    const defaultDir = env.SPENDCAP_HOME ? resolvePlace({ url: '', dataDir: '' }, env, home).dataDir : join(home, '.spendcap');
    this.#host.runInTerminal('spendcap', startCommandLine(this.#host.settings().command, place, defaultDir));
    // The server needs a moment: look for its token (written at its first start) once a second for
    // a minute, then connect without waiting out the stream's backoff.
    this.#awaitStart(Date.now() + 60_000);
  }

  #awaitStart(until: number): void {
    const t = setTimeout(() => {
      if (this.#s.live === 'no-token') {
        void this.start().then(() => {
          if (this.#s.live === 'no-token' && Date.now() < until) this.#awaitStart(until);
        });
      } else this.#s.follower?.reconnectNow();
    }, 1_000);
    t.unref?.();
  }

  async setToken(): Promise<void> {
    const t = await this.#host.askSecret('spendcap admin token (from <data-dir>/admin-token)');
    if (t === undefined || t.trim() === '') return;
    await this.#host.secretStore(SECRET_KEY, t.trim());
    this.#host.log('admin token stored in VS Code secret storage');
    await this.start();
  }
}
