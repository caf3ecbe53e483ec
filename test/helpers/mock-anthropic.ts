// A local imitation of the Anthropic Messages API for tests.
//
// It streams real SSE (same event names, shapes and order as api.anthropic.com),
// writes ONE output token per content_block_delta, and keeps a bill per request
// that counts exactly the tokens whose delta it handed to res.write(). A client
// (or a proxy in front of it) that disconnects mid-stream is billed for what was
// written up to that moment: the same thing the real provider does, which is the
// number spendcap has to reconcile against.
//
// Usage:
//   const mock = await startMockAnthropic({ outputTokens: 20 });
//   ... point a client / the proxy at mock.url ...
//   await mock.waitIdle();
//   mock.bills[0].usage.output_tokens; mock.billedNanos(prices);
//   await mock.close();

import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Prices in integer nano-dollars per million tokens ($3/Mtok = 3_000_000_000). */
export interface MockPricePerMtok {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
}

export interface MockToolUse {
  /** Tool name; default: the first tool in the request's `tools`, else "Bash". */
  name?: string;
  /** Tool input, serialized to JSON and streamed as input_json_delta fragments. */
  input?: Record<string, unknown>;
}

export interface MockMidStreamError {
  /** Number of output-token deltas to write before the `event: error`. */
  afterTokens: number;
  /** Error type, default "overloaded_error". */
  type?: string;
  /** Error message, default "Overloaded". */
  message?: string;
}

export interface MockScript {
  text: string;
  /** What the real model bills for one whole `text`. */
  tokens: number;
}

/** Word-sized deltas of a text (a long run without spaces, as in CJK or base64, is cut every 8 code points). */
export function scriptDeltas(text: string): string[] {
  const out: string[] = [];
  for (const piece of text.match(/\s*\S+|\s+/g) ?? []) {
    const cps = Array.from(piece);
    for (let i = 0; i < cps.length; i += 8) out.push(cps.slice(i, i + 8).join(''));
  }
  return out;
}

export interface MockAnthropicOptions {
  /**
   * Probability that a word of 4+ letters is billed as two tokens, to imitate a tokenizer finer than
   * cl100k (Claude's: about 16% more tokens on English up to 4.6, more from 4.7). Default 0.
   */
  tokenizerInflation?: number;
  /**
   * Stream this text (repeated as needed) as the answer, in word-sized deltas, and bill it the way a
   * real tokenizer would: `tokens` per whole text, pro rata to the characters written (rounded up).
   * The caller states `tokens` from an independent count, so the bill does not depend on the deltas.
   */
  script?: MockScript;
  /** Delay between two token deltas; 0 = as fast as possible (setImmediate between writes). Default 2. */
  tokenIntervalMs?: number;
  /** Planned output tokens per response, clamped to the request's max_tokens. Default 50. */
  outputTokens?: number;
  /** Input tokens to report; default ceil(request body bytes / 4). */
  inputTokens?: number;
  /** Emit a short text block, then a tool_use block (one input_json_delta per token); stop_reason "tool_use". */
  toolUse?: boolean | MockToolUse;
  /** Emit a thinking block first (thinking_delta tokens, then a signature_delta). */
  thinking?: boolean;
  /**
   * Summarized thinking, as Claude 4 does it: each visible thinking delta stands for this many more
   * thinking tokens that are billed but never streamed. Default 0.
   */
  hiddenThinkingPerDelta?: number;
  /** Thinking tokens when `thinking` is on. Default 10. */
  thinkingTokens?: number;
  /** Prompt-cache token counts to report (and bill). */
  cache?: { read?: number; write5m?: number; write1h?: number };
  /** Model to echo; default the request's model. */
  model?: string;
  /** Echo a dated model id: true = known release date (e.g. claude-sonnet-4-5 → claude-sonnet-4-5-20250929), or a YYYYMMDD string. */
  datedModel?: boolean | string;
  /** Delay before the status line/headers are written. Default 0. */
  firstByteDelayMs?: number;
  /** Answer /v1/messages with this HTTP error status (e.g. 529, 429). */
  status?: number;
  /** Error body for `status`; default {"type":"error","error":{type per status, message}}. */
  errorBody?: unknown;
  /** Extra headers on error answers (e.g. {"retry-after": "1", "x-should-retry": "false"}). */
  errorHeaders?: Record<string, string>;
  /** Send `event: error` after N token deltas (number = overloaded_error), then end the response. */
  midStreamError?: number | MockMidStreamError;
  /** Force the final stop_reason (otherwise end_turn / max_tokens / tool_use as appropriate). */
  stopReason?: string;
  /** Prefix for request-id headers and bill ids: `req_${prefix}${n}`. Default "mock". */
  requestIdPrefix?: string;
  /** Seed of the token PRNG; request n uses seed + n so every run is reproducible. Default 1. */
  seed?: number;
  /** A ping every N token deltas (plus one after the first content_block_start). 0 = only that first one. Default 16. */
  pingEvery?: number;
  /** Per-request overrides, called with the received request and its 0-based index among /v1/messages calls. */
  perRequest?: (req: MockRequest, index: number) => Partial<MockAnthropicOptions> | undefined;
}

export interface MockRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

export interface MockUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_5m: number;
  cache_creation_1h: number;
}

export interface MockBill {
  /** The request-id header value sent with the response. */
  id: string;
  /** The msg_… id in the body. */
  messageId: string;
  /** Model as echoed in the response. */
  model: string;
  stream: boolean;
  /** HTTP status answered. */
  status: number;
  usage: MockUsage;
  /** The message was written to the end (message_stop sent / full JSON body sent). */
  complete: boolean;
  /** The connection closed before the response finished. */
  aborted: boolean;
  /** An `event: error` was sent mid-stream. */
  errored: boolean;
  /** Becomes true once the entry will not change any more. */
  finalized: boolean;
}

export interface MockAnthropic {
  /** Base URL, e.g. http://127.0.0.1:54321 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** One entry per POST /v1/messages, in arrival order; updated live while streaming. */
  readonly bills: MockBill[];
  /** Every request received (any path), in arrival order. */
  readonly requests: MockRequest[];
  /** Streaming /v1/messages responses currently being written. */
  readonly openStreams: number;
  /** Mutable defaults for subsequent requests. */
  options: MockAnthropicOptions;
  /** Total cost of all bills, n$, rounded up per request. */
  billedNanos(price: MockPricePerMtok): number;
  /** Resolves once no /v1/messages response (stream or not) is in flight. */
  waitIdle(): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Tokens

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
function prng(seed: number): () => number {
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

/** Deterministic generator of English-looking BPE tokens. */
class TokenSource {
  private readonly rnd: () => number;
  private prev = '';
  private queued: string | null = null;
  /** @param split probability that a word of 4+ letters comes out as two tokens (a finer tokenizer). */
  constructor(
    seed: number,
    private readonly split = 0,
  ) {
    this.rnd = prng(seed);
  }
  next(): string {
    if (this.queued !== null) {
      const q = this.queued;
      this.queued = null;
      return q;
    }
    const word = this.nextWord();
    const letters = word.trimStart();
    if (this.split > 0 && letters.length >= 4 && this.rnd() < this.split) {
      const cut = word.length - Math.floor(letters.length / 2);
      this.queued = word.slice(cut);
      return word.slice(0, cut);
    }
    return word;
  }
  private nextWord(): string {
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
}

/** Split a JSON text into BPE-like fragments (word pieces with their leading space, punctuation runs). */
function jsonFragments(json: string): string[] {
  return json.match(/ ?[A-Za-z0-9_]+| ?[^A-Za-z0-9_\s]+|\s+/g) ?? [json];
}

// ---------------------------------------------------------------------------
// Models

const MODEL_DATES: Readonly<Record<string, string>> = {
  'claude-opus-4-5': '20251101',
  'claude-haiku-4-5': '20251001',
  'claude-sonnet-4-5': '20250929',
  'claude-opus-4-1': '20250805',
  'claude-opus-4': '20250514',
  'claude-sonnet-4': '20250514',
  'claude-3-7-sonnet': '20250219',
  'claude-3-5-haiku': '20241022',
  'claude-3-haiku': '20240307',
};

function echoModel(requested: string, o: MockAnthropicOptions): string {
  const model = o.model ?? requested;
  if (!o.datedModel || /-\d{8}$/.test(model)) return model;
  const date = typeof o.datedModel === 'string' ? o.datedModel : (MODEL_DATES[model] ?? '20250101');
  return `${model}-${date}`;
}

const MODEL_LIST = [
  { id: 'claude-sonnet-4-6', display_name: 'Claude Sonnet 4.6', created_at: '2026-02-17T00:00:00Z' },
  { id: 'claude-opus-4-5-20251101', display_name: 'Claude Opus 4.5', created_at: '2025-11-01T00:00:00Z' },
  { id: 'claude-haiku-4-5-20251001', display_name: 'Claude Haiku 4.5', created_at: '2025-10-01T00:00:00Z' },
  { id: 'claude-sonnet-4-5-20250929', display_name: 'Claude Sonnet 4.5', created_at: '2025-09-29T00:00:00Z' },
];

// ---------------------------------------------------------------------------
// Errors

const ERROR_TYPES: Readonly<Record<number, [string, string]>> = {
  400: ['invalid_request_error', 'Invalid request'],
  401: ['authentication_error', 'invalid x-api-key'],
  403: ['permission_error', 'Permission denied'],
  404: ['not_found_error', 'Not found'],
  413: ['request_too_large', 'Request too large'],
  429: ['rate_limit_error', 'Rate limited'],
  500: ['api_error', 'Internal server error'],
  529: ['overloaded_error', 'Overloaded'],
};

function defaultErrorBody(status: number): unknown {
  const [type, message] = ERROR_TYPES[status] ?? ['api_error', `HTTP ${status}`];
  return { type: 'error', error: { type, message } };
}

// ---------------------------------------------------------------------------
// Request body

interface ParsedBody {
  model: string;
  stream: boolean;
  maxTokens: number;
  firstToolName: string | undefined;
}

function parseBody(text: string): ParsedBody {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    obj = {};
  }
  const rec = (typeof obj === 'object' && obj !== null ? obj : {}) as Record<string, unknown>;
  const tools = Array.isArray(rec['tools']) ? (rec['tools'] as unknown[]) : [];
  const tool0 = tools[0];
  const toolName =
    typeof tool0 === 'object' && tool0 !== null && typeof (tool0 as Record<string, unknown>)['name'] === 'string'
      ? ((tool0 as Record<string, unknown>)['name'] as string)
      : undefined;
  return {
    model: typeof rec['model'] === 'string' ? rec['model'] : 'claude-sonnet-4-5',
    stream: rec['stream'] === true,
    maxTokens: typeof rec['max_tokens'] === 'number' && rec['max_tokens'] > 0 ? Math.floor(rec['max_tokens']) : 4096,
    firstToolName: toolName,
  };
}

// ---------------------------------------------------------------------------
// Output plan: the sequence of token deltas a response will write

type BlockKind = 'thinking' | 'text' | 'tool_use';
interface PlannedBlock {
  kind: BlockKind;
  tokens: string[];
  toolName?: string;
  toolInput?: Record<string, unknown>;
}
interface Plan {
  blocks: PlannedBlock[];
  stopReason: string;
  total: number;
}

function makePlan(o: MockAnthropicOptions, body: ParsedBody, seed: number): Plan {
  const src = new TokenSource(seed, o.tokenizerInflation ?? 0);
  const target = Math.max(0, Math.floor(o.outputTokens ?? 50));
  const wanted: PlannedBlock[] = [];
  let reserved = 0;
  if (o.thinking) {
    const n = Math.max(1, Math.floor(o.thinkingTokens ?? 10));
    const tokens: string[] = [];
    for (let i = 0; i < n; i++) tokens.push(src.next());
    wanted.push({ kind: 'thinking', tokens });
    reserved += n;
  }
  let tool: PlannedBlock | undefined;
  if (o.toolUse) {
    const spec: MockToolUse = typeof o.toolUse === 'object' ? o.toolUse : {};
    const input = spec.input ?? { command: 'echo hello' };
    tool = {
      kind: 'tool_use',
      tokens: jsonFragments(JSON.stringify(input)),
      toolName: spec.name ?? body.firstToolName ?? 'Bash',
      toolInput: input,
    };
    reserved += tool.tokens.length;
  }
  const textN = tool ? Math.max(1, Math.min(8, target - reserved)) : Math.max(0, target - reserved);
  const text: string[] = [];
  if (o.script) {
    const pieces = scriptDeltas(o.script.text);
    for (let i = 0; i < textN && pieces.length > 0; i++) text.push(pieces[i % pieces.length] ?? '');
  } else for (let i = 0; i < textN; i++) text.push(src.next());
  if (text.length > 0 || !tool) wanted.push({ kind: 'text', tokens: text });
  if (tool) wanted.push(tool);

  const planned = wanted.reduce((s, b) => s + b.tokens.length, 0);
  let stopReason = tool ? 'tool_use' : 'end_turn';
  let budget = planned;
  if (planned > body.maxTokens) {
    stopReason = 'max_tokens';
    budget = body.maxTokens;
  }
  const blocks: PlannedBlock[] = [];
  let total = 0;
  for (const b of wanted) {
    if (total >= budget && b.tokens.length > 0) break;
    const take = Math.min(b.tokens.length, budget - total);
    blocks.push({ ...b, tokens: b.tokens.slice(0, take) });
    total += take;
  }
  return { blocks, stopReason: o.stopReason ?? stopReason, total };
}

// ---------------------------------------------------------------------------
// Server

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function randomId(rnd: () => number, len: number): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < len; i++) s += abc.charAt(Math.floor(rnd() * abc.length));
  return s;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startMockAnthropic(opts: MockAnthropicOptions = {}): Promise<MockAnthropic> {
  const bills: MockBill[] = [];
  const requests: MockRequest[] = [];
  let messageCount = 0;
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

  const commonHeaders = (requestId: string): Record<string, string> => {
    const reset = new Date(Date.now() + 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return {
      'request-id': requestId,
      'anthropic-organization-id': '00000000-0000-4000-8000-000000000000',
      'anthropic-ratelimit-requests-limit': '4000',
      'anthropic-ratelimit-requests-remaining': '3999',
      'anthropic-ratelimit-requests-reset': reset,
      'anthropic-ratelimit-input-tokens-limit': '2000000',
      'anthropic-ratelimit-input-tokens-remaining': '2000000',
      'anthropic-ratelimit-input-tokens-reset': reset,
      'anthropic-ratelimit-output-tokens-limit': '400000',
      'anthropic-ratelimit-output-tokens-remaining': '400000',
      'anthropic-ratelimit-output-tokens-reset': reset,
      'anthropic-ratelimit-tokens-limit': '2400000',
      'anthropic-ratelimit-tokens-remaining': '2400000',
      'anthropic-ratelimit-tokens-reset': reset,
      'x-mock-header': '1',
    };
  };

  const sendJson = (res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
    });
    res.end(text);
  };

  const handleMessages = async (
    res: ServerResponse,
    record: MockRequest,
    requestId: string,
  ): Promise<void> => {
    const index = messageCount++;
    const o: MockAnthropicOptions = { ...mock.options, ...(mock.options.perRequest?.(record, index) ?? {}) };
    const body = parseBody(record.body);
    const idRnd = prng((o.seed ?? 1) * 7919 + index);
    const messageId = `msg_01${randomId(idRnd, 22)}`;
    const model = echoModel(body.model, o);
    const cacheRead = Math.max(0, Math.floor(o.cache?.read ?? 0));
    const cache5m = Math.max(0, Math.floor(o.cache?.write5m ?? 0));
    const cache1h = Math.max(0, Math.floor(o.cache?.write1h ?? 0));
    const inputTokens = Math.max(0, Math.floor(o.inputTokens ?? Math.ceil(Buffer.byteLength(record.body) / 4)));

    const bill: MockBill = {
      id: requestId,
      messageId,
      model,
      stream: body.stream,
      status: o.status ?? 200,
      usage: { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_5m: 0, cache_creation_1h: 0 },
      complete: false,
      aborted: false,
      errored: false,
      finalized: false,
    };
    bills.push(bill);
    inFlight++;
    if (body.stream && o.status === undefined) openStreams++;

    let closed = false;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    let immediate: NodeJS.Immediate | undefined;
    let wake: (() => void) | undefined;
    const finalize = (aborted: boolean): void => {
      if (done) return;
      done = true;
      bill.aborted = aborted;
      bill.finalized = true;
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
      if (body.stream && o.status === undefined) openStreams--;
      settle();
      wake?.();
    };
    res.on('error', () => undefined);
    res.on('close', () => {
      closed = true;
      // 'close' after a finished response is normal; before it, the client went away.
      finalize(!res.writableFinished);
    });
    res.on('finish', () => finalize(false));

    const sleep = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        wake = resolve;
        if (ms > 0) timer = setTimeout(resolve, ms);
        else immediate = setImmediate(resolve);
      });
    const alive = (): boolean => !closed && !done && !res.destroyed && !res.writableEnded;

    if ((o.firstByteDelayMs ?? 0) > 0) {
      await sleep(o.firstByteDelayMs ?? 0);
      if (!alive()) return;
    }

    const headers = commonHeaders(requestId);
    if (o.status !== undefined) {
      sendJson(res, o.status, { ...headers, ...(o.errorHeaders ?? {}) }, o.errorBody ?? defaultErrorBody(o.status));
      bill.complete = false;
      return;
    }

    const plan = makePlan(o, body, (o.seed ?? 1) + index);
    const chargeInput = (): void => {
      bill.usage.input_tokens = inputTokens;
      bill.usage.cache_read_input_tokens = cacheRead;
      bill.usage.cache_creation_5m = cache5m;
      bill.usage.cache_creation_1h = cache1h;
    };
    const usageStart = {
      input_tokens: inputTokens,
      cache_creation_input_tokens: cache5m + cache1h,
      cache_read_input_tokens: cacheRead,
      cache_creation: { ephemeral_5m_input_tokens: cache5m, ephemeral_1h_input_tokens: cache1h },
      output_tokens: 1,
      service_tier: 'standard',
    };
    const signature = `Eu${randomId(idRnd, 62)}==`;

    if (!body.stream) {
      const content: unknown[] = [];
      for (const b of plan.blocks) {
        const joined = b.tokens.join('');
        if (b.kind === 'thinking') content.push({ type: 'thinking', thinking: joined, signature });
        else if (b.kind === 'text') content.push({ type: 'text', text: joined });
        else {
          let input: unknown = {};
          try {
            input = JSON.parse(joined);
          } catch {
            input = {};
          }
          content.push({ type: 'tool_use', id: `toolu_01${randomId(idRnd, 22)}`, name: b.toolName, input });
        }
      }
      const message = {
        id: messageId,
        type: 'message',
        role: 'assistant',
        model,
        content,
        stop_reason: plan.stopReason,
        stop_sequence: null,
        usage: { ...usageStart, output_tokens: plan.total },
      };
      chargeInput();
      bill.usage.output_tokens = plan.total;
      bill.complete = true;
      sendJson(res, 200, headers, message);
      return;
    }

    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });

    const interval = Math.max(0, o.tokenIntervalMs ?? 2);
    const pingEvery = Math.max(0, Math.floor(o.pingEvery ?? 16));
    const err: MockMidStreamError | undefined =
      o.midStreamError === undefined
        ? undefined
        : typeof o.midStreamError === 'number'
          ? { afterTokens: o.midStreamError }
          : o.midStreamError;

    /** Write a chunk; waits for 'drain' under backpressure. Returns false if the client is gone. */
    const write = async (chunk: string): Promise<boolean> => {
      if (!alive()) return false;
      const ok = res.write(chunk);
      if (!ok && alive()) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          res.once('drain', () => resolve());
        });
      }
      return alive();
    };

    const msgStart = {
      type: 'message_start',
      message: {
        id: messageId,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: usageStart,
      },
    };
    if (!(await write(sse('message_start', msgStart)))) return;
    chargeInput();

    let written = 0;
    let scriptChars = 0;
    const script = o.script;
    // With a script, output tokens are what its tokenizer makes of the characters written so far.
    const outputTokens = (): number => (script ? Math.ceil((scriptChars * script.tokens) / script.text.length) : written);
    const hiddenPerThinkingDelta = Math.max(0, Math.floor(o.hiddenThinkingPerDelta ?? 0));
    const sendError = async (e: MockMidStreamError): Promise<void> => {
      bill.errored = true;
      const payload = {
        type: 'error',
        error: { type: e.type ?? 'overloaded_error', message: e.message ?? 'Overloaded' },
        request_id: requestId,
      };
      if (await write(sse('error', payload))) res.end();
    };

    let firstBlock = true;
    for (const [blockIndex, b] of plan.blocks.entries()) {
      const startBlock =
        b.kind === 'thinking'
          ? { type: 'thinking', thinking: '', signature: '' }
          : b.kind === 'text'
            ? { type: 'text', text: '' }
            : { type: 'tool_use', id: `toolu_01${randomId(idRnd, 22)}`, name: b.toolName, input: {} };
      let head = sse('content_block_start', { type: 'content_block_start', index: blockIndex, content_block: startBlock });
      if (firstBlock) head += sse('ping', { type: 'ping' });
      firstBlock = false;
      if (!(await write(head))) return;
      for (const tok of b.tokens) {
        if (err && written >= err.afterTokens) return sendError(err);
        await sleep(interval);
        if (!alive()) return;
        const delta =
          b.kind === 'thinking'
            ? { type: 'thinking_delta', thinking: tok }
            : b.kind === 'text'
              ? { type: 'text_delta', text: tok }
              : { type: 'input_json_delta', partial_json: tok };
        const ok = await write(sse('content_block_delta', { type: 'content_block_delta', index: blockIndex, delta }));
        // res.write was called: the provider has generated and sent it (and, for summarized thinking, more it did not show)
        written += b.kind === 'thinking' ? 1 + hiddenPerThinkingDelta : 1;
        if (b.kind === 'text') scriptChars += tok.length;
        bill.usage.output_tokens = outputTokens();
        if (!ok) return;
        if (pingEvery > 0 && written % pingEvery === 0 && !(await write(sse('ping', { type: 'ping' })))) return;
      }
      let tail = '';
      if (b.kind === 'thinking') {
        tail += sse('content_block_delta', {
          type: 'content_block_delta',
          index: blockIndex,
          delta: { type: 'signature_delta', signature },
        });
      }
      tail += sse('content_block_stop', { type: 'content_block_stop', index: blockIndex });
      if (!(await write(tail))) return;
    }
    if (err && written >= err.afterTokens) return sendError(err);

    const end =
      sse('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: plan.stopReason, stop_sequence: null },
        usage: {
          output_tokens: outputTokens(),
          input_tokens: inputTokens,
          cache_creation_input_tokens: cache5m + cache1h,
          cache_read_input_tokens: cacheRead,
        },
      }) + sse('message_stop', { type: 'message_stop' });
    if (!(await write(end))) return;
    bill.complete = true;
    res.end();
  };

  const server = http.createServer((req, res) => {
    const n = ++requestCount;
    const requestId = `req_${mock.options.requestIdPrefix ?? 'mock'}${String(n).padStart(6, '0')}`;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    readBody(req)
      .then(async (text) => {
        const record: MockRequest = { method, url: req.url ?? '/', headers: req.headers, body: text, receivedAt: Date.now() };
        requests.push(record);
        const headers = commonHeaders(requestId);
        if (method === 'POST' && path === '/v1/messages') {
          await handleMessages(res, record, requestId);
        } else if (method === 'POST' && path === '/v1/messages/count_tokens') {
          const o = mock.options;
          sendJson(res, 200, headers, { input_tokens: o.inputTokens ?? Math.ceil(Buffer.byteLength(text) / 4) });
        } else if (method === 'GET' && path === '/v1/models') {
          const data = MODEL_LIST.map((m) => ({ type: 'model', ...m }));
          sendJson(res, 200, headers, {
            data,
            has_more: false,
            first_id: data[0]?.id ?? null,
            last_id: data[data.length - 1]?.id ?? null,
          });
        } else if ((method === 'HEAD' || method === 'GET') && (path === '/' || path === '/api/hello')) {
          res.writeHead(200, { ...headers, 'content-type': 'text/plain' });
          res.end(method === 'HEAD' ? undefined : 'ok');
        } else {
          sendJson(res, 404, headers, {
            type: 'error',
            error: { type: 'not_found_error', message: `${method} ${path} not found` },
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

  const mock: MockAnthropic = {
    url: `http://127.0.0.1:${port}`,
    port,
    bills,
    requests,
    get openStreams() {
      return openStreams;
    },
    options: { ...opts },
    billedNanos(p: MockPricePerMtok): number {
      let total = 0n;
      for (const b of bills) {
        const u = b.usage;
        const sum =
          BigInt(u.input_tokens) * BigInt(p.input) +
          BigInt(u.output_tokens) * BigInt(p.output) +
          BigInt(u.cache_read_input_tokens) * BigInt(p.cacheRead) +
          BigInt(u.cache_creation_5m) * BigInt(p.cacheWrite5m) +
          BigInt(u.cache_creation_1h) * BigInt(p.cacheWrite1h);
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
