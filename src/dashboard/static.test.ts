import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { cacheControl, contentType, isHashedName, pickEncoding, StaticDir } from './static.js';

test('hashed build names are immutable; plain names are revalidated', () => {
  for (const n of ['app-VENYHBVI.css', 'app-LUPSX5FX.js', 'index-B3x9aQ7z.js', 'chunk.3f9a1c2e.js', 'fonts/inter-Ab12Cd34.woff2']) assert.equal(isHashedName(n), true, n);
  for (const n of ['index.html', 'app.js', 'favicon.ico', 'page-settings.js', 'README-notes.txt']) assert.equal(isHashedName(n), false, n);
  assert.equal(cacheControl('app-LUPSX5FX.js'), 'public, max-age=31536000, immutable');
  assert.equal(cacheControl('index.html'), 'no-cache');
});

test('content types by extension; unknown types are not served', () => {
  assert.equal(contentType('a/b.js'), 'text/javascript; charset=utf-8');
  assert.equal(contentType('x.CSS'), 'text/css; charset=utf-8');
  assert.equal(contentType('i.svg'), 'image/svg+xml');
  assert.equal(contentType('f.woff2'), 'font/woff2');
  assert.equal(contentType('secret.key'), null);
  assert.equal(contentType('Makefile'), null);
});

test('Accept-Encoding: brotli over gzip, q=0 means no', () => {
  assert.equal(pickEncoding('gzip, deflate, br'), 'br');
  assert.equal(pickEncoding('gzip'), 'gzip');
  assert.equal(pickEncoding('br;q=0, gzip;q=0.5'), 'gzip');
  assert.equal(pickEncoding('identity'), null);
  assert.equal(pickEncoding(undefined), null);
});

test('StaticDir serves files under its roots only, compressed once, and picks up a late build', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-static-'));
  try {
    mkdirSync(join(dir, 'assets'));
    const js = 'console.log("spendcap");\n'.repeat(100);
    writeFileSync(join(dir, 'assets', 'app-AB12CD34.js'), js);
    writeFileSync(join(dir, '.env'), 'SECRET=1');
    writeFileSync(join(dir, 'tiny.txt'), 'x');
    const s = new StaticDir([join(dir, 'assets'), dir]);
    const f = s.get('app-AB12CD34.js')!;
    assert.equal(f.type, 'text/javascript; charset=utf-8');
    assert.equal(f.cacheControl, 'public, max-age=31536000, immutable');
    assert.equal(gunzipSync(f.gzip!).toString(), js);
    assert.ok(f.br!.length < f.body.length);
    assert.equal(s.get('tiny.txt')!.gzip, null, 'tiny files are not worth compressing');
    for (const bad of ['../../etc/passwd', '.env', 'assets/../.env', '', 'a//b.js', 'nope.js']) assert.equal(s.get(bad), null, bad);
    assert.equal(s.get('late.js'), null);
    writeFileSync(join(dir, 'late.js'), 'ok');
    assert.equal(s.get('late.js')!.body.toString(), 'ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
