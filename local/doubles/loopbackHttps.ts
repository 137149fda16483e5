/**
 * An HTTPS server on a free loopback port for the doubles: each request goes
 * to an async handler, and a handler that throws answers 500 rather than
 * hanging the client.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type AsyncHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export async function startLoopbackHttps(tls: { certPem: string; keyPem: string }, handler: AsyncHandler): Promise<https.Server> {
  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    handler(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  // Idle keep-alive sockets live a minute, as behind Azure's front doors: with Node's 5 s default a busy
  // machine lets the server close a socket just as the client's shared agent reuses it (ECONNRESET).
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}

export function loopbackUrl(server: https.Server): string {
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
