import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPServer } from 'smtp-server';
import { channelContract, sampleAlert } from '../../channel-contract.js';
import { createEmailChannel, parseSmtpUrl } from './index.js';

/** A real SMTP server on loopback that requires the user and password and keeps each message whole. */
async function smtp(opts: { failWith?: number } = {}): Promise<{ port: number; messages: string[]; auths: string[]; close(): Promise<void> }> {
  const messages: string[] = [];
  const auths: string[] = [];
  const server = new SMTPServer({
    authOptional: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      auths.push(`${auth.username}:${auth.password}`);
      if (auth.username === 'me@example.com' && auth.password === 'p@ss word') cb(null, { user: auth.username });
      else cb(new Error('bad credentials'));
    },
    onData(stream, _session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (opts.failWith) {
          const err = Object.assign(new Error('try again later'), { responseCode: opts.failWith });
          cb(err);
          return;
        }
        messages.push(Buffer.concat(chunks).toString('utf8'));
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.server.address() as AddressInfo).port;
  return { port, messages, auths, close: () => new Promise((r) => server.close(() => r())) };
}

const url = (port: number) => `smtp://me%40example.com:p%40ss%20word@127.0.0.1:${port}`;

channelContract(
  'email',
  async () => {
    const s = await smtp();
    return { channel: createEmailChannel({ name: 'mail', kind: 'email', budgets: [], events: [], settings: { smtp: url(s.port), to: 'ops@example.com' } }), delivered: () => s.messages, close: () => s.close() };
  },
  {
    failing: async () => {
      const s = await smtp({ failWith: 451 });
      return { channel: createEmailChannel({ name: 'mail', kind: 'email', budgets: [], events: [], settings: { smtp: url(s.port), to: 'ops@example.com' } }), delivered: () => s.messages, close: () => s.close() };
    },
  },
);

test('email: plain text and HTML parts, the dashboard link, the user and password from the smtp URL', async () => {
  const s = await smtp();
  try {
    const ch = createEmailChannel({ name: 'mail', kind: 'email', budgets: [], events: [], settings: { smtp: url(s.port), to: 'ops@example.com', from: 'spendcap@example.com' } });
    assert.equal((await ch.send(sampleAlert())).ok, true);
    await ch.stop();
    assert.deepEqual(s.auths, ['me@example.com:p@ss word']);
    const raw = s.messages[0]!;
    assert.match(raw, /^Subject: =\?UTF-8\?Q\?spendcap=3A_key_=22team-alpha=22_reached/m, 'the subject is the alert title (encoded)');
    assert.match(raw, /\r\nkey "team-alpha" reached \$15\.00 of \$15\.00: a request was refused\r\n/);
    assert.match(raw, /Content-Type: text\/plain/);
    assert.match(raw, /Content-Type: text\/html/);
    assert.match(raw, /href=3D"http:\/\/127\.0\.0\.1:8787\/dashboard"|href="http:\/\/127\.0\.0\.1:8787\/dashboard"/);
    assert.match(raw, /^To: ops@example\.com/m);
  } finally {
    await s.close();
  }
});

test('smtp URLs: smtps means TLS on 465 by default, smtp 587', () => {
  assert.deepEqual(parseSmtpUrl('smtps://u:p@mail.example.com'), { host: 'mail.example.com', port: 465, secure: true, user: 'u', pass: 'p' });
  assert.equal(parseSmtpUrl('smtp://u:p@mail.example.com').port, 587);
  assert.throws(() => parseSmtpUrl('http://x'), /smtp:\/\/ or smtps:\/\//);
});
