// A local imitation of OpenRouter's key management, generation lookup and a chat completions endpoint
// that enforces each key's credit limit, for the second wall and reconciliation tests.
//
// Wire facts followed (OpenRouterTeam/docs: management-api-keys, api_reference/limits, generation):
// - Management calls carry `Authorization: Bearer <management key>`; that key cannot call completions.
// - POST /api/v1/keys {name, limit, limit_reset, include_byok_in_limit} → 201 {data: {hash, name, limit,
//   limit_remaining, limit_reset, usage, usage_daily…}, key: "sk-or-v1-…"}; GET|PATCH|DELETE /keys/{hash}.
// - A key past its limit: 402 {"error": {"code": 402, "message": …, "metadata": {"limit_source":
//   "openrouter_key_limit"}}} (or, with `limitRefusal: '403'`, 403 "Key limit exceeded").
// - Completions carry `id: "gen-…"` and `usage.cost` (USD); GET /generation?id= → {data: {id, total_cost,
//   cancelled, model}}. `generationCostUsd` lets a test make OpenRouter's final figure differ.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeKey {
  hash: string;
  name: string;
  key: string;
  limit: number | null;
  limitReset: string | null;
  includeByok: boolean;
  usage: number;
  disabled: boolean;
}

export interface FakeGeneration {
  id: string;
  key: string;
  model: string;
  cost: number;
  cancelled: boolean;
}

export interface FakeOpenRouter {
  url: string;
  /** The base spendcap uses: `${url}/api/v1`. */
  base: string;
  managementKey: string;
  keys: Map<string, FakeKey>;
  generations: Map<string, FakeGeneration>;
  /** Bodies of POST /keys and PATCH /keys/{hash}, in order. */
  calls: Array<{ method: string; path: string; body: unknown; auth: string | undefined }>;
  options: FakeOpenRouterOptions;
  close(): Promise<void>;
}

export interface FakeOpenRouterOptions {
  /** What one completion costs (USD credits). Default 0.002. */
  costUsd?: number;
  /** What GET /generation reports, when it differs from usage.cost (drift). */
  generationCostUsd?: (id: string) => number | undefined;
  /** The account is out of credits: every completion gets OpenRouter's 402 with limit_source openrouter_credits. */
  creditsExhausted?: boolean;
  /** Streams wait this long after their first chunk (a client can leave mid-stream). Default 0. */
  streamPauseMs?: number;
  /** How a key over its limit is refused. Default '402'. */
  limitRefusal?: '402' | '403';
}

const rd = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve) => {
    let s = '';
    req.on('data', (c: Buffer) => (s += c.toString('utf8')));
    req.on('end', () => resolve(s));
  });

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function keyData(k: FakeKey): Record<string, unknown> {
  return {
    hash: k.hash,
    name: k.name,
    label: `sk-or-v1-${k.key.slice(-3)}...`,
    disabled: k.disabled,
    limit: k.limit,
    limit_remaining: k.limit === null ? null : Math.max(0, k.limit - k.usage),
    limit_reset: k.limitReset,
    include_byok_in_limit: k.includeByok,
    usage: k.usage,
    usage_daily: k.usage,
    usage_weekly: k.usage,
    usage_monthly: k.usage,
    byok_usage: 0,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: null,
    expires_at: null,
  };
}

export async function startFakeOpenRouter(options: FakeOpenRouterOptions = {}): Promise<FakeOpenRouter> {
  const managementKey = 'sk-or-v1-mgmt-fake';
  let n = 0;
  const fake: FakeOpenRouter = { url: '', base: '', managementKey, keys: new Map(), generations: new Map(), calls: [], options, close: async () => undefined };

  const server = http.createServer((req, res) => {
    void (async () => {
      const raw = await rd(req);
      const u = new URL(req.url ?? '/', 'http://x');
      const path = u.pathname.replace(/^\/api\/v1/, '');
      const auth = req.headers.authorization?.replace(/^Bearer /, '');
      let body: unknown = null;
      try {
        body = raw === '' ? null : JSON.parse(raw);
      } catch {
        body = null;
      }
      fake.calls.push({ method: req.method ?? '', path: path + u.search, body, auth });
      const b = (body ?? {}) as Record<string, unknown>;

      if (path === '/keys' || path.startsWith('/keys/')) {
        if (auth !== managementKey) return send(res, 401, { error: { code: 401, message: 'Invalid management key' } });
        if (path === '/keys' && req.method === 'POST') {
          n++;
          const k: FakeKey = { hash: `hash${n}`.padEnd(16, '0'), name: String(b['name']), key: `sk-or-v1-fake${n}`, limit: typeof b['limit'] === 'number' ? b['limit'] : null, limitReset: typeof b['limit_reset'] === 'string' ? b['limit_reset'] : null, includeByok: b['include_byok_in_limit'] === true, usage: 0, disabled: false };
          fake.keys.set(k.hash, k);
          return send(res, 201, { data: keyData(k), key: k.key });
        }
        const k = fake.keys.get(decodeURIComponent(path.slice('/keys/'.length)));
        if (!k) return send(res, 404, { error: { code: 404, message: 'Key not found' } });
        if (req.method === 'GET') return send(res, 200, { data: keyData(k) });
        if (req.method === 'PATCH') {
          if (typeof b['limit'] === 'number' || b['limit'] === null) k.limit = b['limit'];
          if ('limit_reset' in b) k.limitReset = (b['limit_reset'] as string | null) ?? null;
          return send(res, 200, { data: keyData(k) });
        }
        if (req.method === 'DELETE') {
          fake.keys.delete(k.hash);
          return send(res, 200, { deleted: true });
        }
      }

      const owner = [...fake.keys.values()].find((k) => k.key === auth);
      if (path === '/generation' && req.method === 'GET') {
        if (!owner && auth !== managementKey) return send(res, 401, { error: { code: 401, message: 'No auth credentials found' } });
        const g = fake.generations.get(u.searchParams.get('id') ?? '');
        if (!g) return send(res, 404, { error: { code: 404, message: 'Generation not found' } });
        const cost = fake.options.generationCostUsd?.(g.id) ?? g.cost;
        return send(res, 200, { data: { id: g.id, total_cost: cost, cancelled: g.cancelled, model: g.model, streamed: false, finish_reason: 'stop', native_tokens_prompt: 10, native_tokens_completion: 5 } });
      }

      if ((path === '/chat/completions' || path === '/responses') && req.method === 'POST') {
        if (!owner) return send(res, 401, { error: { code: 401, message: 'User not found.' } });
        const cost = fake.options.costUsd ?? 0.002;
        if (fake.options.creditsExhausted) return send(res, 402, { error: { code: 402, message: 'Insufficient credits. Add more using https://openrouter.ai/credits', metadata: { limit_source: 'openrouter_credits' } } });
        if (owner.disabled || (owner.limit !== null && owner.usage + cost > owner.limit + 1e-12)) {
          if (fake.options.limitRefusal === '403') return send(res, 403, { error: { code: 403, message: 'Key limit exceeded' } });
          return send(res, 402, { error: { code: 402, message: 'This request requires more credits than the key has left: raise its limit at https://openrouter.ai/settings/keys', metadata: { limit_source: 'openrouter_key_limit' } } });
        }
        if (path === '/responses') return send(res, 501, { error: { code: 501, message: 'the fake serves Responses refusals only' } });
        owner.usage += cost;
        const id = `gen-${String(fake.generations.size + 1).padStart(10, '0')}`;
        const model = typeof b['model'] === 'string' ? b['model'] : 'openai/gpt-4o-mini';
        fake.generations.set(id, { id, key: owner.key, model, cost, cancelled: false });
        const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, cost, is_byok: false, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } };
        const created = Math.floor(Date.now() / 1000);
        if (b['stream'] === true) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(': OPENROUTER PROCESSING\n\n');
          const chunk = (delta: unknown, finish: string | null, extra: Record<string, unknown> = {}) => `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
          res.write(chunk({ role: 'assistant', content: 'hello' }, null));
          if (fake.options.streamPauseMs) await new Promise((r) => setTimeout(r, fake.options.streamPauseMs));
          if (res.destroyed) {
            // The client left: OpenRouter records the generation as cancelled.
            fake.generations.get(id)!.cancelled = true;
            return;
          }
          res.write(chunk({}, 'stop'));
          res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`);
          res.end('data: [DONE]\n\n');
          return;
        }
        return send(res, 200, { id, object: 'chat.completion', created, model, provider: 'OpenAI', choices: [{ index: 0, message: { role: 'assistant', content: 'hello' }, finish_reason: 'stop' }], usage });
      }
      send(res, 404, { error: { code: 404, message: `no route ${req.method} ${path}` } });
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.base = `${fake.url}/api/v1`;
  fake.close = () => new Promise<void>((r) => server.close(() => r()));
  return fake;
}
