// The admin API: who may call it (token, Host, Origin), what it refuses (schema errors name the
// field), that every action lands in the events table with channel "api" exactly like the CLI's,
// and what it serves: usage pages, stats, prices the proxy then charges, a live stream, a badge, metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startMockAnthropic } from './helpers/mock-anthropic.js';
import type { MockAnthropic } from './helpers/mock-anthropic.js';
import { addKey, cli, startSpendcap } from './helpers/spendcap.js';
import type { TestSpendcap } from './helpers/spendcap.js';

const MODEL = 'claude-sonnet-4-5';
const messages = [{ role: 'user' as const, content: 'Say something about budgets.' }];

// The shapes of the answers these tests read (docs/admin-api.md has them all).
interface ErrorBody {
  error: { message: string; field: string | null };
}
interface ModelJson {
  model: string;
  requests: number;
  costUsd: number;
}
interface BudgetJson {
  name: string;
  scope: string;
  capUsd: number;
  spentUsd: number;
  killed: boolean;
  byModel: ModelJson[];
}
interface EventJson {
  kind: string;
  channel: string;
  capBeforeUsd: number | null;
}
interface ActionBody {
  budget: BudgetJson;
  event: EventJson;
  deleted?: string;
}
interface Page<T> {
  total: number;
  items: T[];
}
interface UsageJson {
  id: number;
  ts: string;
  keyName: string;
  outcome: string;
  costUsd: number;
  inputTokens: number;
}
interface StatsJson {
  totals: { requests: number; costUsd: number; byOutcome: Record<string, number> };
  byModel: ModelJson[];
  byDay: Array<{ day: string; costUsd: number }>;
}
interface PriceBody {
  price: { model: string; input: number; output: number; cacheRead: number | null };
  event: EventJson;
  overrides: Array<{ model: string }>;
}

interface Answer<T> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: T;
}

/** A raw HTTP call, so tests control Host and Origin (fetch does not let a caller set Host). */
function call<T = ErrorBody>(sc: TestSpendcap, method: string, path: string, opts: { token?: string | null; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<Answer<T>> {
  const port = sc.server.port;
  const body = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string> = { host: `127.0.0.1:${port}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers };
  if (opts.token !== null && opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: unknown = undefined;
        try {
          json = JSON.parse(text);
        } catch {
          /* not JSON (badge, metrics) */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: json as T });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function client(sc: TestSpendcap, token: string): Anthropic {
  return new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0 });
}

/** A minimal well-formedness check: every tag closes in order, attributes are quoted, no stray "<" or "&". */
function assertWellFormedXml(xml: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < xml.length) {
    if (xml[i] === '<') {
      tag.lastIndex = i;
      const m = tag.exec(xml);
      assert.ok(m, `malformed tag at ${i}: ${xml.slice(i, i + 40)}`);
      if (m[1] === '/') assert.equal(stack.pop(), m[2], `closing </${m[2]}> out of order`);
      else if (m[4] !== '/') stack.push(m[2]!);
      i = tag.lastIndex;
    } else {
      const next = xml.indexOf('<', i);
      const text = xml.slice(i, next === -1 ? xml.length : next);
      assert.doesNotMatch(text, /&(?!#\d+;|amp;|lt;|gt;|quot;|apos;)/, 'bare & in text');
      i = next === -1 ? xml.length : next;
    }
  }
  assert.deepEqual(stack, [], 'every element is closed');
}

describe('admin API', () => {
  let mock: MockAnthropic;
  let sc: TestSpendcap;
  let admin: string;
  let workToken: string;

  before(async () => {
    mock = await startMockAnthropic({ tokenIntervalMs: 0, outputTokens: 20 });
    sc = await startSpendcap(mock.url, { pollMs: 100 });
    admin = readFileSync(join(sc.dataDir, 'admin-token'), 'utf8').trim();
    workToken = await addKey(sc.dataDir, 'ops', 10);
  });
  after(async () => {
    await sc.close();
    await mock.close();
  });

  test('the admin token is made at first start: <data-dir>/admin-token, one line, mode 0600', async () => {
    const path = join(sc.dataDir, 'admin-token');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const text = readFileSync(path, 'utf8');
    assert.match(text, /^[A-Za-z0-9_-]{32,}\n$/);
  });

  test('without the admin token: 401 with WWW-Authenticate, on /api/* and /metrics; the Claude Code probe still answers', async () => {
    for (const [method, path] of [['GET', '/api/budgets'], ['GET', '/metrics'], ['POST', '/api/budgets/ops/kill'], ['GET', '/api/nothing-here'], ['GET', '/api/budgets/ops/badge.svg']] as const) {
      const r = await call(sc, method, path, { token: null });
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.equal(r.json.error.field, 'authorization');
      assert.match(String(r.headers['www-authenticate']), /^Bearer/);
    }
    assert.equal((await call(sc, 'GET', '/api/budgets', { token: 'not-the-token' })).status, 401);
    assert.equal((await call(sc, 'GET', '/api/budgets', { token: null, headers: { 'x-api-key': admin } })).status, 401, 'only Bearer carries the admin token');
    assert.equal((await call(sc, 'GET', '/api/budgets?token=' + admin, { token: null })).status, 401, '?token= is for the badge only');
    assert.equal((await call(sc, 'GET', '/api/hello', { token: null })).status, 200);
    assert.equal((await call(sc, 'GET', '/api/budgets', { token: admin })).status, 200);
    const nothing = await call(sc, 'GET', '/api/nothing-here', { token: admin });
    assert.equal(nothing.status, 404);
    const wrongMethod = await call(sc, 'PUT', '/api/budgets', { token: admin, body: {} });
    assert.equal(wrongMethod.status, 405);
    assert.match(String(wrongMethod.headers.allow), /GET/);
  });

  test('a foreign Host or Origin is refused with 403 even with the token (DNS rebinding, cross-site pages); proxy paths are not checked', async () => {
    const port = sc.server.port;
    const foreignHost = await call(sc, 'GET', '/api/budgets', { token: admin, headers: { host: `evil.example:${port}` } });
    assert.equal(foreignHost.status, 403);
    assert.equal(foreignHost.json.error.field, 'host');
    assert.equal((await call(sc, 'GET', '/metrics', { token: admin, headers: { host: `attacker.test:${port}` } })).status, 403);
    assert.equal((await call(sc, 'GET', '/api/budgets', { token: admin, headers: { host: `127.0.0.1:${port + 1}` } })).status, 403, 'another port is another origin');
    const foreignOrigin = await call(sc, 'POST', '/api/budgets/ops/kill', { token: admin, headers: { origin: 'https://evil.example' } });
    assert.equal(foreignOrigin.status, 403);
    assert.equal(foreignOrigin.json.error.field, 'origin');
    assert.equal((await sc.server.store.budgets.byName('ops'))!.killed, false, 'nothing happened');
    assert.equal((await call(sc, 'GET', '/api/budgets', { token: admin, headers: { host: `localhost:${port}`, origin: `http://localhost:${port}` } })).status, 200);
    assert.equal((await call(sc, 'GET', '/api/budgets', { token: admin, headers: { host: `[::1]:${port}` } })).status, 200);

    // An agent's own Host header goes through to the provider as before.
    const proxied = await call(sc, 'POST', '/v1/messages', { token: null, headers: { host: 'api.anthropic.com', 'x-api-key': workToken, 'anthropic-version': '2023-06-01' }, body: { model: MODEL, max_tokens: 20, messages } });
    assert.equal(proxied.status, 200, proxied.text);
  });

  test('bad bodies and queries answer 400 naming the field; non-JSON bodies 400/415', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/api/budgets', { name: 'team', scope: 'global' }, 'cap'],
      ['POST', '/api/budgets', { name: 'team', scope: 'global', cap: 'five' }, 'cap'],
      ['POST', '/api/budgets', { name: 'team', scope: 'global', cap: -5 }, 'cap'],
      ['POST', '/api/budgets', { name: 'team', scope: 'key', cap: 5 }, 'scope'],
      ['POST', '/api/budgets', { name: 'no spaces', scope: 'tag', cap: 5 }, 'name'],
      ['POST', '/api/budgets', { name: 'team', scope: 'tag', cap: 5, owner: 'me' }, 'owner'],
      ['PATCH', '/api/budgets/ops', { period: 'year' }, 'period'],
      ['PATCH', '/api/budgets/ops', { mode: 'lenient' }, 'mode'],
      ['POST', '/api/budgets/ops/lift', { add: 0 }, 'add'],
      ['POST', '/api/budgets/ops/lift', { add: 1, double: true }, 'add'],
      ['POST', '/api/budgets/ops/kill', { now: true }, 'now'],
      ['PUT', '/api/pricing/some-model', { input: 3 }, 'output'],
      ['PUT', '/api/pricing/some-model', { input: 3, output: '15' }, 'output'],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await call(sc, method, path, { token: admin, body });
      assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.json.error.field, field, `${method} ${path} ${JSON.stringify(body)}`);
      assert.match(r.json.error.message, new RegExp(`^${field}: `));
    }
    for (const [path, field] of [['/api/usage?limit=0', 'limit'], ['/api/usage?limit=x', 'limit'], ['/api/usage?since=soon', 'since'], ['/api/usage?page=2', 'page'], ['/api/events?limit=5000', 'limit']]) {
      const r = await call(sc, 'GET', path!, { token: admin });
      assert.equal(r.status, 400, path);
      assert.equal(r.json.error.field, field, path);
    }
    const garbled = await call(sc, 'POST', '/api/budgets', { token: admin, rawBody: '{"name": ' });
    assert.equal(garbled.status, 400);
    assert.match(garbled.json.error.message, /not valid JSON/);
    const form = await call(sc, 'POST', '/api/budgets/ops/kill', { token: admin, rawBody: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 415);
    // A schema that passes but an action rule that does not (lift past the ceiling) is a 400 too.
    assert.equal((await call(sc, 'POST', '/api/budgets/ops/lift', { token: admin, body: { toCeiling: true } })).status, 400);
    assert.equal((await call<Page<EventJson>>(sc, 'GET', '/api/events?budget=team', { token: admin })).json.total, 0, 'nothing was created by a refused body');
  });

  test('every action through the API writes one event row, channel "api", with the cap before and after, and the running server applies it at once', async () => {
    const store = sc.server.store;
    const lastEvent = async () => (await store.events.list(1))[0]!;
    const expectEvent = async (kind: string, budget: string, before: number | null, afterCap: number | null) => {
      const e = await lastEvent();
      assert.deepEqual([e.kind, e.budget, e.channel, e.capBeforeNanos, e.capAfterNanos], [kind, budget, 'api', before, afterCap]);
    };

    const created = await call<ActionBody>(sc, 'POST', '/api/budgets', { token: admin, body: { name: 'team', scope: 'global', cap: 50, period: 'month', ceiling: 200 } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.budget.capUsd, 50);
    assert.equal(created.json.event.channel, 'api');
    await expectEvent('budget-add', 'team', null, 50_000_000_000);
    assert.equal((await call(sc, 'POST', '/api/budgets', { token: admin, body: { name: 'team', scope: 'global', cap: 5 } })).status, 409);

    const patched = await call(sc, 'PATCH', '/api/budgets/team', { token: admin, body: { cap: 60 } });
    assert.equal(patched.status, 200, patched.text);
    await expectEvent('cap-set', 'team', 50_000_000_000, 60_000_000_000);
    const tooHigh = await call(sc, 'PATCH', '/api/budgets/team', { token: admin, body: { cap: 500 } });
    assert.equal(tooHigh.status, 400);
    assert.equal(tooHigh.json.error.field, 'cap');

    assert.equal((await call<ActionBody>(sc, 'POST', '/api/budgets/team/lift', { token: admin, body: { add: 5 } })).json.budget.capUsd, 65);
    await expectEvent('lift', 'team', 60_000_000_000, 65_000_000_000);
    assert.equal((await call<ActionBody>(sc, 'POST', '/api/budgets/team/lift', { token: admin, body: { double: true } })).json.budget.capUsd, 130);
    await expectEvent('lift', 'team', 65_000_000_000, 130_000_000_000);
    assert.equal((await call<ActionBody>(sc, 'POST', '/api/budgets/team/lift', { token: admin, body: { toCeiling: true } })).json.budget.capUsd, 200);
    await expectEvent('lift', 'team', 130_000_000_000, 200_000_000_000);

    // kill/unkill on a key's budget: the very next request is refused, then served again.
    const killed = await call<ActionBody>(sc, 'POST', '/api/budgets/ops/kill', { token: admin });
    assert.equal(killed.status, 200, killed.text);
    assert.equal(killed.json.budget.killed, true);
    await expectEvent('kill', 'ops', 10_000_000_000, 10_000_000_000);
    await assert.rejects(client(sc, workToken).messages.create({ model: MODEL, max_tokens: 20, messages }), (err: unknown) => err instanceof Anthropic.APIError && err.status === 429);
    assert.equal((await call<ActionBody>(sc, 'POST', '/api/budgets/ops/unkill', { token: admin, body: {} })).json.budget.killed, false);
    await expectEvent('unkill', 'ops', 10_000_000_000, 10_000_000_000);
    await client(sc, workToken).messages.create({ model: MODEL, max_tokens: 20, messages });

    assert.equal((await call(sc, 'DELETE', '/api/budgets/ops', { token: admin })).status, 400, "a key's budget goes with its key");
    const deleted = await call<ActionBody>(sc, 'DELETE', '/api/budgets/team', { token: admin });
    assert.equal(deleted.status, 200, deleted.text);
    assert.equal(deleted.json.deleted, 'team');
    await expectEvent('budget-rm', 'team', 200_000_000_000, null);
    assert.equal((await call(sc, 'GET', '/api/budgets/team', { token: admin })).status, 404);
    assert.equal((await call(sc, 'POST', '/api/budgets/team/kill', { token: admin })).status, 404);

    // The same rows, as GET /api/events shows them, and as the CLI's own actions look.
    const events = await call<Page<EventJson>>(sc, 'GET', '/api/events?budget=team&limit=3', { token: admin });
    assert.equal(events.json.total, 6);
    assert.deepEqual(events.json.items.map((e) => e.kind), ['budget-rm', 'lift', 'lift']);
    assert.equal(events.json.items[1]!.capBeforeUsd, 130);
    await cli(sc.dataDir, ['kill', 'ops']);
    const cliEvent = await lastEvent();
    assert.deepEqual([cliEvent.kind, cliEvent.channel], ['kill', 'cli']);
    await call(sc, 'POST', '/api/budgets/ops/unkill', { token: admin });
  });

  test('budgets, keys: listings with a per-model breakdown, never a provider key, token or hash', async () => {
    const list = await call<{ budgets: BudgetJson[] }>(sc, 'GET', '/api/budgets', { token: admin });
    const work = list.json.budgets.find((b) => b.name === 'ops')!;
    assert.equal(work.scope, 'key');
    assert.equal(work.capUsd, 10);
    const one = await call<BudgetJson>(sc, 'GET', '/api/budgets/ops', { token: admin });
    assert.equal(one.status, 200);
    assert.ok(one.json.spentUsd > 0);
    const row = one.json.byModel.find((m) => m.model === MODEL);
    assert.ok(row && row.requests >= 2 && row.costUsd > 0, JSON.stringify(one.json.byModel));
    assert.ok(Math.abs(one.json.byModel.reduce((a, m) => a + m.costUsd, 0) - one.json.spentUsd) < 1e-9);

    const keys = await call<{ keys: Array<{ name: string; budget: { capUsd: number } }> }>(sc, 'GET', '/api/keys', { token: admin });
    assert.equal(keys.json.keys[0]!.name, 'ops');
    assert.equal(keys.json.keys[0]!.budget.capUsd, 10);
    const rec = (await sc.server.store.keys.byName('ops'))!;
    for (const text of [keys.text, (await call(sc, 'GET', '/api/keys/ops', { token: admin })).text, list.text, one.text]) {
      assert.ok(!text.includes('sk-test'), 'no provider key');
      assert.ok(!text.includes(workToken), 'no spendcap key');
      assert.ok(!text.includes(rec.tokenHash), 'no token hash');
      assert.ok(!text.includes(rec.providerKeyEnc), 'no encrypted provider key');
      assert.doesNotMatch(text, /tokenHash|providerKey/);
    }
  });

  test('usage pages: newest first, limit/offset without overlap, since and key filters, a total', async () => {
    const token = await addKey(sc.dataDir, 'pager', 10);
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) await client(sc, token).messages.create({ model: MODEL, max_tokens: 20, messages });
    const first = await call<Page<UsageJson>>(sc, 'GET', '/api/usage?key=pager&limit=2', { token: admin });
    assert.equal(first.status, 200);
    assert.equal(first.json.total, 5);
    assert.equal(first.json.items.length, 2);
    const second = await call<Page<UsageJson>>(sc, 'GET', '/api/usage?key=pager&limit=2&offset=2', { token: admin });
    const third = await call<Page<UsageJson>>(sc, 'GET', '/api/usage?key=pager&limit=2&offset=4', { token: admin });
    const ids = [...first.json.items, ...second.json.items, ...third.json.items].map((r) => r.id);
    assert.equal(new Set(ids).size, 5);
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
    const item = first.json.items[0]!;
    assert.equal(item.keyName, 'pager');
    assert.equal(item.outcome, 'ok');
    assert.ok(item.costUsd > 0 && item.inputTokens > 0);
    assert.match(item.ts, /^\d{4}-\d\d-\d\dT/);
    assert.equal((await call<Page<UsageJson>>(sc, 'GET', `/api/usage?since=${t0}&limit=100`, { token: admin })).json.total, 5);
    assert.equal((await call<Page<UsageJson>>(sc, 'GET', `/api/usage?since=${new Date(Date.now() + 60_000).toISOString()}`, { token: admin })).json.total, 0);
  });

  test('stats: totals, by model and by day agree with the ledger', async () => {
    const s = await call<StatsJson>(sc, 'GET', '/api/stats', { token: admin });
    assert.equal(s.status, 200);
    const ledger = (await sc.server.store.ledger.page(1000));
    const cost = ledger.reduce((a, r) => a + r.costNanos, 0) / 1e9;
    assert.equal(s.json.totals.requests, ledger.length);
    assert.ok(Math.abs(s.json.totals.costUsd - cost) < 1e-9);
    assert.equal(s.json.totals.byOutcome.blocked, ledger.filter((r) => r.outcome === 'blocked').length);
    assert.equal(s.json.byModel.find((m) => m.model === MODEL)?.requests, ledger.filter((r) => r.model === MODEL).length);
    assert.equal(s.json.byDay.length, 1);
    assert.ok(Math.abs(s.json.byDay[0]!.costUsd - cost) < 1e-9);
    const pager = await call<StatsJson>(sc, 'GET', '/api/stats?key=pager', { token: admin });
    assert.equal(pager.json.totals.requests, 5);
  });

  test('pricing: PUT writes the override `price set` writes, the next request is charged by it; DELETE removes it', async () => {
    const put = await call<PriceBody>(sc, 'PUT', `/api/pricing/${MODEL}`, { token: admin, body: { input: 100, output: 1000 } });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual([put.json.price.model, put.json.price.input, put.json.price.output, put.json.price.cacheRead], [MODEL, 100, 1000, null]);
    assert.deepEqual([put.json.event.kind, put.json.event.channel], ['price-set', 'api']);
    const listed = await cli(sc.dataDir, ['price', 'list', '--json']);
    assert.equal((JSON.parse(listed.out) as Array<{ model: string; input: number }>).find((p) => p.model === MODEL)?.input, 100_000_000_000);

    const token = await addKey(sc.dataDir, 'priced', 10);
    const msg = await client(sc, token).messages.create({ model: MODEL, max_tokens: 20, messages });
    const row = (await sc.server.store.ledger.page(1))[0]!;
    assert.equal(row.keyName, 'priced');
    // $100/Mtok in = 100 n$ per token; $1000/Mtok out = 1000 n$ per token.
    assert.equal(row.costNanos, (msg.usage.input_tokens * 100 + msg.usage.output_tokens * 1000) * 1000);

    const get = await call<PriceBody>(sc, 'GET', '/api/pricing', { token: admin });
    assert.equal(get.json.overrides[0]!.model, MODEL);
    const slash = await call<PriceBody>(sc, 'PUT', '/api/pricing/anthropic%2Fclaude-opus-4', { token: admin, body: { input: 15, output: 75, cacheRead: 1.5 } });
    assert.equal(slash.json.price.model, 'anthropic/claude-opus-4');
    assert.equal((await call(sc, 'DELETE', '/api/pricing/anthropic%2Fclaude-opus-4', { token: admin })).status, 200);
    const del = await call<PriceBody>(sc, 'DELETE', `/api/pricing/${MODEL}`, { token: admin });
    assert.equal(del.status, 200);
    assert.equal(del.json.event.kind, 'price-rm');
    assert.equal((await call(sc, 'DELETE', `/api/pricing/${MODEL}`, { token: admin })).status, 404);
    const again = await client(sc, token).messages.create({ model: MODEL, max_tokens: 20, messages });
    const row2 = (await sc.server.store.ledger.page(1))[0]!;
    assert.equal(row2.costNanos, (again.usage.input_tokens * 3 + again.usage.output_tokens * 15) * 1000, 'back to the catalogue price');
  });

  test('/api/live: a snapshot, then spend events while a stream runs and after it settles', async () => {
    const token = await addKey(sc.dataDir, 'live', 10);
    const ac = new AbortController();
    const res = await fetch(`${sc.url}/api/live`, { headers: { authorization: `Bearer ${admin}` }, signal: ac.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const events: Array<{ event: string; data: { budgets: Array<{ name: string; heldUsd: number; spentUsd: number; capUsd: number; remainingUsd: number }> } }> = [];
    const pump = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) !== -1) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) events.push({ event, data: JSON.parse(data) as (typeof events)[number]['data'] });
          }
        }
      } catch {
        /* aborted */
      }
    })();
    const waitFor = async (pred: () => boolean, what: string) => {
      const until = Date.now() + 10_000;
      while (!pred()) {
        if (Date.now() > until) assert.fail(`timed out waiting for ${what}; got ${JSON.stringify(events)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await waitFor(() => events.length > 0, 'the snapshot');
    assert.equal(events[0]!.event, 'snapshot');
    const live0 = events[0]!.data.budgets.find((b) => b.name === 'live')!;
    assert.deepEqual([live0.spentUsd, live0.heldUsd, live0.capUsd, live0.remainingUsd], [0, 0, 10, 10]);

    mock.options = { ...mock.options, outputTokens: 400, tokenIntervalMs: 5 };
    try {
      const stream = client(sc, token).messages.stream({ model: MODEL, max_tokens: 1000, messages });
      const seen = (f: (b: { heldUsd: number; spentUsd: number }) => boolean) => events.some((e) => e.event === 'spend' && e.data.budgets.some((b) => b.name === 'live' && f(b)));
      await waitFor(() => seen((b) => b.heldUsd > 0), 'a hold while the stream runs');
      const final = await stream.finalMessage();
      assert.equal(final.usage.output_tokens, 400);
      await waitFor(() => seen((b) => b.spentUsd > 0 && b.heldUsd === 0), 'the settled charge');
      const last = events.filter((e) => e.event === 'spend').flatMap((e) => e.data.budgets).filter((b) => b.name === 'live').at(-1)!;
      const spent = (await sc.server.store.ledger.page(1))[0]!.costNanos / 1e9;
      assert.equal(last.spentUsd, spent);
      assert.ok(Math.abs(last.remainingUsd - (10 - spent)) < 1e-9);
    } finally {
      mock.options = { ...mock.options, outputTokens: 20, tokenIntervalMs: 0 };
      ac.abort();
      await pump;
    }
  });

  test('badge.svg: well-formed SVG with "$spent / $cap", cacheable a few seconds; its own read-only token rides in ?token=', async () => {
    await call(sc, 'PATCH', '/api/budgets/ops', { token: admin, body: { cap: 15 } });
    const spent = (await sc.server.store.ledger.page(1000)).filter((r) => r.keyName === 'ops').reduce((a, r) => a + r.costNanos, 0);
    const detail = await call<{ id: number; badgeUrl: string }>(sc, 'GET', '/api/budgets/ops', { token: admin });
    const badgeUrl = new URL(detail.json.badgeUrl);
    assert.equal(badgeUrl.pathname, `/api/budgets/${detail.json.id}/badge.svg`);
    const badgeTok = badgeUrl.searchParams.get('token')!;
    assert.ok(!detail.json.badgeUrl.includes(admin), 'the badge URL does not carry the admin token');
    const r = await call(sc, 'GET', `${badgeUrl.pathname}?token=${badgeTok}`, { token: null });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^image\/svg\+xml/);
    assert.match(String(r.headers['cache-control']), /max-age=5/);
    assertWellFormedXml(r.text);
    assert.match(r.text, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    const cents = Math.ceil(spent / 10_000_000);
    const shown = `$${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')} / $15`;
    assert.ok(r.text.includes(`>${shown}</text>`), `${shown} in ${r.text}`);
    assert.ok(r.text.includes('>spend</text>'));
    const bearer = await call(sc, 'GET', '/api/budgets/ops/badge.svg?label=work', { token: admin });
    assert.ok(bearer.text.includes('>work</text>'));
    assert.equal((await call(sc, 'GET', '/api/budgets/ops/badge.svg?token=wrong', { token: null })).status, 401);
    assert.equal((await call(sc, 'GET', '/api/budgets/nope/badge.svg', { token: admin })).status, 404);
    assert.equal((await call(sc, 'GET', `/api/budgets/ops/badge.svg?token=${badgeTok}`, { token: null })).status, 200, 'by name too');
  });

  test('a badge token can do nothing else: no other endpoint, no other budget\'s badge; the admin token is not taken in a URL', async () => {
    const work = await call<{ badgeUrl: string }>(sc, 'GET', '/api/budgets/ops', { token: admin });
    const badgeTok = new URL(work.json.badgeUrl).searchParams.get('token')!;
    for (const [method, path] of [['GET', '/api/budgets'], ['GET', '/api/budgets/ops'], ['POST', '/api/budgets/ops/kill'], ['GET', '/metrics'], ['GET', '/api/keys']] as const) {
      assert.equal((await call(sc, method, path, { token: badgeTok })).status, 401, `${method} ${path} as Bearer`);
      assert.equal((await call(sc, method, `${path}?token=${badgeTok}`, { token: null })).status, 401, `${method} ${path} in ?token=`);
    }
    await addKey(sc.dataDir, 'badge-other', 1);
    const budgets = await call<{ budgets: Array<{ name: string; id: number }> }>(sc, 'GET', '/api/budgets', { token: admin });
    const other = budgets.json.budgets.find((b) => b.name === 'badge-other')!;
    assert.equal((await call(sc, 'GET', `/api/budgets/${other.id}/badge.svg?token=${badgeTok}`, { token: null })).status, 401, "another budget's badge");
    const inUrl = await call(sc, 'GET', `/api/budgets/ops/badge.svg?token=${encodeURIComponent(admin)}`, { token: null });
    assert.equal(inUrl.status, 401);
    assert.match(inUrl.text, /badge token/);
    const printed = await cli(sc.dataDir, ['budget', 'badge', 'ops', '--json']);
    assert.equal(printed.code, 0, printed.err);
    assert.equal((JSON.parse(printed.out) as { url: string }).url, work.json.badgeUrl, 'spendcap budget badge prints the same URL');
  });

  test('budgets are addressed by the numeric id GET /api/budgets gives, as by name', async () => {
    const budgets = await call<{ budgets: Array<{ name: string; id: number }> }>(sc, 'GET', '/api/budgets', { token: admin });
    const work = budgets.json.budgets.find((b) => b.name === 'ops')!;
    const byId = await call<{ name: string; id: number }>(sc, 'GET', `/api/budgets/${work.id}`, { token: admin });
    assert.equal(byId.status, 200, byId.text);
    assert.equal(byId.json.name, 'ops');
    const svg = await call(sc, 'GET', `/api/budgets/${work.id}/badge.svg`, { token: admin });
    assert.equal(svg.status, 200);
    const patched = await call<{ budget: { name: string; capUsd: number } }>(sc, 'PATCH', `/api/budgets/${work.id}`, { token: admin, body: { cap: 16 } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual([patched.json.budget.name, patched.json.budget.capUsd], ['ops', 16]);
    assert.equal((await call(sc, 'GET', '/api/budgets/999999', { token: admin })).status, 404);
    await call(sc, 'PATCH', '/api/budgets/ops', { token: admin, body: { cap: 15 } });
  });

  test('/metrics: Prometheus text that parses, with spend, holds, blocks, cuts, requests by outcome and a duration histogram', async () => {
    const tiny = await addKey(sc.dataDir, 'tiny', 0.000001);
    await assert.rejects(client(sc, tiny).messages.create({ model: MODEL, max_tokens: 20, messages }));
    const r = await call(sc, 'GET', '/metrics', { token: admin });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const types = new Map<string, string>();
    const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
    for (const line of r.text.split('\n')) {
      if (line === '') continue;
      const typeLine = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (typeLine) {
        assert.ok(!types.has(typeLine[1]!), `one TYPE per family: ${typeLine[1]!}`);
        types.set(typeLine[1]!, typeLine[2]!);
        continue;
      }
      if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (-?[0-9.e+-]+|\+Inf|-Inf|NaN)$/.exec(line);
      assert.ok(m, `not a Prometheus sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
      const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
      assert.ok(types.has(m[1]!) || types.get(family) === 'histogram', `sample ${m[1]!} has a TYPE line before it`);
      samples.push({ name: m[1]!, labels, value: Number(m[3] === '+Inf' ? Infinity : m[3]) });
    }
    const get = (name: string, labels: Record<string, string>) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    const ledger = (await sc.server.store.ledger.page(1000));
    assert.equal(get('spendcap_requests_total', { key: 'ops', outcome: 'ok' }), ledger.filter((x) => x.keyName === 'ops' && x.outcome === 'ok').length);
    assert.equal(get('spendcap_blocks_total', { key: 'tiny' }), 1);
    assert.equal(get('spendcap_blocks_total', { key: 'ops' }), ledger.filter((x) => x.keyName === 'ops' && x.outcome === 'blocked').length);
    assert.equal(types.get('spendcap_cuts_total'), 'counter');
    assert.equal(get('spendcap_budget_cap_usd', { budget: 'ops' }), 15);
    assert.ok(get('spendcap_budget_spent_usd', { budget: 'ops' })! > 0);
    assert.equal(get('spendcap_held_usd', {}), 0);
    assert.equal(get('spendcap_open_requests', {}), 0);
    const spend = samples.filter((s) => s.name === 'spendcap_spend_usd_total').reduce((a, s) => a + s.value, 0);
    assert.ok(Math.abs(spend - ledger.reduce((a, x) => a + x.costNanos, 0) / 1e9) < 1e-9);
    const buckets = samples.filter((s) => s.name === 'spendcap_request_duration_seconds_bucket').map((s) => s.value);
    assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b), 'cumulative buckets');
    assert.equal(buckets.at(-1), get('spendcap_request_duration_seconds_count', {}));
    assert.equal(get('spendcap_request_duration_seconds_count', {}), ledger.filter((x) => x.outcome !== 'blocked').length);
    assert.equal(types.get('spendcap_request_duration_seconds'), 'histogram');
  });
  test('POST /api/keys takes every provider `spendcap key add` takes: an OpenRouter key, an OpenAI-compatible one with its base URL; anything else is a 400 on provider', async () => {
    const router = await call<{ key: { name: string; provider: string; baseUrl: string | null }; token: string; howToPoint: string; event: EventJson }>(sc, 'POST', '/api/keys', { token: admin, body: { name: 'router', provider: 'openrouter', providerKey: 'sk-or-v1-test', capUsd: 3 } });
    assert.equal(router.status, 201, router.text);
    assert.deepEqual([router.json.key.name, router.json.key.provider, router.json.key.baseUrl], ['router', 'openrouter', null]);
    assert.match(router.json.token, /^sc-/);
    assert.match(router.json.howToPoint, /^OPENAI_BASE_URL=http:\/\/127\.0\.0\.1:\d+\/v1 /);
    assert.deepEqual([router.json.event.kind, router.json.event.channel], ['key-add', 'api']);
    assert.equal((await sc.server.store.keys.byName('router'))!.provider, 'openrouter');
    const compat = await call<{ key: { provider: string; baseUrl: string | null } }>(sc, 'POST', '/api/keys', { token: admin, body: { name: 'groq', provider: 'openai-compatible', baseUrl: 'https://api.groq.com/openai/v1/', providerKey: 'gsk-test', capUsd: 3 } });
    assert.equal(compat.status, 201, compat.text);
    assert.deepEqual([compat.json.key.provider, compat.json.key.baseUrl], ['openai-compatible', 'https://api.groq.com/openai/v1']);
    const bad = await call(sc, 'POST', '/api/keys', { token: admin, body: { name: 'nope', provider: 'mistral', providerKey: 'k', capUsd: 3 } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.field, 'provider');
    assert.match(bad.json.error.message, /anthropic, openai, gemini, openrouter, openai-compatible/);
    for (const name of ['router', 'groq']) assert.equal((await call(sc, 'DELETE', `/api/keys/${name}`, { token: admin })).status, 200);
  });

  test('GET /api/pricing lists the prices in use: each model of the ledger with the rates and source the proxy charges it by', async () => {
    await client(sc, workToken).messages.create({ model: MODEL, max_tokens: 20, messages });
    interface InUse { provider: string; model: string; pricedAs: string; source: string; estimated: boolean; inputUsd: number; outputUsd: number; cacheReadUsd: number; cacheWrite5mUsd: number; cacheWrite1hUsd: number }
    const r = await call<{ inUse: InUse[] }>(sc, 'GET', '/api/pricing', { token: admin });
    assert.equal(r.status, 200);
    const m = r.json.inUse.find((x) => x.model === MODEL);
    assert.deepEqual(m, { provider: 'anthropic', model: MODEL, pricedAs: MODEL, source: 'catalogue', estimated: false, inputUsd: 3, outputUsd: 15, cacheReadUsd: 0.3, cacheWrite5mUsd: 3.75, cacheWrite1hUsd: 6 });
    assert.equal(r.json.inUse[0]!.model, MODEL, 'most recently used first');
    // An override changes what is listed at once, as it changes what the next request costs.
    await call(sc, 'PUT', `/api/pricing/${MODEL}`, { token: admin, body: { input: 1, output: 2 } });
    const o = (await call<{ inUse: InUse[] }>(sc, 'GET', '/api/pricing', { token: admin })).json.inUse.find((x) => x.model === MODEL)!;
    assert.deepEqual([o.source, o.inputUsd, o.outputUsd], ['override', 1, 2]);
    await call(sc, 'DELETE', `/api/pricing/${MODEL}`, { token: admin });
  });

  test('GET /api/events?channel= filters the audit log by who acted; an unknown channel is a 400', async () => {
    const all = await call<Page<EventJson>>(sc, 'GET', '/api/events?limit=1000', { token: admin });
    const cliOnly = await call<Page<EventJson>>(sc, 'GET', '/api/events?channel=cli&limit=1000', { token: admin });
    assert.equal(cliOnly.status, 200);
    assert.ok(cliOnly.json.total > 0);
    assert.ok(cliOnly.json.items.every((e) => e.channel === 'cli'));
    assert.equal(cliOnly.json.total, all.json.items.filter((e) => e.channel === 'cli').length);
    const apiKills = await call<Page<EventJson>>(sc, 'GET', '/api/events?channel=api&kind=kill', { token: admin });
    assert.ok(apiKills.json.total > 0 && apiKills.json.items.every((e) => e.channel === 'api' && e.kind === 'kill'));
    assert.equal((await call<Page<EventJson>>(sc, 'GET', '/api/events?channel=slack', { token: admin })).json.total, 0);
    const bad = await call(sc, 'GET', '/api/events?channel=email', { token: admin });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.field, 'channel');
  });
  test('GET /api/budgets/:name carries the auto-tune suggestion for every budget, whatever its auto-tune mode', async () => {
    interface Tuned { autotune: string; autotuneSuggestion: { suggestedUsd: number | null; reason: string } }
    await addKey(sc.dataDir, 'tuned', 5, ['--period', 'day']);
    const keyId = (await sc.server.store.keys.byName('tuned'))!.id;
    const day = 86_400_000;
    const now = Date.now();
    // $1..$14 on each of the 14 complete days before today: p90 is $13, × 1.2 headroom = $15.60 a day.
    for (let d = 1; d <= 14; d++) {
      await sc.server.store.ledger.insert({ ts: now - d * day, requestId: `past-${d}`, keyId, keyName: 'tuned', session: null, provider: 'anthropic', model: MODEL, pricedAs: MODEL, priceEstimated: false, inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWrite5mTokens: 0, cacheWrite1hTokens: 0, costNanos: d * 1_000_000_000, outcome: 'ok', usageSource: 'provider', status: 200, durationMs: 1, detail: null });
    }
    const tuned = await call<Tuned>(sc, 'GET', '/api/budgets/tuned', { token: admin });
    assert.equal(tuned.status, 200, tuned.text);
    assert.equal(tuned.json.autotune, 'off');
    assert.equal(tuned.json.autotuneSuggestion.suggestedUsd, 15.6);
    assert.match(tuned.json.autotuneSuggestion.reason, /p90 of daily spend over the last 14 days is \$13\.00; × 1\.2 headroom = \$15\.60 per day/);
    // The global budget counts every key's days; a total budget gets no suggestion, with the reason.
    const made = await call(sc, 'POST', '/api/budgets', { token: admin, body: { name: 'all-time', scope: 'global', cap: 100, period: 'total' } });
    assert.equal(made.status, 201, made.text);
    const total = await call<Tuned>(sc, 'GET', '/api/budgets/all-time', { token: admin });
    assert.deepEqual(total.json.autotuneSuggestion, { suggestedUsd: null, reason: 'a total budget never resets; auto-tune only suggests caps for day, week and month budgets' });
    const fresh = await call<Tuned>(sc, 'GET', '/api/budgets/ops', { token: admin });
    assert.equal(fresh.json.autotuneSuggestion.suggestedUsd, null);
    assert.match(fresh.json.autotuneSuggestion.reason, /only 0 of the last 14 days had spend/);
    await call(sc, 'DELETE', '/api/budgets/all-time', { token: admin });
  });

  test("GET /api/budgets/:name lists a key's recent sessions, capped or not: requests, spend, last outcome, and open while a request is in flight", async () => {
    interface SessionJson { id: string; requests: number; spentUsd: number; capUsd: number | null; lastSeen: string; lastOutcome: string | null; open: boolean }
    const token = await addKey(sc.dataDir, 'agent', 10);
    const withSession = (id: string) => new Anthropic({ apiKey: token, baseURL: sc.url, maxRetries: 0, defaultHeaders: { 'x-spendcap-session': id } });
    await withSession('s-one').messages.create({ model: MODEL, max_tokens: 20, messages });
    await withSession('s-one').messages.create({ model: MODEL, max_tokens: 20, messages });
    const sessionsOf = async () => (await call<{ sessions: SessionJson[] }>(sc, 'GET', '/api/budgets/agent', { token: admin })).json.sessions;
    const first = await sessionsOf();
    assert.equal(first.length, 1);
    const spent = (await sc.server.store.ledger.page(1000)).filter((r) => r.session === 's-one').reduce((a, r) => a + r.costNanos, 0) / 1e9;
    assert.deepEqual({ ...first[0]!, lastSeen: typeof first[0]!.lastSeen }, { id: 's-one', session: 's-one', requests: 2, spentUsd: spent, capUsd: null, lastSeen: 'string', lastOutcome: 'ok', open: false });

    mock.options = { ...mock.options, outputTokens: 400, tokenIntervalMs: 10 };
    try {
      const stream = withSession('s-two').messages.stream({ model: MODEL, max_tokens: 1000, messages });
      let during: SessionJson[] = [];
      const until = Date.now() + 10_000;
      while (!during.some((x) => x.id === 's-two' && x.open)) {
        if (Date.now() > until) assert.fail(`s-two never showed open: ${JSON.stringify(during)}`);
        await new Promise((r) => setTimeout(r, 20));
        during = await sessionsOf();
      }
      // Its first ledger row is written when it settles: until then it is listed from the hold in flight.
      assert.deepEqual(during.map((x) => [x.id, x.requests, x.open, x.lastOutcome]), [['s-two', 0, true, null], ['s-one', 2, false, 'ok']]);
      await stream.finalMessage();
    } finally {
      mock.options = { ...mock.options, outputTokens: 20, tokenIntervalMs: 0 };
    }
    const after = await sessionsOf();
    assert.deepEqual(after.map((x) => [x.id, x.requests, x.open, x.lastOutcome]), [['s-two', 1, false, 'ok'], ['s-one', 2, false, 'ok']]);
    // A session cap shows on each session.
    await call(sc, 'PATCH', '/api/budgets/agent', { token: admin, body: { sessionCap: 1 } });
    assert.ok((await sessionsOf()).every((x) => x.capUsd === 1));
  });
  test("GET /api/stats adds the overview's charts in the data dir's zone: 14 days by key and by model, today by hour", async () => {
    interface Charts { timeZone: string; byDayKey: Array<{ day: string; key: string; costUsd: number }>; byDayModel: Array<{ day: string; model: string; costUsd: number }>; byHour: Array<{ hour: string; costUsd: number }> }
    const tz = 'Asia/Kolkata'; // +05:30: a zone whose hours and days are not UTC's
    assert.equal((await call(sc, 'PATCH', '/api/settings', { token: admin, body: { timeZone: tz } })).status, 200);
    try {
      const r = await call<Charts>(sc, 'GET', '/api/stats', { token: admin });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.timeZone, tz);
      const parts = (ms: number) => Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit' }).formatToParts(ms).map((p) => [p.type, p.value]));
      const dayOf = (ms: number) => { const p = parts(ms); return `${p.year}-${p.month}-${p.day}`; };
      const hourOf = (ms: number) => `${dayOf(ms)}T${parts(ms).hour}`;
      const now = Date.now();
      const days = new Set(Array.from({ length: 14 }, (_, i) => dayOf(now - i * 86_400_000)));
      const ledger = (await sc.server.store.ledger.page(10_000)).filter((x) => days.has(dayOf(x.ts)));
      const expect = (f: (x: (typeof ledger)[number]) => string) => {
        const m = new Map<string, number>();
        for (const x of ledger) m.set(f(x), (m.get(f(x)) ?? 0) + x.costNanos);
        return m;
      };
      const close = (got: Map<string, number>, want: Map<string, number>, what: string) => {
        assert.deepEqual([...got.keys()].sort(), [...want.keys()].filter((k) => want.get(k)! > 0 || got.has(k)).sort(), what);
        for (const [k, v] of want) if (got.has(k)) assert.ok(Math.abs(got.get(k)! - v / 1e9) < 1e-9, `${what} ${k}`);
      };
      close(new Map(r.json.byDayKey.map((d) => [`${d.day}|${d.key}`, d.costUsd])), expect((x) => `${dayOf(x.ts)}|${x.keyName}`), 'byDayKey');
      close(new Map(r.json.byDayModel.map((d) => [`${d.day}|${d.model}`, d.costUsd])), expect((x) => `${dayOf(x.ts)}|${x.model}`), 'byDayModel');
      const today = dayOf(now);
      const hours = new Map<string, number>();
      for (const x of ledger) if (dayOf(x.ts) === today) hours.set(hourOf(x.ts), (hours.get(hourOf(x.ts)) ?? 0) + x.costNanos);
      close(new Map(r.json.byHour.map((d) => [d.hour, d.costUsd])), hours, 'byHour');
      assert.ok(r.json.byHour.length > 0 && r.json.byHour.every((h) => h.hour.startsWith(today)));
      // The 'tuned' key's past days ($1 … $13 on the 13 days before today) are there, one per day.
      const tuned = r.json.byDayKey.filter((d) => d.key === 'tuned');
      assert.equal(tuned.length, 13);
      assert.ok(Math.abs(tuned.reduce((a, d) => a + d.costUsd, 0) - 91) < 1e-9);
      // key= narrows the charts like the rest of the answer.
      const one = await call<Charts>(sc, 'GET', '/api/stats?key=agent', { token: admin });
      assert.ok(one.json.byDayKey.length > 0 && one.json.byDayKey.every((d) => d.key === 'agent'));
    } finally {
      await call(sc, 'PATCH', '/api/settings', { token: admin, body: { timeZone: null } });
    }
  });
  test('GET /api/trust: the SQLite files are owner-only (0600) on disk and say so; alert channels are listed, none configured', async () => {
    interface TrustJson { files: Array<{ name: string; exists: boolean; mode: string | null }>; alertChannels: Array<{ id: string; name: string; configured: boolean; fields: string[] }> }
    const r = await call<TrustJson>(sc, 'GET', '/api/trust', { token: admin });
    assert.equal(r.status, 200, r.text);
    for (const name of ['spendcap.db', 'spendcap.db-wal', 'spendcap.db-shm']) {
      assert.equal(statSync(join(sc.dataDir, name)).mode & 0o777, 0o600, `${name} on disk`);
      const f = r.json.files.find((x) => x.name === name);
      assert.deepEqual([f?.exists, f?.mode], [true, '0600'], name);
    }
    assert.deepEqual(r.json.alertChannels.map((c) => [c.id, c.configured]), [['webhook', false], ['slack', false], ['telegram', false], ['email', false], ['desktop', false]]);
    // The fields each channel receives come from the code that builds its messages (src/alerts/channels/*).
    assert.deepEqual(r.json.alertChannels.find((c) => c.id === 'webhook')!.fields, ['id', 'kind', 'budget', 'scope', 'threshold', 'spentUsd', 'capUsd', 'periodEnd', 'count', 'title', 'text', 'dashboardUrl', 'ts', 'update']);
  });
});
