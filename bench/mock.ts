// A lean Anthropic Messages upstream for the benchmark: a pre-built JSON reply with usage, or a
// paced SSE stream (message_start with usage, content_block_start, N text deltas on an absolute
// schedule, content_block_stop, message_delta with usage, message_stop).
//
// Run as a child process: `node dist/bench/mock.js PORT`. Knobs are set between phases with
// POST /__config {"delayMs", "chunks", "intervalMs"}; GET /__stats counts what it served, so the
// harness can check that every target really reached it.

import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { INPUT_TOKENS } from './common.js';
import type { MockConfig, MockStats } from './common.js';

const cfg: MockConfig = { delayMs: 0, chunks: 10, intervalMs: 0 };
const stats: MockStats = { messages: 0, streams: 0, open: 0, lastApiKey: null, lastPath: null };
let seq = 0;

function ev(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

let jsonReply = Buffer.alloc(0);
/** The OpenAI Chat Completions reply: `chunks` output tokens (5 in the ratio run). */
let chatReply = Buffer.alloc(0);
let deltas: Buffer[] = [];
let tail = Buffer.alloc(0);
function rebuild(): void {
  const text = Array.from({ length: cfg.chunks }, (_, k) => `c${k + 1} `).join('');
  jsonReply = Buffer.from(
    JSON.stringify({
      id: 'msg_bench',
      type: 'message',
      role: 'assistant',
      model: 'claude-haiku-4-5',
      content: [{ type: 'text', text }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: INPUT_TOKENS, output_tokens: cfg.chunks, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    }),
  );
  chatReply = Buffer.from(
    JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion',
      created: 1_767_225_600,
      model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
      usage: { prompt_tokens: INPUT_TOKENS, completion_tokens: cfg.chunks, total_tokens: INPUT_TOKENS + cfg.chunks },
    }),
  );
  deltas = Array.from({ length: cfg.chunks }, (_, k) =>
    Buffer.from(ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `c${k + 1} ` } })),
  );
  tail = Buffer.from(
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }) +
      ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: cfg.chunks } }) +
      ev('message_stop', { type: 'message_stop' }),
  );
}
rebuild();

function head(id: string): Buffer {
  return Buffer.from(
    ev('message_start', {
      type: 'message_start',
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model: 'claude-haiku-4-5',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: INPUT_TOKENS, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    }) + ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  );
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(parts.length === 1 ? parts[0]! : Buffer.concat(parts)));
    req.on('error', reject);
  });
}

const STREAM_RE = /"stream"\s*:\s*true/;

function stream(res: ServerResponse, id: string): void {
  stats.streams++;
  stats.open++;
  const c = { chunks: cfg.chunks, intervalMs: cfg.intervalMs, deltas, tail };
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': id });
  res.write(head(id));
  const t0 = performance.now();
  let k = 0;
  let timer: NodeJS.Timeout | null = null;
  let done = false;
  const end = (): void => {
    if (done) return;
    done = true;
    stats.open--;
  };
  res.on('close', () => {
    if (timer) clearTimeout(timer);
    end();
  });
  const next = (): void => {
    timer = null;
    if (c.intervalMs === 0) {
      for (const d of c.deltas) res.write(d);
      res.end(c.tail);
      end();
      return;
    }
    if (k < c.chunks) {
      res.write(c.deltas[k]!);
      k++;
    }
    if (k >= c.chunks) {
      res.end(c.tail);
      end();
      return;
    }
    // Absolute schedule: delta k+1 is due at t0 + (k+1)·interval, so timer drift does not add up.
    timer = setTimeout(next, Math.max(0, t0 + (k + 1) * c.intervalMs - performance.now()));
  };
  if (c.intervalMs === 0) next();
  else timer = setTimeout(next, Math.max(0, t0 + c.intervalMs - performance.now()));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  if (url === '/__stats') {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  const body = await readAll(req);
  if (url === '/__config' && req.method === 'POST') {
    Object.assign(cfg, JSON.parse(body.toString('utf8')) as Partial<MockConfig>);
    rebuild();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(cfg));
    return;
  }
  const path = url.split('?')[0]!;
  const chat = path.endsWith('/chat/completions');
  if (req.method !== 'POST' || !(chat || path.endsWith('/messages'))) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"type":"error","error":{"type":"not_found_error","message":"mock: no such route"}}');
    return;
  }
  stats.messages++;
  stats.lastPath = url;
  const key = chat ? req.headers.authorization?.replace(/^Bearer /, '') : req.headers['x-api-key'];
  stats.lastApiKey = typeof key === 'string' ? key : null;
  // The flag is found in the raw bytes: the mock must not cost more for big prompts than the wire does.
  const isStream = STREAM_RE.test(body.toString('latin1'));
  const id = `req_bench_${++seq}`;
  const reply = (): void => {
    if (chat) {
      // JSON only: the ratio run's OpenAI leg measures the request path, streams are Anthropic's.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': chatReply.length, 'x-request-id': id });
      res.end(chatReply);
      return;
    }
    if (isStream) {
      stream(res, id);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': jsonReply.length, 'request-id': id });
    res.end(jsonReply);
  };
  if (cfg.delayMs > 0) setTimeout(reply, cfg.delayMs);
  else reply();
}

function main(): void {
  const port = Number(process.argv[2] ?? 0);
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;
  server.listen(port, '127.0.0.1', () => {
    process.send?.({ ready: true });
  });
  // Stops with its parent.
  process.on('disconnect', () => process.exit(0));
}

main();
