import { bodyTextTokens, readJsonObject, readModel } from '../request-body.js';
import type { RequestInfo } from '../types.js';
import { asRecord, str } from '../json.js';

export type MessagesRequestInfo = RequestInfo;

export interface MessagesRequestError {
  code: 'E_BAD_REQUEST';
  status: 400;
  message: string;
}

/*
 * Input estimate: an UPPER bound of the prompt's tokens, used to decide whether a request may
 * start at all (the real count arrives in message_start). Under-counting would let a request
 * start that the cap cannot pay for, so every constant errs high.
 *
 * Text: the body's own bytes stand in for the prompt (JSON syntax and escapes only add to it).
 * Real Claude tokenizers average ~4 bytes/token on Claude Code's JSON bodies (115 KB ≈ 28.7k
 * tokens) and ~3 bytes/token on dense JSON; 2.5 bytes/token gives 1.2–1.6× real.
 * Non-ASCII text is counted per character instead: a CJK character is 3 bytes but up to ~1.35
 * tokens, an emoji 4 bytes and 2–3 tokens.
 */
/** One image: Anthropic resizes large images, so each costs a bounded number of tokens (≈1.6k at 1568 px, more on high-resolution models). */
const IMAGE_TOKENS = 5000;
/** A base64 PDF: per base64 byte (text plus a page image per page). */
const PDF_BASE64_BYTES_PER_TOKEN = 3;
/** A document given by URL or file id: its size is unknown here; about a 20-page PDF. */
const REFERENCED_DOCUMENT_TOKENS = 50_000;
/** With tools, Anthropic adds a tool-use system prompt: 346 tokens on Claude 4 models, at most 530 on older ones; the tool JSON itself is already over-counted by the byte rule. */
const TOOLS_OVERHEAD_TOKENS = 400;
/** Role markers and framing not visible in the body. */
const BASE_OVERHEAD_TOKENS = 16;

function bad(message: string): MessagesRequestError {
  return { code: 'E_BAD_REQUEST', status: 400, message };
}

/** Reads what spendcap needs from a POST /v1/messages body: one JSON.parse, one walk, one byte scan. */
export function parseMessagesRequest(body: Buffer): MessagesRequestInfo | MessagesRequestError {
  const req = readJsonObject(body, 'Messages API');
  if (typeof req === 'string') return bad(req);

  const named = readModel(req);
  if (typeof named === 'string') return bad(named);
  const { model } = named;

  const maxTokens = req['max_tokens'];
  if (maxTokens === undefined || maxTokens === null) return bad('missing "max_tokens": the Messages API requires it');
  if (typeof maxTokens !== 'number' || !Number.isSafeInteger(maxTokens) || maxTokens <= 0) {
    return bad('"max_tokens" must be a positive integer');
  }

  const walk = walkRequest(req);
  const textTokens = bodyTextTokens(body, walk.base64Bytes);
  const tools = req['tools'];
  const estimatedInputTokens = Math.ceil(
    BASE_OVERHEAD_TOKENS +
      textTokens +
      walk.images * IMAGE_TOKENS +
      walk.pdfBase64Bytes / PDF_BASE64_BYTES_PER_TOKEN +
      walk.referencedDocuments * REFERENCED_DOCUMENT_TOKENS +
      (Array.isArray(tools) && tools.length > 0 ? TOOLS_OVERHEAD_TOKENS : 0),
  );

  return {
    model,
    stream: req['stream'] === true,
    maxTokens,
    estimatedInputTokens,
    cacheWriteTtl: walk.ttl1h ? '1h' : walk.cacheControl ? '5m' : 'none',
  };
}

interface Walk {
  images: number;
  /** Bytes of base64 payloads (images and documents), not to be counted as text. */
  base64Bytes: number;
  pdfBase64Bytes: number;
  referencedDocuments: number;
  cacheControl: boolean;
  ttl1h: boolean;
}

/**
 * Finds media blocks and cache_control anywhere (images also sit inside tool_result content).
 * Iterative, so a deeply nested body cannot overflow the stack.
 */
function walkRequest(root: Record<string, unknown>): Walk {
  const w: Walk = { images: 0, base64Bytes: 0, pdfBase64Bytes: 0, referencedDocuments: 0, cacheControl: false, ttl1h: false };
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
    if (type === 'image' || type === 'document') {
      const source = asRecord(o['source']);
      const data = str(source?.['data']);
      if (source?.['type'] === 'base64' && data !== undefined) {
        w.base64Bytes += data.length;
        if (type === 'image') w.images++;
        else w.pdfBase64Bytes += data.length;
        if (o['cache_control'] !== undefined) markCache(w, o['cache_control']);
        continue; // nothing else of interest inside
      }
      if (source?.['type'] === 'url' || source?.['type'] === 'file') {
        if (type === 'image') w.images++;
        else w.referencedDocuments++;
      }
    }
    for (const key in o) {
      const v = o[key];
      if (key === 'cache_control') markCache(w, v);
      else if (typeof v === 'object' && v !== null) stack.push(v);
    }
  }
  return w;
}

function markCache(w: Walk, v: unknown): void {
  const cc = asRecord(v);
  if (!cc) return;
  w.cacheControl = true;
  if (cc['ttl'] === '1h') w.ttl1h = true;
}

