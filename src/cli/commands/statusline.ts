// `spendcap statusline`: one line for Claude Code's statusLine, run on every prompt redraw. It must
// be fast and work with the server down, so it opens the SQLite file read-only and imports nothing
// beyond what the CLI entry already loaded (no server, no pricing catalogue).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { periodWindow, machineTimeZone } from '../../budgets/period.js';
import { formatUsd } from '../../pricing/money.js';
import { resolveDataDir } from '../../store/data-dir.js';
import type { Period } from '../../store/types.js';
import { parseArgs } from 'node:util';
import type { Io } from '../context.js';

/** What the line is made of; all money in the store's unit. */
export interface StatusFacts {
  sessionSpent: number | null;
  keyName: string | null;
  period: Period | null;
  spent: number;
  cap: number | null;
  /** Spend per hour over the last hour. */
  burnPerHour: number;
  periodEnd: number | null;
  killed: boolean;
}

const PERIOD_WORD: Record<Period, string> = { day: 'today', week: 'this week', month: 'this month', total: 'in all' };
const HOUR = 3600_000;

function clock(ms: number, tz: string, now: number): string {
  const opts: Intl.DateTimeFormatOptions = { timeZone: tz, hour: '2-digit', minute: '2-digit', hour12: false };
  // A cap more than a day away names the day too.
  if (ms - now > 20 * HOUR) Object.assign(opts, { weekday: 'short' });
  return new Intl.DateTimeFormat('en-GB', opts).format(ms);
}

/** e.g. `spendcap $0.42 session · $3.10 of $15.00 today · $1.20/h · cap at 23:40`. */
export function statuslineText(f: StatusFacts, now: number, tz: string): string {
  const parts = ['spendcap'];
  if (f.sessionSpent !== null) parts[0] = `spendcap ${formatUsd(f.sessionSpent)} session`;
  if (f.keyName === null) return f.sessionSpent === null ? 'spendcap: no key' : parts[0]!;
  const period = f.period ?? 'day';
  parts.push(f.cap === null ? `${formatUsd(f.spent)} ${PERIOD_WORD[period]}` : `${formatUsd(f.spent)} of ${formatUsd(f.cap)} ${PERIOD_WORD[period]}`);
  if (f.killed) {
    parts.push('KILLED');
    return parts.join(' · ');
  }
  if (f.burnPerHour > 0) parts.push(`${formatUsd(Math.round(f.burnPerHour))}/h`);
  if (f.cap !== null) {
    const left = f.cap - f.spent;
    if (left <= 0) parts.push('AT CAP');
    else if (f.burnPerHour > 0) {
      const at = now + (left / f.burnPerHour) * HOUR;
      parts.push(f.periodEnd !== null && at >= f.periodEnd ? `resets first (${clock(f.periodEnd, tz, now)})` : `cap at ${clock(at, tz, now)}`);
    }
  }
  return parts.join(' · ');
}

interface ClaudeStatusInput {
  session_id?: unknown;
  model?: { id?: unknown; display_name?: unknown };
}

function readStdin(): ClaudeStatusInput {
  if (process.stdin.isTTY) return {};
  try {
    const raw = readFileSync(0, 'utf8');
    return raw.trim() === '' ? {} : (JSON.parse(raw) as ClaudeStatusInput);
  } catch {
    return {};
  }
}

type Db = Database.Database;

/** The addon's path, given to better-sqlite3 so it skips the `bindings` search of a dozen paths. */
function nativeBinding(): { nativeBinding?: string } {
  try {
    const path = join(dirname(createRequire(import.meta.url).resolve('better-sqlite3')), '..', 'build', 'Release', 'better_sqlite3.node');
    return existsSync(path) ? { nativeBinding: path } : {};
  } catch {
    return {};
  }
}
const one = <T>(db: Db, sql: string, ...args: unknown[]): T | undefined => db.prepare(sql).get(...args) as T | undefined;

/** The key: the one the session spent on, else the one whose token the agent holds, else the only one. */
function keyOf(db: Db, session: string | null, env: NodeJS.ProcessEnv): { id: number; name: string } | undefined {
  if (session !== null) {
    const r = one<{ id: number; name: string }>(db, 'SELECT k.id, k.name FROM ledger l JOIN keys k ON k.id = l.key_id WHERE l.session = ? ORDER BY l.ts DESC LIMIT 1', session);
    if (r) return r;
  }
  for (const v of [env.ANTHROPIC_API_KEY, env.SPENDCAP_API_KEY, env.OPENAI_API_KEY]) {
    if (!v?.startsWith('sc-')) continue;
    const hash = createHash('sha256').update(v).digest('hex');
    const r =
      one<{ id: number; name: string }>(db, 'SELECT id, name FROM keys WHERE token_hash = ?', hash) ??
      (one<{ n: number }>(db, "SELECT 1 AS n FROM sqlite_master WHERE name = 'key_tokens'") ? one<{ id: number; name: string }>(db, 'SELECT k.id, k.name FROM key_tokens t JOIN keys k ON k.id = t.key_id WHERE t.token_hash = ?', hash) : undefined);
    if (r) return r;
  }
  const all = db.prepare('SELECT id, name FROM keys LIMIT 2').all() as Array<{ id: number; name: string }>;
  return all.length === 1 ? all[0] : undefined;
}

export function gatherFacts(db: Db, session: string | null, env: NodeJS.ProcessEnv, now: number, tz: string): StatusFacts {
  const sessionSpent =
    session === null
      ? null
      : (one<{ s: number }>(db, 'SELECT COALESCE(SUM(cost_nanos), 0) AS s FROM ledger WHERE session = ?', session)?.s ?? 0) + (one<{ s: number }>(db, 'SELECT COALESCE(SUM(amount_nanos), 0) AS s FROM holds WHERE session = ?', session)?.s ?? 0);
  const key = keyOf(db, session, env);
  if (!key) return { sessionSpent, keyName: null, period: null, spent: 0, cap: null, burnPerHour: 0, periodEnd: null, killed: false };
  const b = one<{ cap_nanos: number; period: Period; killed: number }>(db, "SELECT cap_nanos, period, killed FROM budgets WHERE scope = 'key' AND key_id = ?", key.id);
  const period = b?.period ?? 'day';
  const w = periodWindow(period, now, tz);
  const spent =
    (one<{ s: number }>(db, 'SELECT COALESCE(SUM(cost_nanos), 0) AS s FROM ledger WHERE key_id = ? AND ts >= ?', key.id, w.start)?.s ?? 0) +
    (one<{ s: number }>(db, 'SELECT COALESCE(SUM(cost_nanos), 0) AS s FROM daily_totals WHERE key_id = ? AND day_start >= ?', key.id, w.start)?.s ?? 0) +
    (one<{ s: number }>(db, 'SELECT COALESCE(SUM(amount_nanos), 0) AS s FROM holds WHERE key_id = ?', key.id)?.s ?? 0);
  const lastHour = one<{ s: number }>(db, 'SELECT COALESCE(SUM(cost_nanos), 0) AS s FROM ledger WHERE key_id = ? AND ts >= ?', key.id, now - HOUR)?.s ?? 0;
  return { sessionSpent, keyName: key.name, period, spent, cap: b ? b.cap_nanos : null, burnPerHour: lastHour, periodEnd: w.end, killed: b?.killed === 1 };
}

/** bin/spendcap.js calls this directly for `spendcap statusline`, before loading the rest of the CLI. */
export async function statuslineMain(argv: string[]): Promise<number> {
  return statusline(argv, { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t), env: process.env });
}

export async function statusline(argv: string[], io: Io): Promise<number> {
  // Not ../args.js: it loads the pricing catalogue, far too slow for a status line.
  const { values } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' } }, strict: false });
  const input = readStdin();
  const session = typeof input.session_id === 'string' && input.session_id !== '' ? input.session_id : null;
  const file = join(resolveDataDir(typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined, io.env), 'spendcap.db');
  let db: Db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, ...nativeBinding() });
  } catch {
    io.out('spendcap: no data yet\n');
    return 0;
  }
  try {
    db.pragma('busy_timeout = 200');
    const now = Date.now();
    const tz = (one<{ v: string }>(db, 'SELECT v FROM meta WHERE k = ?', 'setting:tz')?.v ?? null) || machineTimeZone();
    const facts = gatherFacts(db, session, io.env, now, tz);
    io.out(statuslineText(facts, now, tz) + '\n');
  } catch {
    // A status line must never show a stack trace in the agent's UI.
    io.out('spendcap: store unreadable\n');
  } finally {
    db.close();
  }
  return 0;
}
