import { bodyTextTokens, readJsonObject } from '../request-body.js';
import type { RequestError, RequestInfo } from '../types.js';
import { asRecord, num, str } from '../json.js';

/** What the Gemini meter needs beyond RequestInfo; the relay hands the same object to newStreamMeter. */
export interface GeminiRequestInfo extends RequestInfo {
  /** Upper bound of the hidden thinking tokens when the request bounds them (thinkingBudget), else null. */
  thinkingCap: number | null;
  /** generationConfig.candidateCount: the stream is complete once this many candidates finished. */
  candidateCount: number;
}

/** The model and the call a Gemini path names: /v1beta/models/{model}:{method}. */
const PATH = /^\/(?:v1beta|v1|v1alpha)\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

/*
 * Input estimate: an UPPER bound of the prompt's tokens (the first chunk's promptTokenCount replaces
 * it). Text as in the Anthropic estimate: 2.5 bytes per token on the body's ASCII (JSON syntax
 * only adds), non-ASCII characters counted one by one. Media are counted from their base64 size
 * with a floor per item, because Gemini prices them by tiles, pages and seconds, not bytes.
 */
/** An image: 258 tokens per 768-px tile on Gemini 2.x, 1120 at Gemini 3's high media resolution. */
const IMAGE_MIN_TOKENS = 1200;
const IMAGE_BASE64_BYTES_PER_TOKEN = 100;
/** Audio is 32 tokens/s and video 263 tokens/s: even low-bitrate media stay under one token per 20 base64 bytes. */
const AV_BASE64_BYTES_PER_TOKEN = 20;
/** PDFs (258 tokens per page plus extracted text) and inline text files. */
const DOCUMENT_BASE64_BYTES_PER_TOKEN = 3;
/** A file given by URI (File API, GCS, YouTube): its size is unknown here. */
const REFERENCED_FILE_TOKENS = 50_000;
/**
 * A request that names a cachedContent bills the cache's tokens as cached input, which the body
 * does not show. Priced at the full input rate, this allowance covers about 10× as many cache reads.
 */
const CACHED_CONTENT_TOKENS = 50_000;
const BASE_OVERHEAD_TOKENS = 16;

/** Output ceiling of a model when the request sets no maxOutputTokens (65,536 on 2.5 and later). */
function defaultMaxOutput(model: string): number {
  return /^gemini-(1\.0|1\.5|2\.0)-/.test(model) ? 8192 : 65_536;
}

/** Whether the model thinks when the request does not say (2.5 and later do; older ones only in "thinking" variants). */
function thinksByDefault(model: string): boolean {
  return !/^gemini-(1\.0|1\.5|2\.0)-/.test(model) || model.includes('thinking');
}

/** The largest thinking budget a model accepts (dynamic thinking may use up to it): 32,768 on Pro, 24,576 on Flash. */
function maxThinking(model: string): number {
  return /flash/.test(model) ? 24_576 : 32_768;
}

/**
 * A given thinkingBudget is a target, not a wall: Google's thinking guide says the model may
 * overflow it. A quarter more plus 256 tokens keeps the bound above any overflow reported so far.
 */
export function thinkingCapFor(budget: number): number {
  return budget <= 0 ? 0 : Math.ceil(budget * 1.25) + 256;
}

function bad(message: string): RequestError {
  return { code: 'E_BAD_REQUEST', message };
}

/** One field by its JSON name, or by its proto name (the REST API accepts both spellings). */
function field(o: Record<string, unknown> | undefined, camel: string, snake: string): unknown {
  if (!o) return undefined;
  return o[camel] ?? o[snake];
}

/** Reads what spendcap needs from a generateContent / streamGenerateContent request. */
export function parseGeminiRequest(body: Buffer, path: string, query: URLSearchParams): GeminiRequestInfo | RequestError {
  const m = PATH.exec(path);
  if (!m) return bad(`not a Gemini generate path: ${path}`);
  let model: string;
  try {
    model = decodeURIComponent(m[1]!);
  } catch {
    return bad('the model in the path is not valid percent-encoding');
  }
  const stream = m[2] === 'streamGenerateContent';
  if (stream && query.get('alt') !== 'sse') {
    // A JSON-array stream has no event boundaries a cut could end on well-formed, and holding its
    // whole output up front would refuse most requests on a small cap; every SDK asks for SSE.
    return bad('spendcap meters Gemini streams as server-sent events only: add ?alt=sse to :streamGenerateContent (the Google SDKs do)');
  }

  const req = readJsonObject(body, 'GenerateContentRequest');
  if (typeof req === 'string') return bad(req);

  const gen = asRecord(field(req, 'generationConfig', 'generation_config'));
  const rawMax = field(gen, 'maxOutputTokens', 'max_output_tokens');
  if (rawMax !== undefined && rawMax !== null && (typeof rawMax !== 'number' || !Number.isSafeInteger(rawMax) || rawMax <= 0)) {
    return bad('"generationConfig.maxOutputTokens" must be a positive integer');
  }
  const rawCount = field(gen, 'candidateCount', 'candidate_count');
  const candidateCount = num(rawCount) ?? 1;
  if (!Number.isSafeInteger(candidateCount) || candidateCount < 1 || candidateCount > 8) return bad('"generationConfig.candidateCount" must be an integer from 1 to 8');

  const fcc = asRecord(field(asRecord(field(req, 'toolConfig', 'tool_config')), 'functionCallingConfig', 'function_calling_config'));
  if (field(fcc, 'streamFunctionCallArguments', 'stream_function_call_arguments') === true) {
    // Partial function-call arguments could be cut mid-call; the Gemini API does not offer them anyway.
    return bad('spendcap does not meter streamed function-call arguments (toolConfig.functionCallingConfig.streamFunctionCallArguments)');
  }

  const thinking = asRecord(field(gen, 'thinkingConfig', 'thinking_config'));
  const budget = num(field(thinking, 'thinkingBudget', 'thinking_budget'));
  const thinkingCap = budget !== undefined && budget >= 0 ? thinkingCapFor(budget) : null;
  // Thoughts are billed as output. Observed, they count against maxOutputTokens; the thinking guide
  // describes them apart, so a non-streamed hold adds them on top to stay an upper bound either way.
  const thinkingAllowance = thinkingCap ?? (thinksByDefault(model) ? maxThinking(model) : 0);
  const maxOutput = typeof rawMax === 'number' ? rawMax : defaultMaxOutput(model);
  const maxTokens = (maxOutput + thinkingAllowance) * candidateCount;

  const media = walkMedia(req);
  const textTokens = bodyTextTokens(body, media.base64Bytes);
  const cached = str(field(req, 'cachedContent', 'cached_content'));
  const estimatedInputTokens = Math.ceil(BASE_OVERHEAD_TOKENS + textTokens + media.tokens + (cached ? CACHED_CONTENT_TOKENS : 0));

  return { model, stream, maxTokens, estimatedInputTokens, cacheWriteTtl: 'none', thinkingCap, candidateCount };
}

/** Inline media (base64, not counted as text) and file references, wherever they sit. Iterative: no stack overflow on deep bodies. */
function walkMedia(root: Record<string, unknown>): { tokens: number; base64Bytes: number } {
  let tokens = 0;
  let base64Bytes = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (const v of node) if (typeof v === 'object' && v !== null) stack.push(v);
      continue;
    }
    const o = asRecord(node);
    if (!o) continue;
    const inline = asRecord(field(o, 'inlineData', 'inline_data'));
    const data = str(inline?.['data']);
    if (inline && data !== undefined) {
      const mime = str(field(inline, 'mimeType', 'mime_type')) ?? '';
      base64Bytes += data.length;
      tokens += mediaTokens(mime, data.length);
    }
    if (asRecord(field(o, 'fileData', 'file_data'))) tokens += REFERENCED_FILE_TOKENS;
    for (const key in o) {
      const v = o[key];
      if (typeof v === 'object' && v !== null && key !== 'inlineData' && key !== 'inline_data') stack.push(v);
    }
  }
  return { tokens, base64Bytes };
}

function mediaTokens(mime: string, base64Len: number): number {
  if (mime.startsWith('image/')) return Math.max(IMAGE_MIN_TOKENS, base64Len / IMAGE_BASE64_BYTES_PER_TOKEN);
  if (mime.startsWith('audio/') || mime.startsWith('video/')) return Math.max(IMAGE_MIN_TOKENS, base64Len / AV_BASE64_BYTES_PER_TOKEN);
  return Math.max(IMAGE_MIN_TOKENS, base64Len / DOCUMENT_BASE64_BYTES_PER_TOKEN);
}

