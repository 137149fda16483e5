/**
 * ManagedIdentityDouble: a TEST DOUBLE of the App Service / Azure Functions
 * managed-identity endpoint, the contract @azure/identity's
 * ManagedIdentityCredential (through MSAL) uses when IDENTITY_ENDPOINT and
 * IDENTITY_HEADER are set:
 *   GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<resource>[&client_id=<user-assigned>]
 *   header X-IDENTITY-HEADER: {IDENTITY_HEADER}
 *   200 { access_token, expires_on (Unix seconds, string), resource, token_type: "Bearer", client_id }
 * Tokens are minted by the caller (the local token server, as Entra mints real ones).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ManagedIdentityDoubleOptions {
  /** Client ID of the identity (system-assigned when requests name none). */
  clientId: string;
  issue(resource: string): Promise<string>;
  lifetimeSeconds?: number;
}

export class ManagedIdentityDouble {
  readonly header = randomBytes(16).toString('hex');
  requests = 0;
  readonly resources: string[] = [];

  private constructor(
    private readonly server: http.Server,
    private readonly options: ManagedIdentityDoubleOptions,
  ) {}

  static async start(options: ManagedIdentityDoubleOptions): Promise<ManagedIdentityDouble> {
    let instance: ManagedIdentityDouble | undefined;
    // Plain HTTP on loopback, as the real endpoint inside the App Service sandbox.
    const server = http.createServer((req, res) => {
      instance!.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    instance = new ManagedIdentityDouble(server, options);
    return instance;
  }

  /** What IDENTITY_ENDPOINT holds. */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/msi/token`;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.requests++;
    const url = new URL(req.url ?? '/', this.endpoint);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || url.pathname !== '/msi/token') return reply(404, { statusCode: 404, message: 'Not found' });
    if (req.headers['x-identity-header'] !== this.header)
      return reply(401, { statusCode: 401, message: 'Unauthorized: X-IDENTITY-HEADER is missing or wrong.' });
    if (url.searchParams.get('api-version') !== '2019-08-01') return reply(400, { statusCode: 400, message: 'api-version must be 2019-08-01' });
    const resource = url.searchParams.get('resource');
    if (!resource) return reply(400, { statusCode: 400, message: 'resource is required' });
    const requested = url.searchParams.get('client_id');
    if (requested && requested !== this.options.clientId) {
      return reply(400, { statusCode: 400, message: `No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.` });
    }
    this.resources.push(resource);
    const lifetime = this.options.lifetimeSeconds ?? 86_400;
    reply(200, {
      access_token: await this.options.issue(resource),
      expires_on: String(Math.floor(Date.now() / 1000) + lifetime),
      resource,
      token_type: 'Bearer',
      client_id: this.options.clientId,
    });
  }
}
