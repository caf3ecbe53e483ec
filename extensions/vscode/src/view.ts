// The report as text: quick pick rows and the webview's HTML (no script, no remote resource: the
// webview's Content-Security-Policy allows inline style only).
import { formatCap, formatCents, formatPrecise } from './money';
import { spendText, usedRatio } from './model';
import type { BudgetState } from './model';
import type { BudgetLine, Report, Row } from './report';

const esc = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const STATE_LABEL: Record<BudgetState, string> = { ok: 'ok', warn: 'over 80 %', reached: 'cap reached', killed: 'killed' };

/** "in 2 h 05 min (14:32)", "now", or why there is no forecast. */
export function forecastText(line: BudgetLine, now: Date, timeZone: string): string {
  if (line.state === 'killed') return 'killed';
  if (line.capReachedAt === null) return line.burnPerHour > 0 ? 'not before the period resets' : 'no spend in the last hour';
  const ms = line.capReachedAt.getTime() - now.getTime();
  if (ms <= 0) return 'reached';
  const mins = Math.round(ms / 60_000);
  const clock = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit' }).format(line.capReachedAt);
  const span = mins < 60 ? `${mins} min` : `${Math.floor(mins / 60)} h ${String(mins % 60).padStart(2, '0')} min`;
  return `in ${span} (${clock})`;
}

export interface PickRow {
  label: string;
  description: string;
  detail?: string;
  /** The budget a row is about, so picking it can select it for the status bar. */
  budget?: string;
}

export function quickPickRows(r: Report): PickRow[] {
  const out: PickRow[] = r.budgets.map((l) => ({
    label: `${l.budget.name}  ${spendText(l.budget)}${l.state === 'ok' ? '' : ` (${STATE_LABEL[l.state]})`}`,
    description: `held ${formatCents(l.budget.held)} · ${l.budget.scope} · ${l.budget.period}`,
    detail: `burn ${formatPrecise(l.burnPerHour)}/h · cap ${forecastText(l, r.at, r.timeZone)}`,
    budget: l.budget.name,
  }));
  out.push({ label: `Today ${formatCents(r.spentToday)}`, description: `${r.blockedToday} blocked · ${r.cutToday} cut` });
  for (const k of r.byKey) out.push({ label: `key ${k.label}`, description: formatCents(k.cost) });
  for (const m of r.byModel) out.push({ label: `model ${m.label}`, description: formatCents(m.cost) });
  return out;
}

const COLORS: Record<BudgetState, string> = { ok: '#3fb950', warn: '#d29922', reached: '#f85149', killed: '#f85149' };

function bar(l: BudgetLine): string {
  const b = l.budget;
  const cap = Math.max(b.cap, 1);
  const spentPct = Math.min(100, (b.spent / cap) * 100);
  const heldPct = Math.min(100 - spentPct, (b.held / cap) * 100);
  return `<div class="bar"><div class="spent" style="width:${spentPct.toFixed(1)}%;background:${COLORS[l.state]}"></div><div class="held" style="width:${heldPct.toFixed(1)}%"></div></div>`;
}

function table(title: string, rows: Row[]): string {
  const body = rows.length === 0 ? '<tr><td colspan="2" class="muted">nothing yet today</td></tr>' : rows.map((r) => `<tr><td>${esc(r.label)}</td><td class="num">${formatCents(r.cost)}</td></tr>`).join('');
  return `<section><h2>${esc(title)}</h2><table>${body}</table></section>`;
}

/** The whole panel; `cspSource` is the webview's, "" outside VS Code. */
export function reportHtml(r: Report, cspSource = ''): string {
  const budgets = r.budgets
    .map((l) => {
      const b = l.budget;
      const pct = Math.round(usedRatio(b) * 100);
      return (
        `<tr class="${l.state}"><td><b>${esc(b.name)}</b><div class="muted">${esc(b.scope)} · ${esc(b.period)} · ${esc(b.mode)}</div></td>` +
        `<td class="num">${formatCents(b.spent)}</td><td class="num">${formatCents(b.held)}</td><td class="num">${formatCap(b.cap)}${b.ceiling === null ? '' : `<div class="muted">ceiling ${formatCap(b.ceiling)}</div>`}</td>` +
        `<td>${bar(l)}<div class="muted">${Number.isFinite(pct) ? `${pct} %` : 'full'} · <span class="state">${STATE_LABEL[l.state]}</span></div></td>` +
        `<td class="num">${formatPrecise(l.burnPerHour)}/h</td><td>${esc(forecastText(l, r.at, r.timeZone))}</td></tr>`
      );
    })
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline' ${cspSource};">
<title>spendcap</title>
<style>
body{font-family:var(--vscode-font-family,system-ui,sans-serif);font-size:13px;color:var(--vscode-foreground,#ccc);background:var(--vscode-editor-background,#1e1e1e);padding:12px 18px}
h1{font-size:16px;margin:0 0 4px}h2{font-size:13px;margin:18px 0 6px;text-transform:uppercase;letter-spacing:.05em;opacity:.8}
table{border-collapse:collapse;width:100%}td,th{padding:5px 8px;border-bottom:1px solid rgba(128,128,128,.25);text-align:left;vertical-align:top}
th{font-weight:600;opacity:.8}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.muted{opacity:.65;font-size:11px}
.bar{width:160px;height:8px;border-radius:4px;background:rgba(128,128,128,.25);display:flex;overflow:hidden;margin-top:4px}
.held{background:repeating-linear-gradient(45deg,#888 0 3px,transparent 3px 6px)}
tr.killed .state,tr.reached .state{color:#f85149;font-weight:600}tr.warn .state{color:#d29922;font-weight:600}
.cards{display:flex;gap:12px;margin:10px 0}.card{border:1px solid rgba(128,128,128,.35);border-radius:6px;padding:8px 14px}.card b{display:block;font-size:18px}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:18px}
</style></head><body>
<h1>spendcap</h1><div class="muted">as of ${esc(new Intl.DateTimeFormat('en-GB', { timeZone: r.timeZone, dateStyle: 'medium', timeStyle: 'short' }).format(r.at))} (${esc(r.timeZone)})</div>
<div class="cards"><div class="card">today<b>${formatCents(r.spentToday)}</b></div><div class="card">blocked today<b>${r.blockedToday}</b></div><div class="card">cut today<b>${r.cutToday}</b></div></div>
<section><h2>Budgets</h2><table><tr><th>budget</th><th class="num">spent</th><th class="num">held</th><th class="num">cap</th><th>used</th><th class="num">burn</th><th>cap reached</th></tr>${budgets || '<tr><td colspan="7" class="muted">no budget yet: spendcap key add NAME --cap 15 …</td></tr>'}</table></section>
<div class="cols">${table('Today by key', r.byKey)}${table('Today by model', r.byModel)}</div>
</body></html>`;
}
