import type { IncomingMessage } from 'node:http';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import type { BrotliOptions, ZlibOptions } from 'node:zlib';

const DECODERS: Readonly<Record<string, (b: Buffer, o: ZlibOptions & BrotliOptions, cb: (err: Error | null, out: Buffer) => void) => void>> = {
  gzip: gunzip,
  'x-gzip': gunzip,
  deflate: inflate,
  br: brotliDecompress,
};

/** A body the client could not have meant: an encoding spendcap does not decode, or bytes that are not in it. */
export class BodyEncodingError extends Error {
  readonly code = 'E_BAD_REQUEST';
}

/**
 * The whole request body, decoded when the client compressed it (content-encoding gzip, deflate or
 * br), refusing past the limit (compressed or not) without buffering the excess.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | BodyEncodingError> {
  const raw = await readRawBody(req, limit);
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (raw === 'too-large' || encoding === 'identity' || encoding === '') return raw;
  const decode = DECODERS[encoding];
  if (decode === undefined) return new BodyEncodingError(`content-encoding "${encoding.slice(0, 40)}" is not supported; send the body as it is, or gzip, deflate or br`);
  return new Promise((resolve) => {
    decode(raw, { maxOutputLength: limit }, (err, out) => {
      if (err === null) resolve(out);
      else if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') resolve('too-large');
      else resolve(new BodyEncodingError(`the body is not valid ${encoding}: ${err.message}`));
    });
  });
}

function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      resolve('too-large');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(over ? 'too-large' : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
