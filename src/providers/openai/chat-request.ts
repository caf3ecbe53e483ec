import { readJsonObject, readModel } from '../request-body.js';
import type { RequestError, RequestInfo } from '../types.js';
import { estimateTokens } from '../../proxy/estimate-tokens.js';
import { openaiBodyTextTokens } from './exact-tokens.js';
import { asRecord, str } from '../json.js';
import { bareModel, isOpenAIReasoningModel } from './models.js';

/** What the Chat Completions meter needs beyond RequestInfo. */
export interface ChatRequestInfo extends RequestInfo {
  /** Choices generated in parallel (`n`): output and hidden reasoning scale with it. */
  choices: number;
  /** The client asked for the usage chunk itself (stream_options.include_usage). */
  includeUsage: boolean;
  /** The model may reason invisibly before it answers (o-series, gpt-5, reasoning_effort or OpenRouter's reasoning). */
  hiddenReasoning: boolean;
  /** When spendcap read the request: the hidden-reasoning clock runs from here (the provider starts thinking before its headers arrive). */
  receivedAt: number;
  /**
   * Upper estimate of a Predicted Outputs `prediction`: the tokens of it the model rejects are
   * billed as output but never streamed, so they are held from the start.
   */
  predictionTokens: number;
}

/*
 * Input estimate: an UPPER bound of prompt_tokens. Chat Completions reports usage only at the
 * end of a stream, so this bound is what the hold pays for the prompt the whole way through.
 *
 * Text: the body's own bytes at 2.5 bytes/token (o200k averages about 4 bytes/token on English
 * and 3 on dense JSON; chat framing adds about 4 tokens per message, far less than the JSON keys
 * it replaces). Non-ASCII text per character: CJK up to ~1.35 tokens/char, emoji 2–3.
 */
/**
 * One image. High detail on gpt-4o is at most 85 + 170 × 8 tiles = 1,445 tokens; patch-based
 * models (gpt-4.1-mini, o4-mini) at most 1,536 patches × 1.72 ≈ 2,650; newer models' "original"
 * detail goes further: 10,000 covers them.
 */
const IMAGE_TOKENS = 10_000;
/** gpt-4o-mini bills images at about 33× the tokens (2,833 + 5,667 per tile): up to ~48k each. */
const MINI_IMAGE_TOKENS = 50_000;
/** A base64 file (PDF): text plus a page image per page, per base64 byte. */
const FILE_BASE64_BYTES_PER_TOKEN = 3;
/** A file given by id: its size is unknown here; about a 20-page PDF. */
const REFERENCED_FILE_TOKENS = 50_000;
/** Framing not visible in the body (priming of the reply, tool namespace header). */
const BASE_OVERHEAD_TOKENS = 16;

/**
 * Output bound of a non-streamed request that sets no limit: the relay holds it up front, since a
 * JSON answer cannot be cut. 128,000 is the largest output any current OpenAI model allows (the
 * gpt-5 family; o3/o4-mini allow 100,000, gpt-4.1 32,768), so no answer can be billed past it.
 * A client that sets max_completion_tokens (or streams) holds far less.
 */
export const DEFAULT_MAX_OUTPUT_TOKENS = 128_000;

function bad(message: string): RequestError {
  return { code: 'E_BAD_REQUEST', message };
}

function positiveInt(v: unknown, name: string): number | undefined | RequestError {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) return bad(`"${name}" must be a positive integer`);
  return v;
}

/** Reads what spendcap needs from a POST /v1/chat/completions body: one JSON.parse, one walk, one byte scan. */
export function parseChatRequest(body: Buffer, now: () => number = Date.now): ChatRequestInfo | RequestError {
  const receivedAt = now();
  const req = readJsonObject(body, 'Chat Completions');
  if (typeof req === 'string') return bad(req);

  const named = readModel(req);
  if (typeof named === 'string') return bad(named);
  const { model } = named;

  const mct = positiveInt(req['max_completion_tokens'], 'max_completion_tokens');
  if (typeof mct === 'object') return mct;
  const mt = positiveInt(req['max_tokens'], 'max_tokens');
  if (typeof mt === 'object') return mt;
  const n = positiveInt(req['n'], 'n');
  if (typeof n === 'object') return n;
  const choices = n ?? 1;

  const stream = req['stream'] === true;
  const streamOptions = req['stream_options'];
  const includeUsage = stream && asRecord(streamOptions)?.['include_usage'] === true;

  const walk = walkRequest(req);
  // Audio tokens are billed at their own, higher prices, which spendcap's price book does not hold.
  const modalities = req['modalities'];
  if (walk.audio || (Array.isArray(modalities) && modalities.includes('audio')) || (req['audio'] !== undefined && req['audio'] !== null)) {
    return bad('spendcap cannot cap audio: audio tokens are billed at their own prices, which spendcap does not meter yet. Send text (and images) only.');
  }
  const textTokens = openaiBodyTextTokens(body, walk.base64Bytes, model);
  const imageTokens = /(^|[^a-z])gpt-4o-mini/.test(bareModel(model)) ? MINI_IMAGE_TOKENS : IMAGE_TOKENS;
  const estimatedInputTokens = Math.ceil(
    BASE_OVERHEAD_TOKENS +
      textTokens +
      walk.images * imageTokens +
      walk.fileBase64Bytes / FILE_BASE64_BYTES_PER_TOKEN +
      walk.referencedFiles * REFERENCED_FILE_TOKENS,
  );

  const prediction = predictionTokens(req['prediction']);
  const reasoningEffort = req['reasoning_effort'];
  const hiddenReasoning =
    isOpenAIReasoningModel(model) || (reasoningEffort !== undefined && reasoningEffort !== null) || asRecord(req['reasoning']) !== undefined;

  const info: ChatRequestInfo = {
    model,
    stream,
    // Each of the n choices may use the whole limit, and rejected prediction tokens are billed on top.
    maxTokens: (mct ?? mt ?? DEFAULT_MAX_OUTPUT_TOKENS) * choices + prediction,
    estimatedInputTokens,
    cacheWriteTtl: 'none',
    choices,
    includeUsage,
    hiddenReasoning,
    receivedAt,
    predictionTokens: prediction,
  };
  if (stream && !includeUsage) {
    // Without usage the stream says nothing of what it cost: ask for it, and strip it on the way back.
    info.upstreamBody = withIncludeUsage(body, req);
    info.hiddenUsage = true;
  }
  return info;
}

/**
 * The body with stream_options.include_usage = true. Without stream_options the key is spliced in
 * after the opening brace, so the rest of the client's bytes (large integer seeds, number formats)
 * reach the provider as they were; otherwise the object is re-serialized.
 */
export function withIncludeUsage(body: Buffer, req: Record<string, unknown>): Buffer {
  if (!('stream_options' in req)) {
    const text = body.toString('utf8');
    const brace = text.indexOf('{');
    const rest = text.slice(brace + 1);
    const empty = /^\s*\}/.test(rest);
    return Buffer.from(`${text.slice(0, brace)}{"stream_options":{"include_usage":true}${empty ? '' : ','}${rest}`, 'utf8');
  }
  const so = asRecord(req['stream_options']) ?? {};
  return Buffer.from(JSON.stringify({ ...req, stream_options: { ...so, include_usage: true } }), 'utf8');
}

/** Tokens of a prediction's content (a string or text parts), estimated high. */
function predictionTokens(prediction: unknown): number {
  const content = asRecord(prediction)?.['content'];
  if (typeof content === 'string') return estimateTokens(content);
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) n += estimateTokens(str(asRecord(part)?.['text']) ?? '');
  return n;
}

interface Walk {
  images: number;
  /** Bytes of base64 payloads (images, files), not to be counted as text. */
  base64Bytes: number;
  audio: boolean;
  fileBase64Bytes: number;
  referencedFiles: number;
}

/**
 * Finds media parts anywhere in messages (image_url, input_audio, file). Iterative, so a deeply
 * nested body cannot overflow the stack.
 */
function walkRequest(root: Record<string, unknown>): Walk {
  const w: Walk = { images: 0, base64Bytes: 0, audio: false, fileBase64Bytes: 0, referencedFiles: 0 };
  const stack: unknown[] = [root['messages']];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (const v of node) if (typeof v === 'object' && v !== null) stack.push(v);
      continue;
    }
    const o = asRecord(node);
    if (!o) continue;
    const type = o['type'];
    if (type === 'image_url') {
      w.images++;
      const url = str(asRecord(o['image_url'])?.['url']) ?? str(o['image_url']);
      if (url?.startsWith('data:')) w.base64Bytes += url.length;
      continue;
    }
    if (type === 'input_audio') {
      w.audio = true;
      continue;
    }
    if (type === 'file') {
      const f = asRecord(o['file']);
      const data = str(f?.['file_data']);
      if (data !== undefined) {
        w.base64Bytes += data.length;
        w.fileBase64Bytes += data.length;
      } else if (str(f?.['file_id']) !== undefined) w.referencedFiles++;
      continue;
    }
    for (const key in o) {
      const v = o[key];
      if (typeof v === 'object' && v !== null) stack.push(v);
    }
  }
  return w;
}

