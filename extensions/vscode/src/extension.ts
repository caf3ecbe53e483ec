// Entry point: wires the commands to the controller.
import * as vscode from 'vscode';
import { Controller } from './controller';
import { LIFT_STEPS } from './money';
import { VscodeHost } from './vscode-host';

let controller: Controller | null = null;

export function activate(ctx: vscode.ExtensionContext): void {
  const c = new Controller(new VscodeHost(ctx));
  controller = c;
  const [one, five, ten] = LIFT_STEPS;
  const commands: Record<string, () => unknown> = {
    'spendcap.showDetails': () => c.showDetails(),
    'spendcap.pickBudget': () => c.showDetails(),
    'spendcap.lift1': () => c.lift(one!),
    'spendcap.lift5': () => c.lift(five!),
    'spendcap.lift10': () => c.lift(ten!),
    'spendcap.liftToCeiling': () => c.lift('ceiling'),
    'spendcap.kill': () => c.kill(),
    'spendcap.unkill': () => c.unkill(),
    'spendcap.openDashboard': () => c.openDashboard(),
    'spendcap.copyEnv': () => c.copyEnv(),
    'spendcap.start': () => c.startServerInTerminal(),
    'spendcap.setToken': () => c.setToken(),
  };
  for (const [id, run] of Object.entries(commands)) ctx.subscriptions.push(vscode.commands.registerCommand(id, run));
  ctx.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('spendcap')) void c.start();
    }),
    { dispose: () => c.stop() },
  );
  void c.start();
}

export function deactivate(): void {
  controller?.stop();
  controller = null;
}
