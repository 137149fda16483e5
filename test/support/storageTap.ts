/**
 * A transparent HTTP proxy in front of Azurite's blob endpoint, so a test can see
 * what the relay asked storage for: every request (method and path, as sent), and
 * how many downloads (GET responses still streaming) were open at once. Shared-key
 * signatures do not cover the host, so a client pointed at the tap works unchanged.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TappedRequest {
  method: string;
  /** The request target as sent: percent-encoded path and query. */
  url: string;
}

export class StorageTap {
  readonly requests: TappedRequest[] = [];
  /** The most GET responses that were streaming at the same moment. */
  peakOpenDownloads = 0;
  /** While set, requests under this container are answered with this status instead of forwarded (storage down for it). */
  fault?: { account: string; container: string; status: number };
  private openDownloads = 0;

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {}

  /** Starts a tap forwarding to Azurite's blob service on `blobPort`. */
  static async start(blobPort: number): Promise<StorageTap> {
    let tap!: StorageTap;
    const server = http.createServer((request, response) => tap.forward(request, response, blobPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tap = new StorageTap(server, (server.address() as AddressInfo).port);
    return tap;
  }

  /** `connectionString` with its BlobEndpoint pointed at the tap. */
  connectionString(connectionString: string): string {
    return connectionString.replace(/BlobEndpoint=http:\/\/127\.0\.0\.1:\d+/, `BlobEndpoint=http://127.0.0.1:${this.port}`);
  }

  /** Requests whose path is under `/<account>/<container>/`. */
  requestsUnder(account: string, container: string): TappedRequest[] {
    return this.requests.filter((request) => request.url.startsWith(`/${account}/${container}/`));
  }

  reset(): void {
    this.requests.length = 0;
    this.peakOpenDownloads = 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private forward(request: http.IncomingMessage, response: http.ServerResponse, blobPort: number): void {
    this.requests.push({ method: request.method ?? '', url: request.url ?? '' });
    const fault = this.fault;
    if (fault && /^\/[^/?]+\/[^/?]+/.exec(request.url ?? '')?.[0] === `/${fault.account}/${fault.container}`) {
      request.resume();
      response.writeHead(fault.status, { 'content-type': 'application/xml', 'x-ms-error-code': 'ServerBusy' });
      response.end('<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>injected by the storage tap</Message></Error>');
      return;
    }
    const download = request.method === 'GET';
    let counted = false;
    const upstream = http.request({ host: '127.0.0.1', port: blobPort, method: request.method, path: request.url, headers: request.headers }, (reply) => {
      if (download) {
        counted = true;
        this.openDownloads++;
        this.peakOpenDownloads = Math.max(this.peakOpenDownloads, this.openDownloads);
      }
      response.writeHead(reply.statusCode ?? 502, reply.headers);
      reply.pipe(response);
    });
    response.once('close', () => {
      if (counted) this.openDownloads--;
      counted = false;
      upstream.destroy();
    });
    upstream.once('error', () => response.destroy());
    request.pipe(upstream);
  }
}
