import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { estimateTokenUnits } from './estimate-tokens.js';

/**
 * Agents (Claude Code, Codex, opencode) send the whole conversation again every turn, and the
 * provider told us the exact input count of the previous turn. The new prompt starts with the bytes
 * of the previous one, so its tokens are at most the previous exact count plus an upper estimate of
 * what changed. This memory keeps, per (key, provider, model) and first block of the body, the
 * cumulative digests of the last body's blocks and its exact input count.
 *
 * Bounded work: bodies over MAX_BYTES are not remembered (the cold estimate applies), hashing is
 * native, and at most MAX_ENTRIES conversations are kept (oldest first out).
 */
const BLOCK_BYTES = 1024;
const MAX_BYTES = 2 * 1024 * 1024;
const MAX_ENTRIES = 1024;
/** Tokens a changed boundary may add (a word split differently where the old prompt ended, the template's end). */
const BOUNDARY_SLACK_TOKENS = 16;
/** The changed part is raw JSON, estimated at least at one token per 2 bytes and at the newest Claude tokenizer's factor. */
const SUFFIX_BYTES_PER_TOKEN = 2;
const SUFFIX_UNIT_FACTOR = 1.45;

export interface PromptDigest {
  /** Cumulative digest after each whole block, in order. */
  readonly blocks: readonly string[];
  readonly bytes: number;
}

interface Entry {
  digest: PromptDigest;
  exactInputTokens: number;
}

export function digestPrompt(body: Buffer): PromptDigest | null {
  if (body.length > MAX_BYTES || body.length < BLOCK_BYTES) return null;
  const h: Hash = createHash('sha256');
  const blocks: string[] = [];
  for (let at = 0; at + BLOCK_BYTES <= body.length; at += BLOCK_BYTES) {
    h.update(body.subarray(at, at + BLOCK_BYTES));
    blocks.push(h.copy().digest('base64'));
  }
  return { blocks, bytes: body.length };
}

/** An upper bound of the tokens in `suffix`, the part of a prompt spendcap has no exact count for. */
export function suffixTokens(suffix: Buffer): number {
  const byBytes = Math.ceil(suffix.length / SUFFIX_BYTES_PER_TOKEN);
  const byUnits = Math.ceil(estimateTokenUnits(suffix.toString('utf8')) * SUFFIX_UNIT_FACTOR);
  return Math.max(byBytes, byUnits);
}

export class PromptMemory {
  readonly #entries = new Map<string, Entry>();

  static #id(scope: string, d: PromptDigest): string {
    return `${scope}\u0000${d.blocks[0]!}`;
  }

  /**
   * The tighter of `coldEstimate` and (previous exact count + estimate of what follows the common
   * prefix), for a body of the same conversation. Never below what the prompt can hold.
   */
  estimate(scope: string, d: PromptDigest | null, body: Buffer, coldEstimate: number): number {
    if (d === null) return coldEstimate;
    const prev = this.#entries.get(PromptMemory.#id(scope, d));
    if (prev === undefined) return coldEstimate;
    let common = 0;
    const n = Math.min(prev.digest.blocks.length, d.blocks.length);
    while (common < n && prev.digest.blocks[common] === d.blocks[common]) common++;
    if (common === 0) return coldEstimate;
    const warm = prev.exactInputTokens + suffixTokens(body.subarray(common * BLOCK_BYTES)) + BOUNDARY_SLACK_TOKENS;
    return Math.min(coldEstimate, warm);
  }

  /** The provider's exact input count (uncached + cache reads + cache writes) for this body. */
  remember(scope: string, d: PromptDigest | null, exactInputTokens: number): void {
    if (d === null) return;
    const id = PromptMemory.#id(scope, d);
    this.#entries.delete(id);
    this.#entries.set(id, { digest: d, exactInputTokens });
    if (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
  }
}
