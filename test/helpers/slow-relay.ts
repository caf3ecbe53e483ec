// A TCP relay that delays every chunk by a fixed time each way: a database a few milliseconds away
// (another host, a loaded machine), in front of the real Postgres the tests start. Bytes keep their
// order: every chunk waits the same time.
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';

export interface SlowRelay {
  port: number;
  close(): Promise<void>;
}

export async function startSlowRelay(targetPort: number, delayMs: number): Promise<SlowRelay> {
  const sockets = new Set<Socket>();
  const pipeSlowly = (from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, delayMs);
    });
    from.on('end', () => setTimeout(() => to.end(), delayMs));
    from.on('error', () => to.destroy());
    from.on('close', () => setTimeout(() => to.destroy(), delayMs));
  };
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    pipeSlowly(client, upstream);
    pipeSlowly(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the relay has no port');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
