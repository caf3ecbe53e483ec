import type { SseEvent } from './sse-types.js';

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

/**
 * Incremental Server-Sent Events parser (WHATWG rules), fed raw bytes split anywhere.
 *
 * Only complete lines are decoded, so a UTF-8 character split across chunks is never
 * mangled (line terminators are ASCII and cannot occur inside a multi-byte sequence).
 * Bytes of an unfinished line are kept in one reusable carry buffer.
 */
export class SseParser {
  /** Bytes of the current unfinished line (reused, grows by doubling). */
  private carry: Buffer = Buffer.allocUnsafe(1024);
  private carryLen = 0;
  /** The previous chunk ended in CR: a LF at the start of the next one belongs to that line end. */
  private skipLf = false;
  /** That CR ended a blank line, so the LF belongs to the block boundary. */
  private crEndedBlock = false;

  private eventName: string | undefined = undefined;
  private data = '';
  private hasData = false;
  /** Any line seen yet (to strip a leading BOM from the very first line only). */
  private sawLine = false;

  private total = 0;
  private boundaryAt = 0;

  /**
   * @param keepComments also return comment lines, as events with `comment` set: a relay that
   * re-encodes events must pass on keep-alives (": OPENROUTER PROCESSING") or clients time out.
   */
  constructor(private readonly keepComments = false) {}

  /** Bytes received after the last blank-line boundary, i.e. belonging to an incomplete block. */
  get pendingBytes(): number {
    return this.total - this.boundaryAt;
  }

  push(chunk: Uint8Array): SseEvent[] {
    const out: SseEvent[] = [];
    const len = chunk.length;
    if (len === 0) return out;
    // A view, not a copy: Buffer gives memchr-backed indexOf and fast utf8 decoding.
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, len);
    const base = this.total;
    this.total += len;

    let pos = 0;
    if (this.skipLf) {
      this.skipLf = false;
      if (buf[0] === LF) {
        pos = 1;
        if (this.crEndedBlock) this.boundaryAt = base + 1;
      }
    }

    // Next CR/LF positions, each searched again only once passed (keeps the scan linear).
    let nextLf = -2;
    let nextCr = -2;
    while (pos < len) {
      if (nextLf !== -1 && nextLf < pos) nextLf = buf.indexOf(LF, pos);
      if (nextCr !== -1 && nextCr < pos) nextCr = buf.indexOf(CR, pos);
      let end: number;
      if (nextLf === -1) end = nextCr;
      else if (nextCr === -1) end = nextLf;
      else end = nextLf < nextCr ? nextLf : nextCr;

      if (end === -1) {
        this.appendCarry(buf, pos, len);
        break;
      }

      let next = end + 1;
      const isCr = buf[end] === CR;
      if (isCr) {
        if (next < len) {
          if (buf[next] === LF) next++;
        } else {
          this.skipLf = true;
        }
      }

      let blank: boolean;
      if (this.carryLen > 0) {
        this.appendCarry(buf, pos, end);
        blank = this.processLine(this.carry, 0, this.carryLen, out);
        this.carryLen = 0;
      } else {
        blank = this.processLine(buf, pos, end, out);
      }
      if (blank) this.boundaryAt = base + next;
      if (this.skipLf) this.crEndedBlock = blank;
      pos = next;
    }
    return out;
  }

  private appendCarry(src: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    const need = this.carryLen + n;
    if (need > this.carry.length) {
      let size = this.carry.length * 2;
      while (size < need) size *= 2;
      const grown = Buffer.allocUnsafe(size);
      this.carry.copy(grown, 0, 0, this.carryLen);
      this.carry = grown;
    }
    src.copy(this.carry, this.carryLen, start, end);
    this.carryLen = need;
  }

  /** One line in bytes [start, end), terminator excluded. Returns true when it was blank (a block boundary). */
  private processLine(b: Buffer, start: number, end: number, out: SseEvent[]): boolean {
    if (!this.sawLine) {
      this.sawLine = true;
      // A UTF-8 BOM at the very start of the stream is not part of the first line.
      if (end - start >= 3 && b[start] === 0xef && b[start + 1] === 0xbb && b[start + 2] === 0xbf) start += 3;
    }
    if (start === end) {
      this.dispatch(out);
      return true;
    }
    if (b[start] === COLON) {
      if (this.keepComments) out.push({ event: undefined, data: '', comment: b.toString('utf8', start + 1, end) });
      return false;
    }
    // Compare the field name in bytes: no decoding for fields we ignore.
    let valueStart: number;
    let isData: boolean;
    if (matches(b, start, end, DATA)) {
      isData = true;
      valueStart = start + 4;
    } else if (matches(b, start, end, EVENT)) {
      isData = false;
      valueStart = start + 5;
    } else {
      return false;
    }
    if (valueStart < end) {
      if (b[valueStart] !== COLON) return false; // e.g. "database: x" is another field
      valueStart++;
      if (valueStart < end && b[valueStart] === SPACE) valueStart++;
    }
    const value = valueStart < end ? b.toString('utf8', valueStart, end) : '';
    if (isData) {
      if (this.hasData) this.data += '\n' + value;
      else {
        this.data = value;
        this.hasData = true;
      }
    } else {
      this.eventName = value === '' ? undefined : value;
    }
    return false;
  }

  private dispatch(out: SseEvent[]): void {
    if (this.hasData || this.eventName !== undefined) {
      out.push({ event: this.eventName, data: this.data });
    }
    this.eventName = undefined;
    this.data = '';
    this.hasData = false;
  }
}

const DATA = Buffer.from('data', 'latin1');
const EVENT = Buffer.from('event', 'latin1');

function matches(b: Buffer, start: number, end: number, name: Buffer): boolean {
  const n = name.length;
  if (end - start < n) return false;
  for (let i = 0; i < n; i++) if (b[start + i] !== name[i]) return false;
  return true;
}

/** One SSE event as text; multi-line data becomes several `data:` lines. */
export function encodeSseEvent(event: string | undefined, data: string): string {
  const head = event === undefined ? '' : `event: ${event}\n`;
  // JSON.stringify output never holds a raw line break: skip the split on the common path.
  if (!/[\r\n]/.test(data)) return `${head}data: ${data}\n\n`;
  return `${head}data: ${data.split(/\r\n|\r|\n/).join('\ndata: ')}\n\n`;
}
