// One budget: its bar (spent, then held, against the cap), the money in fixed-width figures, the
// time to reset, and its actions. Built once; live updates only change text and widths, so nothing
// on the page moves as the numbers climb.
import { api, enc, get, ApiFailure } from '../api.js';
import type { Budget, BudgetDetail } from '../api.js';
import { field, h, setText, statusLine } from '../dom.js';
import { duration, pct, usd } from '../format.js';
import { applyBudget, state } from '../state.js';

export interface BudgetRow {
  el: HTMLElement;
  update(b: Budget): void;
  tick(now: number): void;
}

type Level = 'ok' | 'notice' | 'warn' | 'over';

/** The colour step: none of the thresholds below 100 % passed, one, two or more; at the cap (or killed) red. */
export function level(b: Budget, thresholds: readonly number[]): Level {
  const used = pct(b.spentUsd + b.heldUsd, b.capUsd);
  if (b.killed || used >= 100) return 'over';
  const passed = thresholds.filter((t) => t < 100 && used >= t).length;
  return passed === 0 ? 'ok' : passed === 1 ? 'notice' : 'warn';
}

export function isBlocked(b: Budget): boolean {
  return b.killed || (b.mode === 'hard' && b.remainingUsd <= 0 && b.capUsd >= 0 && b.spentUsd >= b.capUsd);
}

export function budgetRow(initial: Budget): BudgetRow {
  let b = initial;
  const name = h('span', { class: 'b-name' }, b.name);
  const meta = h('span', { class: 'b-meta' });
  const badge = h('span', { class: 'b-badge', hidden: true });
  const reset = h('span', { class: 'b-reset num' });

  const spent = h('span', { class: 'fill spent' });
  const held = h('span', { class: 'fill held' });
  const ticks = h('span', { class: 'ticks', 'aria-hidden': 'true' });
  const bar = h('div', { class: 'bar', role: 'meter', 'aria-valuemin': '0', 'aria-label': `${b.name}: spent and held of the cap` }, spent, held, ticks);

  const nSpent = h('span', { class: 'num w-money' });
  const nHeld = h('span', { class: 'num w-money' });
  const nCap = h('span', { class: 'num w-money' });
  const nLeft = h('span', { class: 'num w-money' });
  const nPct = h('span', { class: 'num w-pct' });
  const figures = h(
    'div',
    { class: 'b-figures' },
    h('span', { class: 'fig' }, nSpent, h('small', null, ' spent')),
    h('span', { class: 'fig' }, nHeld, h('small', null, ' in flight')),
    h('span', { class: 'fig' }, h('small', null, 'cap '), nCap),
    h('span', { class: 'fig' }, nLeft, h('small', null, ' left')),
    nPct,
  );

  const status = statusLine();
  const run = async (label: string, fn: () => Promise<{ budget: Budget | null }>): Promise<void> => {
    status.show(`${label}…`);
    try {
      const r = await fn();
      applyBudget(r.budget);
      status.show(`${label}: done`, 'ok');
    } catch (e) {
      status.show(e instanceof ApiFailure ? e.message : String(e), 'error');
    }
  };
  const post = (what: string, body?: unknown) => () => api<{ budget: Budget | null }>('POST', `/api/budgets/${enc(b.name)}/${what}`, body);

  const plus5 = h('button', { type: 'button', class: 'btn plus5', onclick: () => void run('+$5', post('lift', { add: 5 })) }, '+$5');
  const killBtn = h('button', { type: 'button', class: 'btn danger' }, 'Kill');
  killBtn.addEventListener('click', () => void (b.killed ? run('Unkill', post('unkill')) : run('Kill', post('kill'))));

  // Lift: double, to the ceiling, or +$N.
  const addInput = h('input', { type: 'number', min: '0.01', step: '0.01', value: '10', inputmode: 'decimal', class: 'money-in', 'aria-label': 'Dollars to add' });
  const doubleBtn = h('button', { type: 'button', class: 'btn', onclick: () => void run('Double', post('lift', { double: true })) }, 'Double');
  const ceilBtn = h('button', { type: 'button', class: 'btn', onclick: () => void run('To ceiling', post('lift', { toCeiling: true })) }, 'To ceiling');
  const liftPanel = h(
    'form',
    { class: 'panel lift-panel', hidden: true, 'aria-label': `Lift ${b.name}` },
    doubleBtn,
    ceilBtn,
    h('span', { class: 'add' }, h('span', { 'aria-hidden': 'true' }, '+$'), addInput, h('button', { type: 'submit', class: 'btn' }, 'Add')),
  );
  liftPanel.addEventListener('submit', (e) => {
    e.preventDefault();
    const n = Number(addInput.value);
    if (!(n > 0)) return status.show('Enter a dollar amount above 0', 'error');
    void run(`+${usd(n)}`, post('lift', { add: n }));
  });
  const liftBtn = h('button', { type: 'button', class: 'btn', 'aria-expanded': 'false' }, 'Lift');

  const editPanel = h('div', { class: 'panel edit-panel', hidden: true });
  const editBtn = h('button', { type: 'button', class: 'btn', 'aria-expanded': 'false' }, 'Edit cap');

  const toggle = (btn: HTMLButtonElement, panel: HTMLElement, other: [HTMLButtonElement, HTMLElement], onOpen?: () => void) => {
    btn.addEventListener('click', () => {
      const open = panel.hidden;
      panel.hidden = !open;
      btn.setAttribute('aria-expanded', String(open));
      other[1].hidden = true;
      other[0].setAttribute('aria-expanded', 'false');
      if (open) onOpen?.();
    });
  };
  toggle(liftBtn, liftPanel, [editBtn, editPanel], () => addInput.focus());
  toggle(editBtn, editPanel, [liftBtn, liftPanel], () => void fillEdit());

  const actions = h('div', { class: 'b-actions' }, liftBtn, plus5, killBtn, editBtn);
  const recoverText = h('span', null);
  const recover = h('div', { class: 'recover', hidden: true, role: 'group', 'aria-label': `Recover ${b.name}` }, recoverText, ' ', h('span', { class: 'recover-q' }, 'to continue?'));

  const el = h(
    'li',
    { class: 'budget', 'data-budget': b.name },
    h('div', { class: 'b-head' }, name, meta, badge, reset),
    bar,
    figures,
    recover,
    actions,
    liftPanel,
    editPanel,
    status,
  );

  async function fillEdit(): Promise<void> {
    const cap = h('input', { type: 'number', min: '0', step: '0.01', inputmode: 'decimal', value: String(b.capUsd), required: true });
    const periodSel = h('select', null, ...['day', 'week', 'month', 'total'].map((p) => h('option', { value: p, selected: p === b.period }, p)));
    const modeSel = h('select', null, h('option', { value: 'hard', selected: b.mode === 'hard' }, 'hard (refuse and cut)'), h('option', { value: 'soft', selected: b.mode === 'soft' }, 'soft (alert only)'));
    const ceiling = h('input', { type: 'number', min: '0', step: '0.01', inputmode: 'decimal', value: b.ceilingUsd === null ? '' : String(b.ceilingUsd), placeholder: 'none' });
    const sessionCap = h('input', { type: 'number', min: '0', step: '0.01', inputmode: 'decimal', value: b.sessionCapUsd === null ? '' : String(b.sessionCapUsd), placeholder: 'none' });
    const clamp = h('input', { type: 'checkbox', checked: b.clamp });
    const tune = h('select', null, ...(['off', 'suggest', 'creep'] as const).map((m) => h('option', { value: m, selected: b.autotune === m }, m)));
    const suggestion = h('p', { class: 'suggest' }, 'Auto-tune: reading the last 14 days…');
    const useSuggestion = h('button', { type: 'button', class: 'btn', hidden: true }, 'Use suggestion');
    const formStatus = statusLine();
    const form = h(
      'form',
      { class: 'edit-form', 'aria-label': `Edit ${b.name}` },
      h('div', { class: 'grid2' }, field('Cap ($)', cap), field('Period', periodSel), field('Mode', modeSel), field('Ceiling ($)', ceiling, 'lifts stop here; empty: none'), b.scope === 'key' ? field('Session cap ($)', sessionCap, 'per agent session; empty: none') : null, field('Auto-tune', tune, 'suggest shows a cap; creep raises it up to the ceiling')),
      h('label', { class: 'check' }, clamp, ' Clamp: lower a request’s output limit to what the budget can still pay for'),
      h('div', { class: 'suggest-row' }, suggestion, useSuggestion),
      h('div', { class: 'row' }, h('button', { type: 'submit', class: 'btn primary' }, 'Save'), h('button', { type: 'button', class: 'btn', onclick: () => editBtn.click() }, 'Cancel')),
      formStatus,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const changes: Record<string, unknown> = {};
      const num = (s: string): number | null => (s.trim() === '' ? null : Number(s));
      if (Number(cap.value) !== b.capUsd) changes.cap = Number(cap.value);
      if (periodSel.value !== b.period) changes.period = periodSel.value;
      if (modeSel.value !== b.mode) changes.mode = modeSel.value;
      if (num(ceiling.value) !== b.ceilingUsd) changes.ceiling = num(ceiling.value);
      if (b.scope === 'key' && num(sessionCap.value) !== b.sessionCapUsd) changes.sessionCap = num(sessionCap.value);
      if (clamp.checked !== b.clamp) changes.clamp = clamp.checked;
      if (tune.value !== b.autotune) changes.autotune = tune.value;
      if (Object.keys(changes).length === 0) return formStatus.show('Nothing changed');
      formStatus.show('Saving…');
      api<{ budget: Budget | null }>('PATCH', `/api/budgets/${enc(b.name)}`, changes).then(
        (r) => {
          applyBudget(r.budget);
          formStatus.show('Saved', 'ok');
        },
        (err: unknown) => formStatus.show(err instanceof Error ? err.message : String(err), 'error'),
      );
    });
    editPanel.replaceChildren(form);
    cap.focus();
    try {
      const detail = await get<BudgetDetail>(`/api/budgets/${enc(b.name)}`);
      // The server's own rule (src/budgets/autotune.ts), for every scope: the page never recomputes it.
      const s = detail.autotuneSuggestion;
      suggestion.textContent = s.suggestedUsd === null ? `Auto-tune: no suggestion — ${s.reason}` : `Auto-tune suggests ${usd(s.suggestedUsd)}: ${s.reason}`;
      if (s.suggestedUsd !== null) {
        useSuggestion.hidden = false;
        useSuggestion.onclick = () => (cap.value = String(s.suggestedUsd));
      }
    } catch {
      suggestion.textContent = 'Auto-tune: no suggestion available';
    }
  }

  function update(next: Budget): void {
    b = next;
    const lvl = level(b, state.thresholds);
    const blocked = isBlocked(b);
    el.dataset.level = lvl;
    el.classList.toggle('killed', b.killed);
    setText(meta, `${b.scope} · ${b.period} · ${b.mode}${b.ceilingUsd !== null ? ` · ceiling ${usd(b.ceilingUsd)}` : ''}`);
    badge.hidden = !blocked && !(b.mode === 'soft' && b.spentUsd > b.capUsd);
    setText(badge, b.killed ? 'killed' : blocked ? 'cap reached' : 'over (soft)');
    const s = Math.min(100, pct(b.spentUsd, b.capUsd));
    const hd = Math.max(0, Math.min(100 - s, pct(b.heldUsd, b.capUsd)));
    spent.style.width = `${s}%`;
    held.style.width = `${hd}%`;
    held.style.left = `${s}%`;
    bar.setAttribute('aria-valuemax', String(b.capUsd));
    bar.setAttribute('aria-valuenow', String(b.spentUsd + b.heldUsd));
    bar.setAttribute('aria-valuetext', `${usd(b.spentUsd)} spent, ${usd(b.heldUsd)} in flight, of ${usd(b.capUsd)}`);
    if (ticks.childElementCount !== state.thresholds.length) {
      ticks.replaceChildren(
        ...state.thresholds
          .filter((t) => t < 100)
          .map((t) => {
            const tk = h('span', { class: 'tick' });
            tk.style.left = `${t}%`;
            return tk;
          }),
      );
    }
    setText(nSpent, usd(b.spentUsd));
    setText(nHeld, usd(b.heldUsd));
    setText(nCap, usd(b.capUsd));
    setText(nLeft, usd(b.remainingUsd));
    setText(nPct, `${Math.floor(pct(b.spentUsd + b.heldUsd, b.capUsd))}%`);
    setText(killBtn, b.killed ? 'Unkill' : 'Kill');
    killBtn.className = b.killed ? 'btn' : 'btn danger';
    ceilBtn.disabled = b.ceilingUsd === null || b.ceilingUsd <= b.capUsd;
    doubleBtn.disabled = b.ceilingUsd !== null && b.capUsd >= b.ceilingUsd;
    // One "+$5" button per budget: in the recovery prompt when the budget is stopped, else with the actions.
    recover.hidden = !blocked;
    if (blocked) {
      setText(recoverText, b.killed ? 'Killed: requests are refused.' : 'Cap reached: requests are refused.');
      if (plus5.parentElement !== recover) recover.insertBefore(plus5, recover.lastElementChild);
      plus5.classList.add('primary');
    } else if (plus5.parentElement !== actions) {
      actions.insertBefore(plus5, killBtn);
      plus5.classList.remove('primary');
    }
    tick(Date.now());
  }

  function tick(now: number): void {
    if (b.period === 'total' || b.periodEnd === null) return setText(reset, 'never resets');
    setText(reset, `resets in ${duration(new Date(b.periodEnd).getTime() - now)}`);
  }

  update(b);
  return { el, update, tick };
}
