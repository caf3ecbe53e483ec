// A local imitation of the Gemini API (generativelanguage) for tests.
//
// Same discipline as mock-anthropic.ts and mock-openai.ts: streams are real SSE in Gemini's shape, the
// answer is written a token at a time (tokensPerChunk, default 1), and each request keeps a bill that
// counts exactly the tokens whose chunk was handed to res.write(). A client that disconnects mid-stream
// is billed for what was written up to then; the bill is finalized when the response ends or the
// connection closes.
//
// Wire facts this mock follows (test/fixtures/gemini-streamGenerateContent-sse-*.sse, @google/genai 3.x):
// - `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`; @google/genai 3.x
//   calls `/v1/models/...` by default, so both prefixes are served. Without `alt=sse` the stream endpoint
//   answers a JSON array (written progressively).
// - SSE events are data-only, end in `\r\n\r\n`, and there is no [DONE].
// - Every chunk carries `usageMetadata` with RUNNING totals (the last chunk is authoritative):
//   promptTokenCount (includes cachedContentTokenCount), candidatesTokenCount, thoughtsTokenCount (thinking,
//   billed as output), totalTokenCount = prompt + candidates + thoughts. Zero counts are omitted, as proto3
//   JSON does. `usageUpdates: 'final'` imitates the recorded basic stream, whose intermediate chunks carry
//   only the prompt count and whose last chunk has the candidates count.
// - The last chunk has `finishReason: "STOP"` ("MAX_TOKENS" when generationConfig.maxOutputTokens cuts).
// - The key comes in the `x-goog-api-key` header or `?key=`.
// - Errors: `{"error":{"code","message","status"}}` (Google RPC shape).
//
// Usage:
//   const mock = await startMockGemini({ outputTokens: 20 });
//   const ai = new GoogleGenAI({ apiKey: 'k', httpOptions: { baseUrl: mock.url } });
//   ... await mock.waitIdle(); mock.bills[0].usage.candidatesTokenCount; mock.billedNanos(p); await mock.close();

import http from 'node:http';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenSource, asRecord, jsonFragments, openExchange, parseJsonObject, prng, randomId, readBody, sendJson } from './mock-openai.js';

/** Prices in integer nano-dollars per million tokens. */
export interface MockGeminiPricePerMtok {
  /** Uncached prompt tokens. */
  input: number;
  /** cachedContentTokenCount tokens. */
  cachedInput: number;
  /** Candidates + thoughts. */
  output: number;
}

export interface MockGeminiCut {
  afterTokens: number;
  /**
   * - `error` (default): a `data: {"error":{code,message,status}}` event, then the response ends.
   * - `raw-error`: the error object as raw JSON (no `data:`), as recorded from the API mid-stream.
   * - `close`: the response ends cleanly without a finishReason.
   * - `destroy`: the connection is reset.
   */
  kind?: 'error' | 'raw-error' | 'close' | 'destroy';
  /** HTTP-style code in the error object. Default 500. */
  code?: number;
  message?: string;
  /** RPC status. Default per code (500 → INTERNAL). */
  status?: string;
}

export interface MockGeminiOptions {
  /** Delay between two chunks; 0 = as fast as possible (setImmediate between writes). Default 2. */
  tokenIntervalMs?: number;
  /** Planned answer tokens, clamped to generationConfig.maxOutputTokens. Default 50. */
  outputTokens?: number;
  /** Answer tokens per chunk. Default 1. */
  tokensPerChunk?: number;
  /** Prompt tokens to report; default ceil(request body bytes / 4). */
  inputTokens?: number;
  /** cachedContentTokenCount (a subset of the prompt; clamped to it). Default 0. */
  cachedTokens?: number;
  /**
   * Thinking tokens (thoughtsTokenCount), billed as output. When the request asks for
   * `thinkingConfig.includeThoughts`, `thoughtChunks` thought-summary parts (`thought: true`) stream first,
   * each adding its share of the count; otherwise all of it is billed with the first chunk (thinking
   * happens before the first visible token). Default 0.
   */
  thinkingTokens?: number;
  /** Thought-summary chunks when thoughts are included. Default 3. */
  thoughtChunks?: number;
  /**
   * Hidden thinking takes time: with thoughts not included, the stream's headers go out at once and
   * the thinking is billed progressively at this many tokens/s until it is done, then the first chunk
   * follows (a client that leaves meanwhile is billed the thinking so far). 0 (default): no delay.
   */
  hiddenThinkingTokensPerSecond?: number;
  /** End with a functionCall part (Gemini sends it whole, in one chunk) instead of text. */
  functionCall?: boolean | { name?: string; args?: Record<string, unknown> };
  /** How intermediate chunks report candidates: running totals (default) or only in the last chunk. */
  usageUpdates?: 'running' | 'final';
  /** modelVersion to echo; default the model of the path. */
  modelVersion?: string;
  /** Delay before the status line/headers are written. Default 0. */
  firstByteDelayMs?: number;
  /** Answer the generate endpoints with this HTTP error status. */
  status?: number;
  /** Error body for `status`; default {"error":{code,message,status}} per status. */
  errorBody?: unknown;
  /** Extra headers on error answers. */
  errorHeaders?: Record<string, string>;
  /** End the stream early after N answer tokens (a number = kind "error", code 500). */
  cut?: number | MockGeminiCut;
  /** Force the final finishReason. */
  finishReason?: string;
  /** If set, requests whose key (x-goog-api-key or ?key=) differs get a 400 API_KEY_INVALID. */
  apiKey?: string;
  /** Prefix for bill ids: `req_${prefix}${n}`. Default "mock". */
  requestIdPrefix?: string;
  /** Seed of the token PRNG; request n uses seed + n. Default 1. */
  seed?: number;
  /** Per-request overrides, called with the request and its 0-based index among generate calls. */
  perRequest?: (req: MockRequest, index: number) => Partial<MockGeminiOptions> | undefined;
}

export interface MockRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

export interface MockGeminiUsage {
  promptTokenCount: number;
  /** Subset of promptTokenCount. */
  cachedContentTokenCount: number;
  candidatesTokenCount: number;
  thoughtsTokenCount: number;
}

export interface MockGeminiBill {
  /** Bill id (also sent as the x-mock-request-id header). */
  id: string;
  /** responseId in the body. */
  responseId: string;
  /** Model from the path (without "models/"). */
  model: string;
  /** "v1" or "v1beta". */
  apiVersion: string;
  stream: boolean;
  /** true for alt=sse streams. */
  sse: boolean;
  /** The key the request carried (header or query), if any. */
  apiKey: string | undefined;
  status: number;
  usage: MockGeminiUsage;
  /** The last chunk (with finishReason) / the full JSON was written. */
  complete: boolean;
  aborted: boolean;
  /** An error was written mid-stream. */
  errored: boolean;
  finalized: boolean;
}

export interface MockGemini {
  /** Base URL, e.g. http://127.0.0.1:54321 (no trailing slash, no version). */
  readonly url: string;
  readonly port: number;
  /** One entry per generate call, in arrival order; updated live while streaming. */
  readonly bills: MockGeminiBill[];
  readonly requests: MockRequest[];
  readonly openStreams: number;
  options: MockGeminiOptions;
  /** Total cost of all bills, n$, rounded up per request. */
  billedNanos(price: MockGeminiPricePerMtok): number;
  waitIdle(): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------

const RPC_STATUS: Readonly<Record<number, [string, string]>> = {
  400: ['INVALID_ARGUMENT', 'Request contains an invalid argument.'],
  401: ['UNAUTHENTICATED', 'Request had invalid authentication credentials.'],
  403: ['PERMISSION_DENIED', 'The caller does not have permission'],
  404: ['NOT_FOUND', 'Requested entity was not found.'],
  429: [
    'RESOURCE_EXHAUSTED',
    'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.',
  ],
  500: ['INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'],
  503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
  504: ['DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'],
};

function rpcError(code: number, message?: string, status?: string): { error: { code: number; message: string; status: string } } {
  const [s, m] = RPC_STATUS[code] ?? ['UNKNOWN', `HTTP ${code}`];
  return { error: { code, message: message ?? m, status: status ?? s } };
}

const MODEL_LIST = ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite', 'gemini-2.0-flash'];

const ROUTE = /^\/(v1|v1beta)\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;

interface Parsed {
  maxOutputTokens: number | undefined;
  includeThoughts: boolean;
}

function parseBody(text: string): Parsed {
  const rec = parseJsonObject(text);
  const gen = asRecord(rec['generationConfig'] ?? rec['generation_config']);
  const max = gen['maxOutputTokens'];
  return {
    maxOutputTokens: typeof max === 'number' && max > 0 ? Math.floor(max) : undefined,
    includeThoughts: asRecord(gen['thinkingConfig'])['includeThoughts'] === true,
  };
}

export async function startMockGemini(opts: MockGeminiOptions = {}): Promise<MockGemini> {
  const bills: MockGeminiBill[] = [];
  const requests: MockRequest[] = [];
  let genCount = 0;
  let requestCount = 0;
  let openStreams = 0;
  let inFlight = 0;
  let idleWaiters: Array<() => void> = [];

  const settle = (): void => {
    inFlight--;
    if (inFlight === 0) {
      const w = idleWaiters;
      idleWaiters = [];
      for (const f of w) f();
    }
  };

  const commonHeaders = (requestId: string): Record<string, string> => ({
    'x-mock-request-id': requestId,
    vary: 'Origin, X-Origin, Referer',
    server: 'scaffolding on HTTPServer2',
    'x-mock-header': '1',
  });

  const handleGenerate = async (
    res: ServerResponse,
    record: MockRequest,
    requestId: string,
    apiVersion: string,
    model: string,
    stream: boolean,
    sse: boolean,
    key: string | undefined,
  ): Promise<void> => {
    const index = genCount++;
    const o: MockGeminiOptions = { ...mock.options, ...(mock.options.perRequest?.(record, index) ?? {}) };
    const body = parseBody(record.body);
    const idRnd = prng((o.seed ?? 1) * 7919 + index);
    const responseId = randomId(idRnd, 23);
    const modelVersion = o.modelVersion ?? model;
    const prompt = Math.max(0, Math.floor(o.inputTokens ?? Math.ceil(Buffer.byteLength(record.body) / 4)));
    const cached = Math.min(prompt, Math.max(0, Math.floor(o.cachedTokens ?? 0)));
    const keyBad = o.apiKey !== undefined && key !== o.apiKey;
    const status = keyBad ? 400 : o.status;
    const streaming = stream && status === undefined;

    const bill: MockGeminiBill = {
      id: requestId,
      responseId,
      model,
      apiVersion,
      stream,
      sse,
      apiKey: key,
      status: status ?? 200,
      usage: { promptTokenCount: 0, cachedContentTokenCount: 0, candidatesTokenCount: 0, thoughtsTokenCount: 0 },
      complete: false,
      aborted: false,
      errored: false,
      finalized: false,
    };
    bills.push(bill);
    inFlight++;
    if (streaming) openStreams++;
    const ex = openExchange(res, (aborted) => {
      bill.aborted = aborted;
      bill.finalized = true;
      if (streaming) openStreams--;
      settle();
    });

    if ((o.firstByteDelayMs ?? 0) > 0) {
      await ex.sleep(o.firstByteDelayMs ?? 0);
      if (!ex.alive()) return;
    }
    const headers = commonHeaders(requestId);
    if (status !== undefined) {
      const errBody =
        o.errorBody ??
        (keyBad
          ? {
              error: {
                code: 400,
                message: 'API key not valid. Please pass a valid API key.',
                status: 'INVALID_ARGUMENT',
                details: [
                  {
                    '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
                    reason: 'API_KEY_INVALID',
                    domain: 'googleapis.com',
                    metadata: { service: 'generativelanguage.googleapis.com' },
                  },
                ],
              },
            }
          : status === 404
            ? rpcError(404, `models/${model} is not found for API version ${apiVersion}, or is not supported for generateContent.`)
            : rpcError(status));
      sendJson(res, status, { ...headers, ...(keyBad ? {} : (o.errorHeaders ?? {})) }, errBody);
      return;
    }

    // ---- plan
    const src = new TokenSource((o.seed ?? 1) + index);
    let fnCall: { name: string; args: Record<string, unknown>; tokens: number } | undefined;
    let answer: string[] = [];
    if (o.functionCall) {
      const spec = typeof o.functionCall === 'object' ? o.functionCall : {};
      const args = spec.args ?? { command: 'echo hello' };
      fnCall = { name: spec.name ?? 'run_shell_command', args, tokens: jsonFragments(JSON.stringify(args)).length + 2 };
    } else {
      answer = src.take(Math.max(0, Math.floor(o.outputTokens ?? 50)));
    }
    let thoughts = Math.max(0, Math.floor(o.thinkingTokens ?? 0));
    let truncated = false;
    if (body.maxOutputTokens !== undefined) {
      // thinking counts against maxOutputTokens as well
      if (thoughts > body.maxOutputTokens) {
        thoughts = body.maxOutputTokens;
        truncated = true;
      }
      const budget = body.maxOutputTokens - thoughts;
      if (answer.length > budget) {
        answer = answer.slice(0, budget);
        truncated = true;
      }
      if (fnCall && fnCall.tokens > budget) {
        fnCall = undefined;
        truncated = true;
      }
    }
    const finishReason = o.finishReason ?? (truncated ? 'MAX_TOKENS' : 'STOP');
    const u = bill.usage;

    const usageMetadata = (last: boolean): Record<string, unknown> => {
      const cands = last || (o.usageUpdates ?? 'running') === 'running' ? u.candidatesTokenCount : 0;
      const m: Record<string, unknown> = { promptTokenCount: u.promptTokenCount };
      if (cands > 0) m['candidatesTokenCount'] = cands;
      m['totalTokenCount'] = u.promptTokenCount + cands + u.thoughtsTokenCount;
      if (u.cachedContentTokenCount > 0) m['cachedContentTokenCount'] = u.cachedContentTokenCount;
      m['promptTokensDetails'] = [{ modality: 'TEXT', tokenCount: u.promptTokenCount }];
      if (u.cachedContentTokenCount > 0) m['cacheTokensDetails'] = [{ modality: 'TEXT', tokenCount: u.cachedContentTokenCount }];
      if (last && cands > 0) m['candidatesTokensDetails'] = [{ modality: 'TEXT', tokenCount: cands }];
      if (u.thoughtsTokenCount > 0) m['thoughtsTokenCount'] = u.thoughtsTokenCount;
      return m;
    };
    const chunk = (parts: unknown[], last: boolean): Record<string, unknown> => ({
      candidates: [
        {
          content: { parts, role: 'model' },
          ...(last ? { finishReason } : {}),
          index: 0,
        },
      ],
      usageMetadata: usageMetadata(last),
      modelVersion,
      responseId,
    });
    const chargePrompt = (): void => {
      u.promptTokenCount = prompt;
      u.cachedContentTokenCount = cached;
    };
    const fnPart = (): Record<string, unknown> | undefined =>
      fnCall && { functionCall: { name: fnCall.name, args: fnCall.args } };

    if (!stream) {
      chargePrompt();
      u.thoughtsTokenCount = thoughts;
      u.candidatesTokenCount = answer.length + (fnCall?.tokens ?? 0);
      const parts: unknown[] = [];
      if (body.includeThoughts && thoughts > 0) parts.push({ text: `**Thinking**\n\n${src.take(8).join('')}`, thought: true });
      if (answer.length > 0) parts.push({ text: answer.join('') });
      const fp = fnPart();
      if (fp) parts.push(fp);
      bill.complete = true;
      sendJson(res, 200, headers, chunk(parts, true));
      return;
    }

    // ---- stream
    const interval = Math.max(0, o.tokenIntervalMs ?? 2);
    const perChunk = Math.max(1, Math.floor(o.tokensPerChunk ?? 1));
    const cutSpec = o.cut === undefined ? undefined : typeof o.cut === 'number' ? { afterTokens: o.cut } : o.cut;
    res.writeHead(200, {
      ...headers,
      'content-type': sse ? 'text/event-stream' : 'application/json; charset=UTF-8',
      'x-content-type-options': 'nosniff',
    });
    let first = true;
    /** SSE: `data: …\r\n\r\n`; JSON-array mode: `[{…}` then `\n,\r\n{…}` and a final `\n]`. */
    const frame = (obj: unknown): string => {
      const text = JSON.stringify(obj);
      const out = sse ? `data: ${text}\r\n\r\n` : `${first ? '[' : '\n,\r\n'}${text}`;
      first = false;
      return out;
    };
    const endStream = (): void => {
      if (!sse && !first) res.write('\n]');
      res.end();
    };

    const doCut = async (): Promise<boolean> => {
      if (!cutSpec || u.candidatesTokenCount < cutSpec.afterTokens) return false;
      const kind = cutSpec.kind ?? 'error';
      if (kind === 'close') {
        endStream();
      } else if (kind === 'destroy') {
        res.destroy();
      } else {
        bill.errored = true;
        const err = rpcError(cutSpec.code ?? 500, cutSpec.message, cutSpec.status);
        const text = kind === 'raw-error' || !sse ? `${sse ? '' : '\n,\r\n'}${JSON.stringify(err)}\n` : `data: ${JSON.stringify(err)}\r\n\r\n`;
        if (await ex.write(text)) res.end();
      }
      return true;
    };

    const thoughtChunks = body.includeThoughts && thoughts > 0 ? Math.max(1, Math.min(thoughts, Math.floor(o.thoughtChunks ?? 3))) : 0;
    const hiddenRate = o.hiddenThinkingTokensPerSecond ?? 0;
    if (hiddenRate > 0 && thoughtChunks === 0 && thoughts > 0) {
      chargePrompt();
      // writeHead alone sends nothing until the first write: the client must see the stream open.
      res.flushHeaders();
      const started = Date.now();
      while (u.thoughtsTokenCount < thoughts) {
        await ex.sleep(10);
        if (!ex.alive()) return;
        u.thoughtsTokenCount = Math.min(thoughts, Math.floor(((Date.now() - started) * hiddenRate) / 1000));
      }
    }
    const chargeStart = (): void => {
      chargePrompt();
      // hidden thinking happened before the first visible token: billed with the first chunk
      if (thoughtChunks === 0) u.thoughtsTokenCount = thoughts;
    };
    // Thought summaries: each chunk stands for its share of the thinking.
    for (let i = 0; i < thoughtChunks; i++) {
      if (i > 0) await ex.sleep(interval);
      if (!ex.alive()) return;
      const share = Math.floor((thoughts * (i + 1)) / thoughtChunks) - Math.floor((thoughts * i) / thoughtChunks);
      const prevThoughts = u.thoughtsTokenCount;
      chargePrompt();
      u.thoughtsTokenCount = prevThoughts + share;
      const ok = await ex.write(frame(chunk([{ text: `**Step ${i + 1}**\n\n${src.take(6).join('')}\n\n`, thought: true }], false)));
      if (!ok) return;
    }

    const last = answer.length === 0 && !fnCall;
    let sent = 0;
    while (sent < answer.length || (sent === 0 && last)) {
      if (await doCut()) return;
      if (thoughtChunks > 0 || sent > 0) await ex.sleep(interval);
      if (!ex.alive()) return;
      const toks = answer.slice(sent, sent + perChunk);
      sent += toks.length;
      chargeStart();
      u.candidatesTokenCount = sent;
      const isLast = sent >= answer.length && !fnCall;
      // res.write is called: the tokens of this chunk are billed
      if (!(await ex.write(frame(chunk(toks.length > 0 ? [{ text: toks.join('') }] : [], isLast))))) return;
      if (isLast) {
        bill.complete = true;
        endStream();
        return;
      }
    }
    if (fnCall) {
      if (await doCut()) return;
      if (sent > 0 || thoughtChunks > 0) await ex.sleep(interval);
      if (!ex.alive()) return;
      chargeStart();
      u.candidatesTokenCount = sent + fnCall.tokens;
      const fp = fnPart();
      if (!(await ex.write(frame(chunk(fp ? [fp] : [], true))))) return;
      bill.complete = true;
      endStream();
    }
  };

  const server = http.createServer((req, res) => {
    const n = ++requestCount;
    const requestId = `req_${mock.options.requestIdPrefix ?? 'mock'}${String(n).padStart(6, '0')}`;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    readBody(req)
      .then(async (text) => {
        const record: MockRequest = { method, url: req.url ?? '/', headers: req.headers, body: text, receivedAt: Date.now() };
        requests.push(record);
        const headers = commonHeaders(requestId);
        const m = ROUTE.exec(path);
        const headerKey = req.headers['x-goog-api-key'];
        const key = (typeof headerKey === 'string' ? headerKey : undefined) ?? url.searchParams.get('key') ?? undefined;
        if (method === 'POST' && m) {
          const [, version = 'v1beta', model = '', op = ''] = m;
          if (op === 'countTokens') {
            sendJson(res, 200, headers, {
              totalTokens: mock.options.inputTokens ?? Math.ceil(Buffer.byteLength(text) / 4),
              promptTokensDetails: [{ modality: 'TEXT', tokenCount: mock.options.inputTokens ?? Math.ceil(Buffer.byteLength(text) / 4) }],
            });
            return;
          }
          const stream = op === 'streamGenerateContent';
          const sse = stream && url.searchParams.get('alt') === 'sse';
          await handleGenerate(res, record, requestId, version, decodeURIComponent(model), stream, sse, key);
        } else if (method === 'GET' && (path === '/v1/models' || path === '/v1beta/models')) {
          sendJson(res, 200, headers, {
            models: MODEL_LIST.map((id) => ({
              name: `models/${id}`,
              displayName: id,
              inputTokenLimit: 1048576,
              outputTokenLimit: 65536,
              supportedGenerationMethods: ['generateContent', 'countTokens'],
            })),
          });
        } else {
          sendJson(res, 404, headers, rpcError(404, `Method not found: ${method} ${path}`));
        }
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const mock: MockGemini = {
    url: `http://127.0.0.1:${port}`,
    port,
    bills,
    requests,
    get openStreams() {
      return openStreams;
    },
    options: { ...opts },
    billedNanos(p: MockGeminiPricePerMtok): number {
      let total = 0n;
      for (const b of bills) {
        const u = b.usage;
        const sum =
          BigInt(u.promptTokenCount - u.cachedContentTokenCount) * BigInt(p.input) +
          BigInt(u.cachedContentTokenCount) * BigInt(p.cachedInput) +
          BigInt(u.candidatesTokenCount + u.thoughtsTokenCount) * BigInt(p.output);
        total += (sum + 999_999n) / 1_000_000n;
      }
      return Number(total);
    },
    waitIdle(): Promise<void> {
      if (inFlight === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return mock;
}
