// `spendcap alerts …` through the real CLI entry: add, list, test (prints the delivery outcome),
// rm; channel secrets are encrypted at rest (not in the SQLite file as plain text).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addKey, cli, tempDataDir } from './helpers/spendcap.js';

describe('spendcap alerts (CLI)', () => {
  let dir: string;
  let url: string;
  let status = 200;
  const got: string[] = [];
  const rx = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (status === 200) got.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(status).end();
    });
  });
  before(async () => {
    dir = tempDataDir();
    await new Promise<void>((r) => rx.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(rx.address() as AddressInfo).port}/hook`;
    await addKey(dir, 'work', 15);
  });
  after(async () => {
    await new Promise((r) => rx.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test('add, list, test, rm; secrets never stored in plain text', async () => {
    const secret = 'whsec-0123456789abcdef-unique';
    const smtpPass = 'smtp-pass-unique-987';
    const a = await cli(dir, ['alerts', 'add', 'webhook', '--url', url, '--secret', secret, '--budget', 'work', '--events', 'threshold,block']);
    assert.equal(a.code, 0, a.err);
    assert.match(a.out, /Added webhook alerts "webhook" \(work; threshold,block\)/);
    const e = await cli(dir, ['alerts', 'add', 'email', '--name', 'mail', '--smtp', `smtp://me:${smtpPass}@127.0.0.1:9`, '--to', 'ops@example.com']);
    assert.equal(e.code, 0, e.err);
    assert.equal((await cli(dir, ['alerts', 'add', 'webhook', '--url', url])).code, 1, 'a second channel of the same name is refused');
    assert.equal((await cli(dir, ['alerts', 'add', 'webhook', '--name', 'x', '--url', url, '--events', 'nope'])).code, 2);
    assert.equal((await cli(dir, ['alerts', 'add', 'webhook', '--name', 'y', '--url', url, '--budget', 'missing'])).code, 1);

    const list = JSON.parse((await cli(dir, ['alerts', 'list', '--json'])).out) as Array<{ name: string; kind: string; budgets: string[]; events: string[]; settings: Record<string, string> }>;
    assert.deepEqual(list.map((c) => [c.name, c.kind, c.budgets, c.events]), [['webhook', 'webhook', ['work'], ['threshold', 'block']], ['mail', 'email', [], []]]);
    assert.deepEqual(list[0]!.settings, { url, secrets: 'encrypted' });
    assert.deepEqual(list[1]!.settings, { to: 'ops@example.com', secrets: 'encrypted' });

    const t = await cli(dir, ['alerts', 'test', 'webhook']);
    assert.equal(t.code, 0, t.err);
    assert.equal(t.out, '✓ Test alert delivered through "webhook" (webhook).\n');
    assert.equal((JSON.parse(got[0]!) as { kind: string }).kind, 'test');
    status = 500;
    const bad = await cli(dir, ['alerts', 'test', 'webhook']);
    assert.equal(bad.code, 1);
    assert.equal(bad.err, '✗ Test alert through "webhook" (webhook) failed: webhook answered HTTP 500\n');
    const mail = await cli(dir, ['alerts', 'test', 'mail']);
    assert.equal(mail.code, 1);
    assert.match(mail.err, /failed: email not sent: ESOCKET connect ECONNREFUSED 127\.0\.0\.1:9/);

    const db = ['spendcap.db', 'spendcap.db-wal'].map((f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f)).toString('latin1') : '')).join('');
    assert.ok(db.includes(url), 'the check can see plain settings (the URL is stored as it is)');
    assert.ok(!db.includes(secret), 'the webhook secret is not in the store as plain text');
    assert.ok(!db.includes(smtpPass), 'the SMTP password is not in the store as plain text');

    assert.equal((await cli(dir, ['alerts', 'rm', 'webhook'])).code, 0);
    assert.equal((await cli(dir, ['alerts', 'rm', 'webhook'])).code, 1);
    assert.match((await cli(dir, ['alerts', 'slack-manifest'])).out, /"socket_mode_enabled": true/);
    assert.match((await cli(dir, ['alerts', 'thresholds', 'work', '60,90'])).out, /"work" alerts at 60,90%/);
  });
});
