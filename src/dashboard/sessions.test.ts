import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireServerLock } from '../server/lock.js';
import { SqliteStore } from '../store/index.js';
import { browserBase, clearedCookie, dataDirId, exchangeLink, LINK_TTL_MS, newLink, parseCookies, recordServer, runningServerUrl, sessionCookie, sessionCookiePair, sessionFromCookie, signInUrl } from './sessions.js';

const withStore = async (fn: (store: SqliteStore, dir: string) => Promise<void>): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'spendcap-sessions-'));
  const store = new SqliteStore(dir);
  try {
    await fn(store, dir);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
};

test('parseCookies: first of a repeated name wins; junk is skipped', async () => {
  const c = parseCookies('a=1; spendcap_session=abc; junk; spendcap_session=later; b = 2 ');
  assert.equal(c.get('spendcap_session'), 'abc');
  assert.equal(c.get('b'), '2');
  assert.equal(parseCookies(undefined).size, 0);
});

test('cookies are HttpOnly, SameSite=Strict, whole-site, named for the port, valued with the data dir\'s id', async () => {
  await withStore(async (store) => {
    const id = await dataDirId(store);
    assert.match(id, /^[A-Za-z0-9_-]{12}$/);
    assert.equal((await dataDirId(store)), id, 'made once');
    assert.equal((await sessionCookie(store, 8787, 'xyz', 60)), `spendcap_session_8787=${id}.xyz; HttpOnly; SameSite=Strict; Path=/; Max-Age=60`);
    assert.match(clearedCookie(9000), /^spendcap_session_9000=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0$/);
  });
});

test('a session cookie counts only on the port it was issued for, and only if this data dir issued it', async () => {
  const dirB = mkdtempSync(join(tmpdir(), 'spendcap-sessions-b-'));
  const storeB = new SqliteStore(dirB);
  try {
    await withStore(async (store) => {
      const now = 1_800_000_000_000;
      const s = (await exchangeLink(store, (await newLink(store, now)).token, now))!;
      assert.ok((await sessionFromCookie(store, await sessionCookiePair(store, 8787, s.sessionId), now, 8787)));
      assert.equal((await sessionFromCookie(store, await sessionCookiePair(store, 8787, s.sessionId), now, 8788)), null, 'another port\'s cookie');
      assert.equal((await sessionFromCookie(store, `spendcap_session=${s.sessionId}`, now, 8787)), null, 'the old, unscoped name');
      // Another spendcap's cookie on this port (its data dir was on 8787 before): refused on the id alone.
      assert.equal((await sessionFromCookie(store, await sessionCookiePair(storeB, 8787, s.sessionId), now, 8787)), null, 'issued by another data dir');
      await recordServer(store, 'http://127.0.0.1:8787');
      assert.ok((await sessionFromCookie(store, await sessionCookiePair(store, 8787, s.sessionId), now)), 'the port defaults to the running server\'s');
    });
  } finally {
    await storeB.close();
    rmSync(dirB, { recursive: true, force: true });
  }
});

test('sign-in URLs carry the token in the fragment, on a loopback name', async () => {
  assert.equal(signInUrl('http://127.0.0.1:8787/', 'sct-a_b'), 'http://127.0.0.1:8787/dashboard#token=sct-a_b');
  assert.equal(browserBase('http://0.0.0.0:9000'), 'http://127.0.0.1:9000');
  assert.equal(browserBase('http://[::]:9000'), 'http://127.0.0.1:9000');
  assert.equal(browserBase('http://192.168.1.5:9000'), 'http://192.168.1.5:9000');
});

test('a link works once, before it expires; the session then authenticates the cookie', async () => {
  await withStore(async (store) => {
    const now = 1_800_000_000_000;
    const { token, expiresAt } = await newLink(store, now);
    assert.equal(expiresAt, now + LINK_TTL_MS);
    const s = (await exchangeLink(store, token, now + 1000))!;
    assert.ok(s);
    assert.equal((await exchangeLink(store, token, now + 2000)), null, 'single use');
    const cookie = await sessionCookiePair(store, 8787, s.sessionId);
    const found = (await sessionFromCookie(store, `other=1; ${cookie}`, now + 3000, 8787))!;
    assert.equal(found.expiresAt, s.expiresAt);
    assert.equal((await sessionFromCookie(store, cookie, s.expiresAt, 8787)), null, 'expired session');
    assert.equal((await sessionFromCookie(store, await sessionCookiePair(store, 8787, 'not-a-session-id-at-all-123'), now, 8787)), null);
    await store.sessions.removeSession(found.idHash);
    assert.equal((await sessionFromCookie(store, cookie, now + 4000, 8787)), null, 'signed out');

    const late = await newLink(store, now);
    assert.equal((await exchangeLink(store, late.token, now + LINK_TTL_MS)), null, 'expired link');
    assert.equal((await exchangeLink(store, late.token, now)), null, 'an expired attempt still uses it up');
    for (const bad of [undefined, 42, '', 'sc-abc', 'sct-' + 'x'.repeat(300)]) assert.equal((await exchangeLink(store, bad, now)), null);
  });
});

test('runningServerUrl: only while a server holds the lock and recorded its URL', async () => {
  await withStore(async (store, dir) => {
    assert.equal((await runningServerUrl(dir, store)), null, 'no lock');
    await recordServer(store, 'http://0.0.0.0:4242');
    assert.equal((await runningServerUrl(dir, store)), null, 'a URL recorded by a server that is gone');
    const release = acquireServerLock(dir);
    try {
      assert.equal((await runningServerUrl(dir, store)), 'http://127.0.0.1:4242');
      await recordServer(store, 'http://127.0.0.1:4243', 999_999_999);
      assert.equal((await runningServerUrl(dir, store)), null, 'URL of another (dead) server');
    } finally {
      release();
    }
    assert.equal((await runningServerUrl(dir, store)), null, 'lock released');
  });
});
