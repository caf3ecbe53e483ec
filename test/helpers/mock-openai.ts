// A local imitation of the OpenAI APIs (Chat Completions and Responses), with an OpenRouter flavour,
// for tests.
//
// Same discipline as mock-anthropic.ts: streams are real SSE in the providers' shapes, ONE output token
// is written per delta, and each request keeps a bill that counts exactly the tokens whose delta was
// handed to res.write(). A client (or a proxy in front of it) that disconnects mid-stream is billed for
// what was written up to then; the bill is finalized when the response ends or the connection closes.
//
// Wire facts this mock follows (openai-openapi f85dbe2, openai-node v7, recorded streams in test/fixtures):
// - Chat Completions streams are data-only SSE (`data: {chat.completion.chunk}`), ending in `data: [DONE]`.
//   With `stream_options.include_usage: true` every chunk carries `usage: null` and one extra chunk with
//   `choices: []` and the usage comes just before [DONE]. Without it the stream has NO usage, yet the
//   provider bills the tokens all the same (so does this mock).
// - `cached_tokens` is a subset of `prompt_tokens`; `reasoning_tokens` a subset of `completion_tokens`
//   (billed as output, never streamed: o-series / gpt-5 reasoning).
// - Responses streams are named events (`event:` line) with a `sequence_number`; usage is in
//   `response.usage` of the terminal event (response.completed / response.incomplete / response.failed).
// - Errors: `{"error":{"message","type","param","code"}}`.
// - OpenRouter adds `usage.cost` (USD credits), `usage.is_byok` and `usage.cost_details`, sends
//   `: OPENROUTER PROCESSING` comment lines, and lives under `/api/v1`.
//
// Usage:
//   const mock = await startMockOpenAI({ outputTokens: 20 });
//   const client = new OpenAI({ apiKey: 'k', baseURL: `${mock.url}/v1`, maxRetries: 0 });
//   ... await mock.waitIdle(); mock.bills[0].usage.output_tokens; mock.billedNanos(prices); await mock.close();

import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Prices in integer nano-dollars per million tokens ($2.50/Mtok = 2_500_000_000). */
export interface MockOpenAIPricePerMtok {
  /** Uncached input tokens. */
  input: number;
  /** Cached input tokens (the `cached_tokens` subset of the prompt). */
  cachedInput: number;
  /** Output tokens, reasoning included. */
  output: number;
}

export interface MockToolCall {
  /** Function name; default: the first function tool of the request, else "shell". */
  name?: string;
  /** Arguments, streamed as JSON fragments (one token per delta). Default {"command":["echo","hello"]}. */
  arguments?: Record<string, unknown> | string;
  /** Text tokens to write before the call (a message item / `content` deltas). Default 0. */
  textTokens?: number;
}

/** How a stream ends early, after `afterTokens` output-token deltas. */
export interface MockStreamCut {
  afterTokens: number;
  /**
   * - `failed` (default): Responses `response.failed` with `response.error {code, message}`;
   *   Chat: a `data: {"error":{…}}` payload. Then the response ends.
   * - `incomplete`: Responses: the open items are closed (status "incomplete"), then `response.incomplete`
   *   with `incomplete_details.reason` (default "max_output_tokens"); Chat: a finish chunk with
   *   `finish_reason` = reason (default "length"), the usage chunk if asked for, and [DONE].
   * - `error`: a bare error event (Responses `event: error` `{"type":"error","code","message","param",
   *   "sequence_number"}`; Chat: same as `failed`), then the response ends.
   * - `close`: the response ends cleanly with no terminal event and no [DONE].
   * - `destroy`: the connection is reset (a dropped stream).
   */
  kind?: 'failed' | 'incomplete' | 'error' | 'close' | 'destroy';
  /** Error code for failed/error. Default "server_error". */
  code?: string;
  /** Error type for the Chat error payload. Default "server_error". */
  type?: string;
  message?: string;
  /** incomplete_details.reason / finish_reason for `incomplete`. */
  reason?: string;
}

export interface MockOpenAIOptions {
  /** Delay between two token deltas; 0 = as fast as possible (setImmediate between writes). Default 2. */
  tokenIntervalMs?: number;
  /** Planned visible output tokens per response, clamped to the request's output limit. Default 50. */
  outputTokens?: number;
  /** Input tokens to report; default ceil(request body bytes / 4). */
  inputTokens?: number;
  /** Cached prompt tokens (a subset of the input; clamped to it). Default 0. */
  cachedTokens?: number;
  /**
   * Reasoning tokens: billed as output but never streamed. They are generated before the first visible
   * token, so they are billed together with the input as soon as the first byte of the answer is
   * written (use firstByteDelayMs to imitate the thinking time). Default 0.
   */
  reasoningTokens?: number;
  /**
   * Chat streams only: the reasoning tokens are generated AFTER the first chunk (role) at this rate and
   * billed as they accrue, before the first visible delta, as a reasoning model thinks while its stream
   * is open. A client that leaves mid-thought is billed what accrued. Default: all billed at the first byte.
   */
  reasoningTokensPerSecond?: number;
  /** Answer with a function/tool call (chat: `tool_calls` deltas; responses: a `function_call` item). */
  toolCall?: boolean | MockToolCall;
  /** Model to echo; default the request's model. */
  model?: string;
  /** Echo a dated model id: true = known snapshot (gpt-4o → gpt-4o-2024-08-06), or a "YYYY-MM-DD" string. */
  datedModel?: boolean | string;
  /** Delay before the status line/headers are written. Default 0. */
  firstByteDelayMs?: number;
  /** Answer the API endpoints with this HTTP error status (e.g. 429, 500). */
  status?: number;
  /** Error body for `status`; default {"error":{message,type,param,code}} per status. */
  errorBody?: unknown;
  /** Extra headers on error answers (e.g. {"x-should-retry": "false"}). */
  errorHeaders?: Record<string, string>;
  /** End the stream early after N token deltas (a number = kind "failed"). */
  cut?: number | MockStreamCut;
  /** Force the Chat finish_reason (otherwise stop / length / tool_calls). */
  finishReason?: string;
  /** Chat usage chunk: as the request asks (default), always, or never. */
  streamUsage?: 'requested' | 'always' | 'never';
  /** OpenRouter flavour: usage.cost (USD credits) from `openrouterPrices`, is_byok, cost_details, `gen-` ids, comment lines. */
  openrouter?: boolean;
  /** Prices for usage.cost. Default $2.50 in / $1.25 cached / $10 out per Mtok. */
  openrouterPrices?: MockOpenAIPricePerMtok;
  /** If set, requests whose `Authorization: Bearer` differs get a 401. */
  apiKey?: string;
  /** Prefix for request-id headers and bill ids: `req_${prefix}${n}`. Default "mock". */
  requestIdPrefix?: string;
  /** Seed of the token PRNG; request n uses seed + n so every run is reproducible. Default 1. */
  seed?: number;
  /** Per-request overrides, called with the received request and its 0-based index among API calls. */
  perRequest?: (req: MockRequest, index: number) => Partial<MockOpenAIOptions> | undefined;
}

export interface MockRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

export interface MockOpenAIUsage {
  input_tokens: number;
  /** Subset of input_tokens. */
  cached_tokens: number;
  /** Visible output + reasoning. */
  output_tokens: number;
  /** Subset of output_tokens. */
  reasoning_tokens: number;
}

export interface MockOpenAIBill {
  /** The x-request-id header value sent with the response. */
  id: string;
  /** The chatcmpl-…/gen-… or resp_… id in the body. */
  responseId: string;
  endpoint: 'chat' | 'responses';
  /** Model as echoed in the response. */
  model: string;
  stream: boolean;
  /** HTTP status answered. */
  status: number;
  usage: MockOpenAIUsage;
  /** The response was written to the end ([DONE] / response.completed|incomplete / full JSON body). */
  complete: boolean;
  /** The connection closed before the response finished. */
  aborted: boolean;
  /** An error payload / response.failed / error event was sent mid-stream. */
  errored: boolean;
  /** Last terminal marker written: "[DONE]", "response.completed", "response.incomplete", "response.failed", "error", "json"; null if none. */
  terminal: string | null;
  /** Becomes true once the entry will not change any more. */
  finalized: boolean;
}

export interface MockOpenAI {
  /** Base URL, e.g. http://127.0.0.1:54321 (no trailing slash, no /v1). */
  readonly url: string;
  readonly port: number;
  /** One entry per POST /v1/chat/completions or /v1/responses, in arrival order; updated live while streaming. */
  readonly bills: MockOpenAIBill[];
  /** Every request received (any path), in arrival order. */
  readonly requests: MockRequest[];
  /** Streaming responses currently being written. */
  readonly openStreams: number;
  /** Mutable defaults for subsequent requests. */
  options: MockOpenAIOptions;
  /** Total cost of all bills, n$, rounded up per request. */
  billedNanos(price: MockOpenAIPricePerMtok): number;
  /** Resolves once no API response (stream or not) is in flight. */
  waitIdle(): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Shared with mock-gemini.ts: tokens, PRNG, helpers (kept in step with mock-anthropic.ts)

/** Common English words as BPE-style tokens (leading space). */
const VOCAB: readonly string[] = [
  ' the', ' a', ' an', ' and', ' or', ' but', ' if', ' then', ' so', ' of', ' to', ' in', ' on', ' at', ' by',
  ' for', ' with', ' from', ' as', ' is', ' are', ' was', ' be', ' been', ' it', ' this', ' that', ' these',
  ' we', ' you', ' they', ' he', ' she', ' not', ' no', ' yes', ' can', ' will', ' would', ' should', ' could',
  ' may', ' must', ' do', ' does', ' did', ' have', ' has', ' had', ' get', ' set', ' make', ' take', ' use',
  ' run', ' read', ' write', ' send', ' keep', ' stop', ' start', ' check', ' find', ' show', ' need', ' want',
  ' spend', ' budget', ' agent', ' request', ' model', ' token', ' tokens', ' cost', ' price', ' limit', ' cap',
  ' dollar', ' cents', ' day', ' week', ' month', ' hour', ' time', ' key', ' proxy', ' server', ' client',
  ' stream', ' event', ' data', ' file', ' line', ' code', ' test', ' tests', ' bug', ' fix', ' error', ' value',
  ' list', ' table', ' user', ' team', ' work', ' task', ' plan', ' step', ' call', ' tool', ' answer', ' input',
  ' output', ' cache', ' usage', ' total', ' count', ' number', ' rate', ' more', ' less', ' most', ' each',
  ' every', ' some', ' any', ' all', ' one', ' two', ' three', ' first', ' last', ' next', ' new', ' old',
  ' good', ' small', ' large', ' long', ' short', ' fast', ' slow', ' safe', ' hard', ' soft', ' clean', ' real',
  ' local', ' same', ' other', ' only', ' also', ' just', ' still', ' again', ' here', ' there', ' now', ' when',
  ' where', ' what', ' which', ' how', ' why', ' before', ' after', ' about', ' over', ' under', ' into', ' out',
  ' up', ' down', ' back', ' way', ' part', ' point', ' case', ' end', ' state', ' result', ' change', ' report',
  ' money', ' bill', ' account', ' project', ' system', ' process', ' message', ' response', ' header',
  ' configuration', ' implementation', ' information', ' reconcile', ' threshold', ' provider', ' streaming',
];

const FIRST_WORDS: readonly string[] = ['The', 'I', 'Sure', 'Here', 'This', 'We', 'To', 'Yes', 'Okay', 'Let'];

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick(list: readonly string[], rnd: () => number): string {
  return list[Math.floor(rnd() * list.length)] ?? ' the';
}

/** Deterministic generator of English-looking BPE tokens (" the", ",", ".", "\n\n", "Sure", …). */
export class TokenSource {
  private readonly rnd: () => number;
  private prev = '';
  constructor(seed: number) {
    this.rnd = prng(seed);
  }
  next(): string {
    const prev = this.prev;
    const r = this.rnd();
    let tok: string;
    if (prev === '' || prev === '\n\n') tok = pick(FIRST_WORDS, this.rnd);
    else if (prev === '.' && r < 0.25) tok = '\n\n';
    else if (prev === '.' || prev === ',') tok = pick(VOCAB, this.rnd);
    else if (r < 0.07) tok = ',';
    else if (r < 0.13) tok = '.';
    else tok = pick(VOCAB, this.rnd);
    // a new sentence starts with a capital: " the" -> " The"
    if (prev === '.' && tok.startsWith(' ')) tok = ' ' + tok.charAt(1).toUpperCase() + tok.slice(2);
    this.prev = tok;
    return tok;
  }
  take(n: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.next());
    return out;
  }
}

/** Split a JSON text into BPE-like fragments (word pieces with their leading space, punctuation runs). */
export function jsonFragments(json: string): string[] {
  return json.match(/ ?[A-Za-z0-9_]+| ?[^A-Za-z0-9_\s]+|\s+/g) ?? [json];
}

export function randomId(rnd: () => number, len: number, abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789'): string {
  let s = '';
  for (let i = 0; i < len; i++) s += abc.charAt(Math.floor(rnd() * abc.length));
  return s;
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

export function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function parseJsonObject(text: string): Record<string, unknown> {
  try {
    return asRecord(JSON.parse(text));
  } catch {
    return {};
  }
}

/**
 * The plumbing of one metered exchange: tracks whether the client is still there, writes with
 * backpressure, sleeps in a way that a close interrupts, and finalizes exactly once (on 'finish' or
 * 'close'). `onFinal(aborted)` runs once.
 */
export interface Exchange {
  alive(): boolean;
  /** Write a chunk; waits for 'drain' under backpressure. Returns false if the client is gone. */
  write(chunk: string): Promise<boolean>;
  sleep(ms: number): Promise<void>;
}

export function openExchange(res: ServerResponse, onFinal: (aborted: boolean) => void): Exchange {
  let closed = false;
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let wake: (() => void) | undefined;
  const finalize = (aborted: boolean): void => {
    if (done) return;
    done = true;
    if (timer) clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
    onFinal(aborted);
    wake?.();
  };
  res.on('error', () => undefined);
  res.on('close', () => {
    closed = true;
    // 'close' after a finished response is normal; before it, the client went away.
    finalize(!res.writableFinished);
  });
  res.on('finish', () => finalize(false));
  const alive = (): boolean => !closed && !done && !res.destroyed && !res.writableEnded;
  return {
    alive,
    sleep(ms: number): Promise<void> {
      return new Promise((resolve) => {
        wake = resolve;
        if (ms > 0) timer = setTimeout(resolve, ms);
        else immediate = setImmediate(resolve);
      });
    },
    async write(chunk: string): Promise<boolean> {
      if (!alive()) return false;
      const ok = res.write(chunk);
      if (!ok && alive()) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          res.once('drain', () => resolve());
        });
      }
      return alive();
    },
  };
}

// ---------------------------------------------------------------------------
// Models

const MODEL_DATES: Readonly<Record<string, string>> = {
  'gpt-5': '2025-08-07',
  'gpt-5-mini': '2025-08-07',
  'gpt-5-nano': '2025-08-07',
  'gpt-4.1': '2025-04-14',
  'gpt-4.1-mini': '2025-04-14',
  'gpt-4.1-nano': '2025-04-14',
  'gpt-4o': '2024-08-06',
  'gpt-4o-mini': '2024-07-18',
  o3: '2025-04-16',
  'o4-mini': '2025-04-16',
};

function echoModel(requested: string, o: MockOpenAIOptions): string {
  const model = o.model ?? requested;
  if (!o.datedModel || /-\d{4}-\d{2}-\d{2}$/.test(model)) return model;
  const date = typeof o.datedModel === 'string' ? o.datedModel : (MODEL_DATES[model] ?? '2025-01-01');
  return `${model}-${date}`;
}

const MODEL_LIST: ReadonlyArray<{ id: string; created: number; owned_by: string }> = [
  { id: 'gpt-5', created: 1754425777, owned_by: 'system' },
  { id: 'gpt-5-mini', created: 1754425928, owned_by: 'system' },
  { id: 'gpt-4.1', created: 1744316542, owned_by: 'system' },
  { id: 'gpt-4o', created: 1715367049, owned_by: 'system' },
  { id: 'gpt-4o-mini', created: 1721172741, owned_by: 'system' },
  { id: 'o4-mini', created: 1744225351, owned_by: 'system' },
];

// ---------------------------------------------------------------------------
// Errors

interface OpenAIErrorDefault {
  type: string;
  code: string | null;
  message: string;
}

function defaultError(status: number, model: string): OpenAIErrorDefault {
  switch (status) {
    case 400:
      return { type: 'invalid_request_error', code: null, message: 'Invalid request' };
    case 401:
      return { type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect API key provided: sk-mock***. You can find your API key at https://platform.openai.com/account/api-keys.' };
    case 403:
      return { type: 'request_forbidden', code: 'unsupported_country_region_territory', message: 'Country, region, or territory not supported' };
    case 404:
      return { type: 'invalid_request_error', code: 'model_not_found', message: `The model \`${model}\` does not exist or you do not have access to it.` };
    case 429:
      return {
        type: 'requests',
        code: 'rate_limit_exceeded',
        message: `Rate limit reached for ${model} in organization org-mock on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms.`,
      };
    case 500:
      return { type: 'server_error', code: null, message: 'The server had an error while processing your request. Sorry about that!' };
    case 503:
      return { type: 'server_error', code: null, message: 'The engine is currently overloaded, please try again later' };
    default:
      return { type: 'api_error', code: null, message: `HTTP ${status}` };
  }
}

function errorBody(status: number, model: string): unknown {
  const d = defaultError(status, model);
  return { error: { message: d.message, type: d.type, param: null, code: d.code } };
}

// ---------------------------------------------------------------------------
// Request body

interface ParsedBody {
  raw: Record<string, unknown>;
  model: string;
  stream: boolean;
  includeUsage: boolean;
  /** max_completion_tokens ?? max_tokens (chat) / max_output_tokens (responses); undefined = no limit. */
  limit: number | undefined;
  firstFunctionName: string | undefined;
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && v > 0 ? Math.floor(v) : undefined;
}

function parseBody(text: string, endpoint: 'chat' | 'responses'): ParsedBody {
  const rec = parseJsonObject(text);
  const tools = Array.isArray(rec['tools']) ? (rec['tools'] as unknown[]) : [];
  let firstFunctionName: string | undefined;
  for (const t of tools) {
    const tr = asRecord(t);
    if (tr['type'] !== 'function') continue;
    // chat: {type, function: {name}}; responses: {type, name}
    const name = endpoint === 'chat' ? asRecord(tr['function'])['name'] : tr['name'];
    if (typeof name === 'string') {
      firstFunctionName = name;
      break;
    }
  }
  const limit =
    endpoint === 'chat'
      ? (positiveInt(rec['max_completion_tokens']) ?? positiveInt(rec['max_tokens']))
      : positiveInt(rec['max_output_tokens']);
  return {
    raw: rec,
    model: typeof rec['model'] === 'string' ? rec['model'] : 'gpt-4o',
    stream: rec['stream'] === true,
    includeUsage: asRecord(rec['stream_options'])['include_usage'] === true,
    limit,
    firstFunctionName,
  };
}

// ---------------------------------------------------------------------------
// Output plan

interface Plan {
  /** Visible text tokens. */
  text: string[];
  /** Tool-call argument fragments (one token each), if a call is planned. */
  tool: { name: string; fragments: string[]; callId: string; itemId: string } | undefined;
  /** Reasoning tokens billed (not streamed). */
  reasoning: number;
  /** The output limit cut the plan short. */
  truncated: boolean;
  /** Visible tokens (text + tool fragments). */
  visible: number;
}

function makePlan(o: MockOpenAIOptions, body: ParsedBody, seed: number, idRnd: () => number): Plan {
  const src = new TokenSource(seed);
  let text: string[];
  let toolFragments: string[] = [];
  let toolName = '';
  if (o.toolCall) {
    const spec: MockToolCall = typeof o.toolCall === 'object' ? o.toolCall : {};
    const args = spec.arguments ?? { command: ['echo', 'hello'] };
    toolFragments = jsonFragments(typeof args === 'string' ? args : JSON.stringify(args));
    toolName = spec.name ?? body.firstFunctionName ?? 'shell';
    text = src.take(Math.max(0, Math.floor(spec.textTokens ?? 0)));
  } else {
    text = src.take(Math.max(0, Math.floor(o.outputTokens ?? 50)));
  }
  let reasoning = Math.max(0, Math.floor(o.reasoningTokens ?? 0));
  let truncated = false;
  if (body.limit !== undefined) {
    if (reasoning > body.limit) {
      reasoning = body.limit;
      truncated = true;
    }
    let budget = body.limit - reasoning;
    if (text.length > budget) {
      text = text.slice(0, budget);
      truncated = true;
    }
    budget -= text.length;
    if (toolFragments.length > budget) {
      toolFragments = toolFragments.slice(0, budget);
      truncated = true;
    }
  }
  const tool =
    o.toolCall && (toolFragments.length > 0 || !truncated)
      ? {
          name: toolName,
          fragments: toolFragments,
          callId: `call_${randomId(idRnd, 24)}`,
          itemId: `fc_${randomId(idRnd, 48, '0123456789abcdef')}`,
        }
      : undefined;
  return { text, tool, reasoning, truncated, visible: text.length + toolFragments.length };
}

type Cut = MockStreamCut & { kind: NonNullable<MockStreamCut['kind']> };

function normalizeCut(cut: MockOpenAIOptions['cut']): Cut | undefined {
  if (cut === undefined) return undefined;
  if (typeof cut === 'number') return { afterTokens: cut, kind: 'failed' };
  return { ...cut, kind: cut.kind ?? 'failed' };
}

// ---------------------------------------------------------------------------
// Usage shapes

function costUsd(u: MockOpenAIUsage, p: MockOpenAIPricePerMtok): number {
  // n$/Mtok × tokens = 1e-15 USD
  const units = (u.input_tokens - u.cached_tokens) * p.input + u.cached_tokens * p.cachedInput + u.output_tokens * p.output;
  return units / 1e15;
}

const DEFAULT_OPENROUTER_PRICES: MockOpenAIPricePerMtok = { input: 2_500_000_000, cachedInput: 1_250_000_000, output: 10_000_000_000 };

function openrouterExtras(u: MockOpenAIUsage, o: MockOpenAIOptions): Record<string, unknown> {
  if (!o.openrouter) return {};
  const p = o.openrouterPrices ?? DEFAULT_OPENROUTER_PRICES;
  const prompt = costUsd({ ...u, output_tokens: 0, reasoning_tokens: 0 }, p);
  const completion = costUsd({ input_tokens: 0, cached_tokens: 0, output_tokens: u.output_tokens, reasoning_tokens: 0 }, p);
  return {
    cost: costUsd(u, p),
    is_byok: false,
    cost_details: {
      upstream_inference_cost: null,
      upstream_inference_prompt_cost: prompt,
      upstream_inference_completions_cost: completion,
    },
  };
}

function chatUsage(u: MockOpenAIUsage, o: MockOpenAIOptions): Record<string, unknown> {
  return {
    prompt_tokens: u.input_tokens,
    completion_tokens: u.output_tokens,
    total_tokens: u.input_tokens + u.output_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_tokens, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoning_tokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
    ...openrouterExtras(u, o),
  };
}

function responsesUsage(u: MockOpenAIUsage, o: MockOpenAIOptions): Record<string, unknown> {
  return {
    input_tokens: u.input_tokens,
    input_tokens_details: { cached_tokens: u.cached_tokens },
    output_tokens: u.output_tokens,
    output_tokens_details: { reasoning_tokens: u.reasoning_tokens },
    total_tokens: u.input_tokens + u.output_tokens,
    ...openrouterExtras(u, o),
  };
}

// ---------------------------------------------------------------------------
// Server

function dataEvent(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

function namedEvent(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
};

interface Ctx {
  res: ServerResponse;
  record: MockRequest;
  requestId: string;
  headers: Record<string, string>;
  o: MockOpenAIOptions;
  body: ParsedBody;
  bill: MockOpenAIBill;
  ex: Exchange;
  plan: Plan;
  idRnd: () => number;
  inputTokens: number;
  cachedTokens: number;
  created: number;
}

export async function startMockOpenAI(opts: MockOpenAIOptions = {}): Promise<MockOpenAI> {
  const bills: MockOpenAIBill[] = [];
  const requests: MockRequest[] = [];
  let apiCount = 0;
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
    'x-request-id': requestId,
    'request-id': requestId,
    'openai-version': '2020-10-01',
    'openai-organization': 'user-mock',
    'openai-processing-ms': '1',
    'x-ratelimit-limit-requests': '10000',
    'x-ratelimit-remaining-requests': '9999',
    'x-ratelimit-reset-requests': '6ms',
    'x-ratelimit-limit-tokens': '30000000',
    'x-ratelimit-remaining-tokens': '29999000',
    'x-ratelimit-reset-tokens': '2ms',
    'x-mock-header': '1',
  });

  // ---- shared per-request entry

  const handleApi = async (
    res: ServerResponse,
    record: MockRequest,
    requestId: string,
    endpoint: 'chat' | 'responses',
  ): Promise<void> => {
    const index = apiCount++;
    const o: MockOpenAIOptions = { ...mock.options, ...(mock.options.perRequest?.(record, index) ?? {}) };
    const body = parseBody(record.body, endpoint);
    const idRnd = prng((o.seed ?? 1) * 7919 + index);
    const responseId =
      endpoint === 'responses'
        ? `resp_${randomId(idRnd, 48, '0123456789abcdef')}`
        : o.openrouter
          ? `gen-${Math.floor(Date.now() / 1000)}-${randomId(idRnd, 20)}`
          : `chatcmpl-${randomId(idRnd, 29)}`;
    const model = echoModel(body.model, o);
    const inputTokens = Math.max(0, Math.floor(o.inputTokens ?? Math.ceil(Buffer.byteLength(record.body) / 4)));
    const cachedTokens = Math.min(inputTokens, Math.max(0, Math.floor(o.cachedTokens ?? 0)));
    const auth = String(record.headers['authorization'] ?? '');
    const status = o.apiKey !== undefined && auth !== `Bearer ${o.apiKey}` ? 401 : o.status;
    const streaming = body.stream && status === undefined;

    const bill: MockOpenAIBill = {
      id: requestId,
      responseId,
      endpoint,
      model,
      stream: body.stream,
      status: status ?? 200,
      usage: { input_tokens: 0, cached_tokens: 0, output_tokens: 0, reasoning_tokens: 0 },
      complete: false,
      aborted: false,
      errored: false,
      terminal: null,
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
      sendJson(res, status, { ...headers, ...(o.errorHeaders ?? {}) }, o.errorBody ?? errorBody(status, body.model));
      return;
    }
    const plan = makePlan(o, body, (o.seed ?? 1) + index, idRnd);
    const ctx: Ctx = {
      res,
      record,
      requestId,
      headers,
      o,
      body,
      bill,
      ex,
      plan,
      idRnd,
      inputTokens,
      cachedTokens,
      created: Math.floor(Date.now() / 1000),
    };
    if (endpoint === 'chat') await chat(ctx);
    else await responses(ctx);
  };

  /** The input, cache and reasoning tokens are billed once the first byte of the answer is out. */
  const chargeStart = (c: Ctx): void => {
    c.bill.usage.input_tokens = c.inputTokens;
    c.bill.usage.cached_tokens = c.cachedTokens;
    c.bill.usage.reasoning_tokens = c.plan.reasoning;
    c.bill.usage.output_tokens = Math.max(c.bill.usage.output_tokens, c.plan.reasoning);
  };
  const chargeAll = (c: Ctx): void => {
    chargeStart(c);
    c.bill.usage.output_tokens = c.plan.reasoning + c.plan.visible;
  };

  // ---- Chat Completions

  const chat = async (c: Ctx): Promise<void> => {
    const { o, plan, bill, ex } = c;
    const finish = o.finishReason ?? (plan.truncated ? 'length' : plan.tool ? 'tool_calls' : 'stop');
    const base = {
      id: bill.responseId,
      created: c.created,
      model: bill.model,
      ...(o.openrouter ? { provider: 'OpenAI' } : { service_tier: 'default', system_fingerprint: 'fp_mock0001' }),
    };
    const toolCallFull = plan.tool
      ? [{ id: plan.tool.callId, type: 'function', function: { name: plan.tool.name, arguments: plan.tool.fragments.join('') } }]
      : undefined;

    if (!c.body.stream) {
      chargeAll(c);
      const content = plan.text.length > 0 || !plan.tool ? plan.text.join('') : null;
      const completion = {
        ...base,
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content,
              refusal: null,
              annotations: [],
              ...(toolCallFull ? { tool_calls: toolCallFull } : {}),
            },
            logprobs: null,
            finish_reason: finish,
          },
        ],
        usage: chatUsage(bill.usage, o),
      };
      bill.complete = true;
      bill.terminal = 'json';
      sendJson(c.res, 200, c.headers, completion);
      return;
    }

    const usageMode = o.streamUsage ?? 'requested';
    const withUsage = usageMode === 'always' || (usageMode === 'requested' && c.body.includeUsage);
    const nullUsage = withUsage ? { usage: null } : {};
    const chunk = (delta: Record<string, unknown>, finishReason: string | null = null): string =>
      dataEvent({
        ...base,
        object: 'chat.completion.chunk',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        ...nullUsage,
      });
    const cut = normalizeCut(o.cut);
    const interval = Math.max(0, o.tokenIntervalMs ?? 2);

    c.res.writeHead(200, { ...c.headers, ...SSE_HEADERS });
    let head = o.openrouter ? ': OPENROUTER PROCESSING\n\n' : '';
    head += chunk({ role: 'assistant', content: plan.tool && plan.text.length === 0 ? null : '', refusal: null });
    if (!(await ex.write(head))) return;
    chargeStart(c);
    const thinkRate = o.reasoningTokensPerSecond ?? 0;
    if (thinkRate > 0 && plan.reasoning > 0) {
      // Thinking while the stream is open: billed as it accrues, so an abort stops the bill.
      const began = Date.now();
      bill.usage.reasoning_tokens = 0;
      bill.usage.output_tokens = 0;
      while (bill.usage.reasoning_tokens < plan.reasoning) {
        await ex.sleep(10);
        if (!ex.alive()) return;
        bill.usage.reasoning_tokens = Math.min(plan.reasoning, Math.floor(((Date.now() - began) * thinkRate) / 1000));
        bill.usage.output_tokens = bill.usage.reasoning_tokens;
      }
    }

    const endWith = async (tail: string, terminal: string): Promise<void> => {
      if (await ex.write(tail)) {
        bill.terminal = terminal;
        c.res.end();
      }
    };
    const doCut = async (written: number): Promise<boolean> => {
      if (!cut || written < cut.afterTokens) return false;
      if (cut.kind === 'close') {
        c.res.end();
      } else if (cut.kind === 'destroy') {
        c.res.destroy();
      } else if (cut.kind === 'incomplete') {
        let tail = chunk({}, cut.reason ?? 'length');
        if (withUsage) tail += dataEvent({ ...base, object: 'chat.completion.chunk', choices: [], usage: chatUsage(bill.usage, o) });
        tail += dataEvent('[DONE]');
        await endWith(tail, '[DONE]');
        if (bill.terminal) bill.complete = true;
      } else {
        bill.errored = true;
        const d = defaultError(500, bill.model);
        await endWith(
          dataEvent({
            error: {
              message: cut.message ?? d.message,
              type: cut.type ?? 'server_error',
              param: null,
              code: cut.code ?? 'server_error',
            },
          }),
          'error',
        );
      }
      return true;
    };

    let written = 0;
    const emit = async (delta: Record<string, unknown>): Promise<boolean> => {
      await ex.sleep(interval);
      if (!ex.alive()) return false;
      const ok = await ex.write(chunk(delta));
      // res.write was called: the provider has generated and sent it
      written++;
      bill.usage.output_tokens = plan.reasoning + written;
      return ok;
    };
    for (const tok of plan.text) {
      if (await doCut(written)) return;
      if (!(await emit({ content: tok }))) return;
    }
    if (plan.tool) {
      const t = plan.tool;
      const first = { index: 0, id: t.callId, type: 'function', function: { name: t.name, arguments: '' } };
      if (!(await ex.write(chunk({ tool_calls: [first] })))) return;
      for (const frag of t.fragments) {
        if (await doCut(written)) return;
        if (!(await emit({ tool_calls: [{ index: 0, function: { arguments: frag } }] }))) return;
      }
    }
    if (await doCut(written)) return;
    let tail = chunk({}, finish);
    if (withUsage) tail += dataEvent({ ...base, object: 'chat.completion.chunk', choices: [], usage: chatUsage(bill.usage, o) });
    tail += dataEvent('[DONE]');
    await endWith(tail, '[DONE]');
    if (bill.terminal) bill.complete = true;
  };

  // ---- Responses

  const responses = async (c: Ctx): Promise<void> => {
    const { o, plan, bill, ex, body } = c;
    const raw = body.raw;
    const reasoningItem = plan.reasoning > 0 ? { id: `rs_${randomId(c.idRnd, 48, '0123456789abcdef')}`, type: 'reasoning', summary: [] } : undefined;
    const messageId = `msg_${randomId(c.idRnd, 48, '0123456789abcdef')}`;
    const hasMessage = plan.text.length > 0 || !plan.tool;
    const textPart = (text: string): Record<string, unknown> => ({ type: 'output_text', text, annotations: [], logprobs: [] });
    const messageItem = (text: string, status: string): Record<string, unknown> => ({
      id: messageId,
      type: 'message',
      status,
      content: status === 'in_progress' && text === '' ? [] : [textPart(text)],
      role: 'assistant',
    });
    const toolItem = (args: string, status: string): Record<string, unknown> | undefined =>
      plan.tool && {
        id: plan.tool.itemId,
        type: 'function_call',
        status,
        arguments: args,
        call_id: plan.tool.callId,
        name: plan.tool.name,
      };
    const response = (
      status: string,
      output: unknown[],
      extra: { usage?: unknown; error?: unknown; incomplete_details?: unknown } = {},
    ): Record<string, unknown> => ({
      id: bill.responseId,
      object: 'response',
      created_at: c.created,
      status,
      background: false,
      error: extra.error ?? null,
      incomplete_details: extra.incomplete_details ?? null,
      instructions: raw['instructions'] ?? null,
      max_output_tokens: raw['max_output_tokens'] ?? null,
      model: bill.model,
      output,
      parallel_tool_calls: raw['parallel_tool_calls'] ?? true,
      previous_response_id: raw['previous_response_id'] ?? null,
      reasoning: { effort: asRecord(raw['reasoning'])['effort'] ?? null, summary: null },
      service_tier: 'default',
      store: raw['store'] ?? true,
      temperature: 1.0,
      text: { format: { type: 'text' } },
      tool_choice: raw['tool_choice'] ?? 'auto',
      tools: Array.isArray(raw['tools']) ? raw['tools'] : [],
      top_p: 1.0,
      truncation: 'disabled',
      usage: extra.usage ?? null,
      user: null,
      metadata: {},
    });
    const finalStatus = plan.truncated ? 'incomplete' : 'completed';
    const itemStatus = plan.truncated ? 'incomplete' : 'completed';

    if (!body.stream) {
      chargeAll(c);
      const output: unknown[] = [];
      if (reasoningItem) output.push(reasoningItem);
      if (hasMessage) output.push(messageItem(plan.text.join(''), itemStatus));
      const tool = toolItem(plan.tool?.fragments.join('') ?? '', itemStatus);
      if (tool) output.push(tool);
      bill.complete = true;
      bill.terminal = 'json';
      sendJson(
        c.res,
        200,
        c.headers,
        response(finalStatus, output, {
          usage: responsesUsage(bill.usage, o),
          incomplete_details: plan.truncated ? { reason: 'max_output_tokens' } : null,
        }),
      );
      return;
    }

    let seq = 0;
    const ev = (type: string, fields: Record<string, unknown>): string =>
      namedEvent(type, { type, ...fields, sequence_number: seq++ });
    const cut = normalizeCut(o.cut);
    const interval = Math.max(0, o.tokenIntervalMs ?? 2);
    const output: unknown[] = [];
    /** Events that close what is open (text part, message item, function call), with the given item status. */
    let closeOpen: (status: string) => string = () => '';

    c.res.writeHead(200, { ...c.headers, ...SSE_HEADERS });
    let head = o.openrouter ? ': OPENROUTER PROCESSING\n\n' : '';
    head += ev('response.created', { response: response('in_progress', []) });
    head += ev('response.in_progress', { response: response('in_progress', []) });
    if (!(await ex.write(head))) return;
    chargeStart(c);

    const finish = async (tail: string, terminal: string, complete: boolean): Promise<void> => {
      if (await ex.write(tail)) {
        bill.terminal = terminal;
        bill.complete = complete;
        c.res.end();
      }
    };
    const doCut = async (written: number): Promise<boolean> => {
      if (!cut || written < cut.afterTokens) return false;
      if (cut.kind === 'close') {
        c.res.end();
      } else if (cut.kind === 'destroy') {
        c.res.destroy();
      } else if (cut.kind === 'incomplete') {
        const reason = cut.reason ?? 'max_output_tokens';
        const tail = closeOpen('incomplete');
        await finish(
          tail +
            ev('response.incomplete', {
              response: response('incomplete', output, {
                usage: responsesUsage(bill.usage, o),
                incomplete_details: { reason },
              }),
            }),
          'response.incomplete',
          true,
        );
      } else if (cut.kind === 'error') {
        bill.errored = true;
        await finish(
          ev('error', {
            code: cut.code ?? 'server_error',
            message: cut.message ?? defaultError(500, bill.model).message,
            param: null,
          }),
          'error',
          false,
        );
      } else {
        bill.errored = true;
        await finish(
          ev('response.failed', {
            response: response('failed', output, {
              usage: responsesUsage(bill.usage, o),
              error: { code: cut.code ?? 'server_error', message: cut.message ?? defaultError(500, bill.model).message },
            }),
          }),
          'response.failed',
          false,
        );
      }
      return true;
    };

    let written = 0;
    const emit = async (event: string): Promise<boolean> => {
      await ex.sleep(interval);
      if (!ex.alive()) return false;
      const ok = await ex.write(event);
      // res.write was called: the provider has generated and sent it
      written++;
      bill.usage.output_tokens = plan.reasoning + written;
      return ok;
    };

    let outputIndex = 0;
    if (reasoningItem) {
      const i = outputIndex++;
      if (!(await ex.write(ev('response.output_item.added', { output_index: i, item: reasoningItem })))) return;
      output.push(reasoningItem);
      if (!(await ex.write(ev('response.output_item.done', { output_index: i, item: reasoningItem })))) return;
    }

    if (hasMessage) {
      const i = outputIndex++;
      let text = '';
      const open =
        ev('response.output_item.added', { output_index: i, item: messageItem('', 'in_progress') }) +
        ev('response.content_part.added', { item_id: messageId, output_index: i, content_index: 0, part: textPart('') });
      if (!(await ex.write(open))) return;
      output.push(messageItem('', 'in_progress'));
      closeOpen = (status) => {
        output[i] = messageItem(text, status);
        return (
          ev('response.output_text.done', { item_id: messageId, output_index: i, content_index: 0, text, logprobs: [] }) +
          ev('response.content_part.done', { item_id: messageId, output_index: i, content_index: 0, part: textPart(text) }) +
          ev('response.output_item.done', { output_index: i, item: messageItem(text, status) })
        );
      };
      for (const tok of plan.text) {
        if (await doCut(written)) return;
        text += tok;
        output[i] = messageItem(text, 'in_progress');
        const delta = ev('response.output_text.delta', {
          item_id: messageId,
          output_index: i,
          content_index: 0,
          delta: tok,
          logprobs: [],
        });
        if (!(await emit(delta))) return;
      }
      if (plan.tool || !plan.truncated) {
        // with a call after it, the text is whole (the limit cuts the call first)
        const tail = closeOpen('completed');
        closeOpen = () => '';
        if (!(await ex.write(tail))) return;
      }
    }

    if (plan.tool) {
      const t = plan.tool;
      const i = outputIndex++;
      let args = '';
      if (!(await ex.write(ev('response.output_item.added', { output_index: i, item: toolItem('', 'in_progress') })))) return;
      output.push(toolItem('', 'in_progress'));
      closeOpen = (status) => {
        output[i] = toolItem(args, status);
        return (
          ev('response.function_call_arguments.done', { item_id: t.itemId, output_index: i, arguments: args }) +
          ev('response.output_item.done', { output_index: i, item: toolItem(args, status) })
        );
      };
      for (const frag of t.fragments) {
        if (await doCut(written)) return;
        args += frag;
        output[i] = toolItem(args, 'in_progress');
        const delta = ev('response.function_call_arguments.delta', { item_id: t.itemId, output_index: i, delta: frag });
        if (!(await emit(delta))) return;
      }
    }
    if (await doCut(written)) return;
    const tail = closeOpen(itemStatus);
    const terminal = plan.truncated ? 'response.incomplete' : 'response.completed';
    await finish(
      tail +
        ev(terminal, {
          response: response(finalStatus, output, {
            usage: responsesUsage(bill.usage, o),
            incomplete_details: plan.truncated ? { reason: 'max_output_tokens' } : null,
          }),
        }),
      terminal,
      true,
    );
  };

  // ---- routing

  const server = http.createServer((req, res) => {
    const n = ++requestCount;
    const requestId = `req_${mock.options.requestIdPrefix ?? 'mock'}${String(n).padStart(6, '0')}`;
    // OpenRouter's base is /api/v1; accept it as an alias of /v1.
    const path = ((req.url ?? '/').split('?')[0] ?? '/').replace(/^\/api\/v1\//, '/v1/');
    const method = req.method ?? 'GET';
    readBody(req)
      .then(async (text) => {
        const record: MockRequest = { method, url: req.url ?? '/', headers: req.headers, body: text, receivedAt: Date.now() };
        requests.push(record);
        const headers = commonHeaders(requestId);
        if (method === 'POST' && path === '/v1/chat/completions') {
          await handleApi(res, record, requestId, 'chat');
        } else if (method === 'POST' && path === '/v1/responses') {
          await handleApi(res, record, requestId, 'responses');
        } else if (method === 'GET' && path === '/v1/models') {
          sendJson(res, 200, headers, { object: 'list', data: MODEL_LIST.map((m) => ({ ...m, object: 'model' })) });
        } else if ((method === 'HEAD' || method === 'GET') && path === '/') {
          res.writeHead(200, { ...headers, 'content-type': 'text/plain' });
          res.end(method === 'HEAD' ? undefined : 'ok');
        } else {
          sendJson(res, 404, headers, {
            error: { message: `Invalid URL (${method} ${path})`, type: 'invalid_request_error', param: null, code: null },
          });
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

  const mock: MockOpenAI = {
    url: `http://127.0.0.1:${port}`,
    port,
    bills,
    requests,
    get openStreams() {
      return openStreams;
    },
    options: { ...opts },
    billedNanos(p: MockOpenAIPricePerMtok): number {
      let total = 0n;
      for (const b of bills) {
        const u = b.usage;
        const sum =
          BigInt(u.input_tokens - u.cached_tokens) * BigInt(p.input) +
          BigInt(u.cached_tokens) * BigInt(p.cachedInput) +
          BigInt(u.output_tokens) * BigInt(p.output);
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
