import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import type { Socket } from 'node:net';
import { AdmissionPacer } from './admission-pacer.js';

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/**
 * A socket with bytes already waiting in it, then five admissions of 2 ms each in the same loop turn:
 * the order in which the admissions and the socket's read happen.
 */
async function burstBesideWaitingBytes(pacer: AdmissionPacer): Promise<string[]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  const [peer] = (await once(server, 'connection')) as [Socket];
  await once(client, 'connect');
  const order: string[] = [];
  const read = once(client, 'data').then(() => order.push('read'));
  // On loopback the bytes are in the client's socket when write returns; the loop reads them at its next poll.
  peer.write('x');
  const admissions = Array.from({ length: 5 }, async (_, i) => {
    const wait = pacer.turn();
    if (wait) await wait;
    spin(2);
    order.push(`admit ${i}`);
  });
  await Promise.all([...admissions, read]);
  client.destroy();
  peer.destroy();
  server.close();
  return order;
}

test('a lone admission goes on at once', () => {
  assert.equal(new AdmissionPacer().turn(), null);
});

test("a burst's admissions leave the loop room to read a socket between them, in their order", async () => {
  const paced = await burstBesideWaitingBytes(new AdmissionPacer(1));
  assert.deepEqual(
    paced.filter((s) => s !== 'read'),
    ['admit 0', 'admit 1', 'admit 2', 'admit 3', 'admit 4'],
  );
  assert.ok(paced.indexOf('read') < paced.indexOf('admit 4'), `the socket was read only after the whole burst: ${paced.join(', ')}`);
  // Without the pacer's budget the whole burst runs first, and the bytes wait.
  const unpaced = await burstBesideWaitingBytes(new AdmissionPacer(Infinity));
  assert.equal(unpaced.at(-1), 'read');
});

test('admissions within the budget of one turn are not deferred', async () => {
  const pacer = new AdmissionPacer(50);
  const waits = Array.from({ length: 10 }, () => pacer.turn());
  assert.deepEqual(waits, Array(10).fill(null));
  assert.equal(pacer.waiting, 0);
  await new Promise((r) => setImmediate(r));
});
