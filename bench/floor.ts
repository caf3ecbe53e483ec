// The floor: the least a Node proxy can do. node:http in, node:http out through a keep-alive
// agent, bodies piped both ways untouched. No auth, no parsing, no metering.
//
// Run as a child process: `node dist/bench/floor.js PORT UPSTREAM_PORT`.

import { Agent, createServer, request } from 'node:http';

function main(): void {
  const port = Number(process.argv[2]);
  const upstreamPort = Number(process.argv[3]);
  const agent = new Agent({ keepAlive: true, maxSockets: 2048, maxFreeSockets: 2048, scheduling: 'lifo' });
  const server = createServer((req, res) => {
    const up = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.setNoDelay(true);
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`floor: ${err.message}`);
    });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.requestTimeout = 0;
  server.listen(port, '127.0.0.1', () => process.send?.({ ready: true }));
  process.on('disconnect', () => process.exit(0));
  // A clean exit, so `--cpu-prof` can write its profile.
  process.on('SIGTERM', () => process.exit(0));
}

main();
