/**
 * Bytes held back until they can be forwarded (a partial SSE event waits for its end). Chunks are
 * kept as they came and handed out without re-concatenation, so an event of n bytes in k chunks
 * costs O(n), not O(n·k).
 */
export class ByteQueue {
  private parts: Buffer[] = [];
  private head = 0;
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.length += b.length;
  }

  /** Removes the first n bytes (at most all), giving them to `out` in order. */
  take(n: number, out: (b: Buffer) => void): void {
    let left = Math.min(n, this.length);
    while (left > 0) {
      const p = this.parts[this.head]!;
      if (p.length <= left) {
        this.parts[this.head++] = EMPTY;
        out(p);
        left -= p.length;
        this.length -= p.length;
      } else {
        out(p.subarray(0, left));
        this.parts[this.head] = p.subarray(left);
        this.length -= left;
        left = 0;
      }
    }
    if (this.head === this.parts.length) {
      this.parts = [];
      this.head = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);
