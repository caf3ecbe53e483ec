// Static files of the web build (dist/web): content types, cache rules, precompressed variants.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentType(path: string): string | null {
  return TYPES[extname(path).toLowerCase()] ?? null;
}

/** Text-like types are worth compressing; images and fonts already are. */
function compressible(type: string): boolean {
  return /^(text\/|application\/(json|manifest\+json)|image\/svg)/.test(type);
}

/**
 * A build names a file after its content ("app-VENYHBVI.css", "index-B3x9aQ7z.js", "app.3f9a1c2e.css"): such a file never
 * changes under its name, so browsers may keep it a year. Anything else is revalidated.
 */
export function isHashedName(fileName: string): boolean {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  const m = /[.-]([A-Za-z0-9_]{8,})\.[a-z0-9]+$/.exec(base);
  if (m === null) return false;
  // A hash has a digit, mixed case, or is all capitals (esbuild's base32); a plain word like "-settings" is none of these.
  const h = m[1]!;
  return /[0-9]/.test(h) || /^[A-Z]+$/.test(h) || (/[a-z]/.test(h) && /[A-Z]/.test(h));
}

export function cacheControl(fileName: string): string {
  return isHashedName(fileName) ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/** The encoding to send for an Accept-Encoding header: brotli over gzip, q=0 respected. */
export function pickEncoding(acceptEncoding: string | undefined): 'br' | 'gzip' | null {
  if (!acceptEncoding) return null;
  const ok = new Set<string>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    if (name) ok.add(name.trim());
  }
  if (ok.has('br')) return 'br';
  if (ok.has('gzip')) return 'gzip';
  return null;
}

export interface StaticFile {
  type: string;
  body: Buffer;
  br: Buffer | null;
  gzip: Buffer | null;
  cacheControl: string;
}

/**
 * Files under one root, read and compressed once on first request (the build does not change
 * while the server runs). Paths that leave the root, dotfiles and unknown types are not served.
 */
export class StaticDir {
  readonly #cache = new Map<string, StaticFile>();
  constructor(readonly roots: readonly string[]) {}

  get(relPath: string): StaticFile | null {
    const hit = this.#cache.get(relPath);
    if (hit !== undefined) return hit;
    // Misses are not remembered: a build finished after the start is picked up.
    const file = this.#load(relPath);
    if (file !== null) this.#cache.set(relPath, file);
    return file;
  }

  #load(relPath: string): StaticFile | null {
    if (relPath === '' || relPath.split('/').some((seg) => seg === '' || seg.startsWith('.'))) return null;
    const type = contentType(relPath);
    if (type === null) return null;
    for (const root of this.roots) {
      const base = resolve(root);
      const full = resolve(join(base, relPath));
      if (!full.startsWith(base + sep)) return null;
      if (!existsSync(full) || !statSync(full).isFile()) continue;
      const body = readFileSync(full);
      const squeeze = compressible(type) && body.length >= 512;
      return {
        type,
        body,
        br: squeeze ? brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 9 } }) : null,
        gzip: squeeze ? gzipSync(body, { level: 9 }) : null,
        cacheControl: cacheControl(relPath),
      };
    }
    return null;
  }
}
