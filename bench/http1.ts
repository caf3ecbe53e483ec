// A lean HTTP/1.1 keep-alive client for the load generator. On this 2-core machine the
// generator shares the CPU with the target, so it must cost as little as possible: requests
// are pre-encoded bytes, responses are parsed just enough (status, content-length or chunked)
// and their bodies handed over as they arrive. No pipelining: one request per connection at a time.

import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface Http1Result {
  status: number;
  /** performance.now() when the status line and headers were complete. */
  headersAt: number;
  /** performance.now() when the first body byte arrived (= headersAt for an empty body). */
  firstByteAt: number;
  doneAt: number;
  bodyBytes: number;
}

/** Called with each piece of decoded body as it arrives, with its arrival time. */
export type OnBody = (chunk: Buffer, at: number) => void;

/** Pre-encodes a POST; the same bytes are sent for every request of a job. */
export function encodeRequest(host: string, path: string, headers: Record<string, string>, body: string): Buffer {
  const b = Buffer.from(body, 'utf8');
  let head = `POST ${path} HTTP/1.1\r\nhost: ${host}\r\ncontent-length: ${b.length}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  return Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), b]);
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

interface Pending {
  bytes: Buffer;
  onBody: OnBody | undefined;
  resolve: (r: Http1Result) => void;
  reject: (e: Error) => void;
  /** Sent on a reused connection that closed before any byte came back: worth one more try. */
  retried: boolean;
  deadline: number;
}

const enum State {
  Idle,
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailer,
  UntilClose,
}

class Conn {
  readonly socket: Socket;
  connected = false;
  closed = false;
  used = false;
  current: Pending | null = null;
  private state = State.Idle;
  private head: Buffer | null = null;
  private remaining = 0;
  private status = 0;
  private headersAt = 0;
  private firstByteAt = 0;
  private bodyBytes = 0;
  private gotBytes = false;
  private lineBuf = '';

  constructor(
    port: number,
    private readonly pool: Http1Pool,
  ) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => {
      this.connected = true;
      if (this.current) this.socket.write(this.current.bytes);
    });
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', () => this.onClose());
    this.socket.on('close', () => this.onClose());
  }

  send(p: Pending): void {
    this.current = p;
    this.state = State.Head;
    this.head = null;
    this.bodyBytes = 0;
    this.gotBytes = false;
    if (this.connected) this.socket.write(p.bytes);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    const p = this.current;
    this.current = null;
    if (p) {
      if (this.state === State.UntilClose) {
        this.finish(p, performance.now());
      } else if (!this.gotBytes && this.used && !p.retried) {
        // A keep-alive connection the server had just closed: resend once on a fresh one.
        p.retried = true;
        this.pool.requeue(p);
      } else {
        p.reject(new Error(this.gotBytes ? 'connection closed mid-response' : 'connection closed before a response'));
      }
    }
    this.pool.dropped(this);
  }

  fail(err: Error): void {
    const p = this.current;
    this.current = null;
    this.closed = true;
    this.socket.destroy();
    if (p) p.reject(err);
    this.pool.dropped(this);
  }

  private finish(p: Pending, at: number): void {
    this.state = State.Idle;
    this.current = null;
    this.used = true;
    p.resolve({ status: this.status, headersAt: this.headersAt, firstByteAt: this.firstByteAt || at, doneAt: at, bodyBytes: this.bodyBytes });
    if (!this.closed) this.pool.released(this);
  }

  private body(p: Pending, chunk: Buffer, at: number): void {
    if (chunk.length === 0) return;
    if (this.bodyBytes === 0) this.firstByteAt = at;
    this.bodyBytes += chunk.length;
    p.onBody?.(chunk, at);
  }

  private onData(d: Buffer): void {
    const p = this.current;
    if (!p) return;
    const at = performance.now();
    this.gotBytes = true;
    let buf = d;
    if (this.state === State.Head) {
      const all: Buffer = this.head ? Buffer.concat([this.head, d]) : d;
      const end = all.indexOf(CRLFCRLF);
      if (end === -1) {
        this.head = all;
        return;
      }
      this.head = null;
      const text = all.toString('latin1', 0, end);
      this.status = Number(text.slice(9, 12));
      this.headersAt = at;
      this.firstByteAt = 0;
      const lower = text.toLowerCase();
      const cl = /\r\ncontent-length:\s*(\d+)/.exec(lower);
      if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) {
        this.state = State.ChunkSize;
        this.lineBuf = '';
      } else if (cl) {
        this.remaining = Number(cl[1]);
        this.state = State.Length;
      } else if (this.status === 204 || this.status === 304) {
        this.remaining = 0;
        this.state = State.Length;
      } else {
        this.state = State.UntilClose;
      }
      buf = all.subarray(end + 4);
      if (this.state === State.Length && this.remaining === 0) {
        this.finish(p, at);
        return;
      }
    }
    let pos = 0;
    while (pos < buf.length || this.state === State.Length) {
      switch (this.state) {
        case State.UntilClose:
          this.body(p, buf.subarray(pos), at);
          return;
        case State.Length: {
          const n = Math.min(this.remaining, buf.length - pos);
          this.body(p, buf.subarray(pos, pos + n), at);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.finish(p, at);
            return;
          }
          return;
        }
        case State.ChunkSize:
        case State.ChunkDataEnd:
        case State.Trailer: {
          const nl = buf.indexOf(0x0a, pos);
          if (nl === -1) {
            this.lineBuf += buf.toString('latin1', pos);
            return;
          }
          const line = (this.lineBuf + buf.toString('latin1', pos, nl)).replace(/\r$/, '');
          this.lineBuf = '';
          pos = nl + 1;
          if (this.state === State.ChunkDataEnd) {
            this.state = State.ChunkSize;
          } else if (this.state === State.Trailer) {
            if (line === '') {
              this.finish(p, at);
              return;
            }
          } else {
            const size = parseInt(line, 16);
            if (Number.isNaN(size)) {
              this.fail(new Error(`bad chunk size line ${JSON.stringify(line)}`));
              return;
            }
            if (size === 0) this.state = State.Trailer;
            else {
              this.remaining = size;
              this.state = State.ChunkData;
            }
          }
          break;
        }
        case State.ChunkData: {
          const n = Math.min(this.remaining, buf.length - pos);
          this.body(p, buf.subarray(pos, pos + n), at);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          break;
        }
        default:
          return;
      }
    }
  }
}

/** Up to `connections` keep-alive connections to one port; requests beyond that wait in a queue. */
export class Http1Pool {
  private readonly idle: Conn[] = [];
  private readonly all = new Set<Conn>();
  private readonly queue: Pending[] = [];
  private readonly sweeper: NodeJS.Timeout;
  private closing = false;

  constructor(
    private readonly port: number,
    private readonly connections: number,
    private readonly timeoutMs: number,
  ) {
    // Requests past their deadline fail and take their connection down with them.
    this.sweeper = setInterval(() => {
      const now = performance.now();
      for (const c of this.all) if (c.current && c.current.deadline < now) c.fail(new Error(`timeout after ${this.timeoutMs} ms`));
      while (this.queue.length > 0 && this.queue[0]!.deadline < now) this.queue.shift()!.reject(new Error(`timeout after ${this.timeoutMs} ms (queued)`));
    }, 100);
  }

  get size(): number {
    return this.all.size;
  }

  request(bytes: Buffer, onBody?: OnBody): Promise<Http1Result> {
    return new Promise((resolve, reject) => {
      const p: Pending = { bytes, onBody, resolve, reject, retried: false, deadline: performance.now() + this.timeoutMs };
      this.dispatch(p);
    });
  }

  requeue(p: Pending): void {
    this.dispatch(p);
  }

  private dispatch(p: Pending): void {
    if (this.closing) {
      p.reject(new Error('pool closed'));
      return;
    }
    const c = this.idle.pop();
    if (c) c.send(p);
    else if (this.all.size < this.connections) {
      const n = new Conn(this.port, this);
      this.all.add(n);
      n.send(p);
    } else this.queue.push(p);
  }

  released(c: Conn): void {
    const next = this.queue.shift();
    if (next) c.send(next);
    else this.idle.push(c);
  }

  dropped(c: Conn): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i !== -1) this.idle.splice(i, 1);
    const next = this.queue.shift();
    if (next) this.dispatch(next);
  }

  close(): void {
    this.closing = true;
    clearInterval(this.sweeper);
    for (const p of this.queue.splice(0)) p.reject(new Error('pool closed'));
    for (const c of this.all) c.socket.destroy();
    this.all.clear();
    this.idle.length = 0;
  }
}
