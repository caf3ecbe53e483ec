import type { IncomingHttpHeaders } from 'node:http';
import { BUDGET_HEADERS } from '../budgets/render.js';

export { BUDGET_HEADERS };

/** The tag budget a request opts into (x-spendcap-budget, else X-Budget-Id), or null. */
export function budgetTagOf(headers: IncomingHttpHeaders): string | null {
  for (const h of BUDGET_HEADERS) {
    const v = headers[h];
    const s = Array.isArray(v) ? v[0] : v;
    if (typeof s === 'string' && s.trim().length > 0) return s.trim().slice(0, 200);
  }
  return null;
}
