// Builds the dashboard page: web/src/main.ts → dist/web/assets/app-<hash>.js and .css (minified),
// and dist/web/index.html pointing at them under /dashboard/assets/. Run by `npm run build`, so
// `npm install` (prepare) leaves a ready page; the server serves hashed files as immutable.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'dist', 'web');
const assets = join(out, 'assets');
rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const result = await build({
  entryPoints: { app: join(here, 'src', 'main.ts') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
  outdir: assets,
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const files = Object.keys(result.metafile.outputs).map((p) => p.split('/').pop());
const js = files.find((f) => f.endsWith('.js'));
const css = files.find((f) => f.endsWith('.css'));
if (!js || !css) throw new Error(`web build: expected one .js and one .css, got ${files.join(', ')}`);
const html = readFileSync(join(here, 'index.html'), 'utf8').replace('%JS%', `/dashboard/assets/${js}`).replace('%CSS%', `/dashboard/assets/${css}`);
writeFileSync(join(out, 'index.html'), html);

if (process.env.SPENDCAP_WEB_SIZES !== '0') {
  const size = (f) => {
    const b = readFileSync(join(assets, f));
    return `${f} ${(b.length / 1024).toFixed(1)} KiB (${(gzipSync(b).length / 1024).toFixed(1)} KiB gzip)`;
  };
  console.log(`web: ${size(js)}, ${size(css)}`);
}
