import { readJsonObject, readModel } from '../request-body.js';
import type { RequestError, RequestInfo } from '../types.js';
import { asRecord, str } from '../json.js';
import { openaiBodyTextTokens } from './exact-tokens.js';

/*
 * Input estimate for POST /v1/responses: an UPPER bound of the prompt's tokens. Unlike Anthropic's
 * message_start, a Responses stream tells the input count only in its terminal event, so this
 * estimate backs the hold for the whole stream: every constant errs high.
 *
 * Text: the body's bytes stand in for the prompt (JSON syntax and escapes only add to it). OpenAI's
 * o200k tokenizer averages about 4 bytes/token on English and about 3 on dense JSON and code;
 * 2.5 bytes/token keeps 1.2–1.6× headroom. Non-ASCII text is counted per character.
 */
/**
 * One image. Tile-based models (gpt-4o, gpt-5) cost at most about 1.1k tokens for detail "high";
 * patch-based ones (gpt-4.1-mini/nano, o4-mini) up to 1,536 patches × a 1.6–2.5 multiplier ≈ 3.8k.
 */
const IMAGE_TOKENS = 5000;
/** detail "original" keeps far more patches on the models that accept it. */
const IMAGE_ORIGINAL_TOKENS = 12_000;
/** A base64 file (PDF): per base64 byte, text plus a page image per page. */
const FILE_BASE64_BYTES_PER_TOKEN = 3;
/** A file given by id or URL: its size is unknown here; about a 20-page PDF. */
const REFERENCED_FILE_TOKENS = 50_000;
/**
 * previous_response_id / conversation: the provider prepends a stored conversation spendcap cannot
 * see. Bounded by the largest input a gpt-5-family model accepts (a 400k context less 128k of
 * output). Models with a 1M window could go past it (see the report / docs).
 */
const STORED_CONTEXT_TOKENS = 272_000;
/** A stored prompt template (`prompt: {id}`): its text is not in the body. */
const STORED_PROMPT_TOKENS = 20_000;
/**
 * Framing not visible in the body: priming of the reply, the instructions' developer message, the tool
 * namespace header. OpenAI's framing is about 4 tokens a message plus 3 to prime the reply (Responses
 * bills 7 input tokens for a two-character prompt on gpt-5-pro, 9 for a greeting on gpt-4o-mini), and
 * each input item's JSON keys (`role`, `content`, `type`) already count more than its framing; 16, as
 * for Chat Completions (it was 32: 4% of a $0.02 cap over 16 tiny prompts).
 */
const BASE_OVERHEAD_TOKENS = 16;

/**
 * max_output_tokens when the request gives none: the provider may then write up to the model's own
 * limit, and a non-streamed response cannot be cut, so the hold must cover that. 128k is the largest
 * output limit of OpenAI's current models (gpt-5 family: 128,000; o3/o4-mini: 100,000; gpt-4.1: 32,768).
 */
export const DEFAULT_MAX_OUTPUT_TOKENS = 128_000;

export interface ResponsesRequestInfo extends RequestInfo {
  /** reasoning.effort as the request gives it (null when absent): "none" means the model will not reason. */
  reasoningEffort: string | null;
}

function bad(message: string): RequestError {
  return { code: 'E_BAD_REQUEST', message };
}

/** Reads what spendcap needs from a POST /v1/responses body: one JSON.parse, one walk, one byte scan. */
export function parseResponsesRequest(body: Buffer): ResponsesRequestInfo | RequestError {
  const req = readJsonObject(body, 'Responses API');
  if (typeof req === 'string') return bad(req);

  const named = readModel(req);
  if (typeof named === 'string') return bad(named);
  const { model } = named;

  const max = req['max_output_tokens'];
  let maxTokens = DEFAULT_MAX_OUTPUT_TOKENS;
  if (max !== undefined && max !== null) {
    if (typeof max !== 'number' || !Number.isSafeInteger(max) || max <= 0) return bad('"max_output_tokens" must be a positive integer');
    maxTokens = max;
  }

  // A background response keeps generating when its stream is closed (only POST …/cancel stops it),
  // so a cut would not stop the bill. Non-streamed, it holds its whole max_output_tokens like any other.
  if (req['background'] === true && req['stream'] === true) {
    return bad('spendcap cannot cap a streamed background response (background: true, stream: true): the provider keeps generating after a cut. Stream without background, or send it non-streamed with max_output_tokens');
  }

  const walk = walkRequest(req);
  const textTokens = openaiBodyTextTokens(body, walk.base64Bytes, model);
  const stored = (present(req['previous_response_id']) || present(req['conversation']) ? STORED_CONTEXT_TOKENS : 0) + (present(req['prompt']) ? STORED_PROMPT_TOKENS : 0);
  const estimatedInputTokens = Math.ceil(
    BASE_OVERHEAD_TOKENS +
      textTokens +
      walk.imageTokens +
      walk.fileBase64Bytes / FILE_BASE64_BYTES_PER_TOKEN +
      walk.referencedFiles * REFERENCED_FILE_TOKENS +
      stored,
  );

  const effort = str(asRecord(req['reasoning'])?.['effort']) ?? null;
  return {
    model,
    stream: req['stream'] === true,
    maxTokens,
    estimatedInputTokens,
    // OpenAI caches prompts by itself; a cache write, where priced, is bounded by the input rate's estimate.
    cacheWriteTtl: 'none',
    reasoningEffort: effort,
  };
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '';
}

interface Walk {
  imageTokens: number;
  /** Bytes of base64 payloads (data: URLs), not to be counted as text. */
  base64Bytes: number;
  fileBase64Bytes: number;
  referencedFiles: number;
}

const DATA_URL = /^data:[^,]{0,200},/;

/** Finds images and files anywhere (they also sit inside function_call_output). Iterative: no stack overflow on deep bodies. */
function walkRequest(root: Record<string, unknown>): Walk {
  const w: Walk = { imageTokens: 0, base64Bytes: 0, fileBase64Bytes: 0, referencedFiles: 0 };
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (const v of node) if (typeof v === 'object' && v !== null) stack.push(v);
      continue;
    }
    const o = asRecord(node);
    if (!o) continue;
    const type = o['type'];
    if (type === 'input_image') {
      w.imageTokens += o['detail'] === 'original' ? IMAGE_ORIGINAL_TOKENS : IMAGE_TOKENS;
      const url = str(o['image_url']);
      if (url !== undefined && DATA_URL.test(url)) w.base64Bytes += url.length;
      continue;
    }
    if (type === 'input_file') {
      const data = str(o['file_data']);
      if (data !== undefined && data.length > 0) {
        w.base64Bytes += data.length;
        w.fileBase64Bytes += data.length;
      } else {
        w.referencedFiles++;
      }
      continue;
    }
    for (const key in o) {
      const v = o[key];
      if (typeof v === 'object' && v !== null) stack.push(v);
    }
  }
  return w;
}

