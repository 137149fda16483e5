/**
 * GraphDouble: a TEST DOUBLE of the Microsoft Graph v1.0 endpoints rotation
 * uses, with the documented request and response shapes:
 *   POST /v1.0/applications(appId='{appId}')/addPassword  { passwordCredential: { displayName, endDateTime } }
 *        → 200 passwordCredential { customKeyIdentifier, displayName, endDateTime, hint, keyId, secretText, startDateTime }
 *   POST /v1.0/applications(appId='{appId}')/removePassword  { keyId } → 204
 *   GET  /v1.0/applications(appId='{appId}')?$select=passwordCredentials → { passwordCredentials: [... secretText null] }
 *   errors: { error: { code, message, innerError } }; 403 Authorization_RequestDenied without
 *   Application.ReadWrite.OwnedBy or when the caller does not own the application.
 * Bearer tokens are checked by the caller's verifier (the local token server's keys).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loopbackUrl, startLoopbackHttps } from '../../local/doubles/loopbackHttps';

export const OWNED_BY_PERMISSION = 'Application.ReadWrite.OwnedBy';

export interface GraphDoubleOptions {
  tls: { certPem: string; keyPem: string };
  appId: string;
  /** Claims of a valid token for this Graph, or undefined. */
  verifyToken(token: string, audience: string): Promise<Record<string, unknown> | undefined>;
  /** Application ids that own the application (the app itself, for rotation). */
  owners: string[];
  onAddPassword?(secret: string): void;
  onRemovePassword?(secret: string): void;
}

interface StoredPassword {
  keyId: string;
  displayName: string;
  hint: string;
  startDateTime: string;
  endDateTime: string;
  secret: string;
}

export class GraphDouble {
  addCalls = 0;
  removeCalls = 0;
  private readonly passwords: StoredPassword[] = [];
  private readonly failures: Array<{ status: number; code: string; message: string }> = [];

  private constructor(
    private readonly server: https.Server,
    private readonly options: GraphDoubleOptions,
  ) {}

  static async start(options: GraphDoubleOptions): Promise<GraphDouble> {
    let instance: GraphDouble | undefined;
    const server = await startLoopbackHttps(options.tls, (req, res) => instance!.handle(req, res));
    instance = new GraphDouble(server, options);
    return instance;
  }

  get url(): string {
    return loopbackUrl(this.server);
  }

  /** A client secret that exists already (created in the portal). */
  seedPassword(secret: string, endDateTime: Date, displayName = 'created in the portal'): string {
    const keyId = randomUUID();
    this.passwords.push({
      keyId,
      displayName,
      hint: secret.slice(0, 3),
      startDateTime: new Date().toISOString(),
      endDateTime: endDateTime.toISOString(),
      secret,
    });
    return keyId;
  }

  keyIds(): string[] {
    return this.passwords.map((item) => item.keyId);
  }

  failNext(status: number, code: string, message: string): void {
    this.failures.push({ status, code, message });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', this.url);
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const claims = token ? await this.options.verifyToken(token, this.url) : undefined;
    if (!claims) return this.error(res, 401, 'InvalidAuthenticationToken', 'Access token is empty or invalid.');
    const roles = Array.isArray(claims.roles) ? claims.roles : [];
    if (!roles.includes(OWNED_BY_PERMISSION) || !this.options.owners.includes(String(claims.appid))) {
      return this.error(res, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    }
    const injected = this.failures.shift();
    if (injected) return this.error(res, injected.status, injected.code, injected.message);

    const match = /^\/v1\.0\/applications\(appId='([^']+)'\)(\/addPassword|\/removePassword)?$/.exec(decodeURIComponent(url.pathname));
    if (!match || match[1] !== this.options.appId) {
      return this.error(
        res,
        404,
        'Request_ResourceNotFound',
        `Resource '${match?.[1] ?? url.pathname}' does not exist or one of its queried reference-property objects are not present.`,
      );
    }
    const action = match[2];
    if (req.method === 'GET' && !action) {
      return this.send(res, 200, {
        '@odata.context': `${this.url}/v1.0/$metadata#applications(passwordCredentials)/$entity`,
        passwordCredentials: this.passwords.map(({ secret: _secret, ...item }) => ({ customKeyIdentifier: null, secretText: null, ...item })),
      });
    }
    if (req.method !== 'POST') return this.error(res, 405, 'Request_BadRequest', `${req.method} is not supported here.`);
    let input: Record<string, unknown>;
    try {
      input = body ? JSON.parse(body) : {};
    } catch {
      return this.error(res, 400, 'BadRequest', 'Unable to read JSON request payload.');
    }
    if (action === '/addPassword') {
      this.addCalls++;
      const requested = (input.passwordCredential ?? {}) as { displayName?: string; endDateTime?: string };
      const secret = `${randomBytes(2).toString('hex').slice(0, 3)}8Q~${randomBytes(27).toString('base64url')}`;
      const stored: StoredPassword = {
        keyId: randomUUID(),
        displayName: requested.displayName ?? '',
        hint: secret.slice(0, 3),
        startDateTime: new Date().toISOString(),
        endDateTime: requested.endDateTime ?? new Date(Date.now() + 2 * 365 * 86_400_000).toISOString(),
        secret,
      };
      this.passwords.push(stored);
      this.options.onAddPassword?.(secret);
      const { secret: _secret, ...item } = stored;
      return this.send(res, 200, {
        '@odata.context': `${this.url}/v1.0/$metadata#microsoft.graph.passwordCredential`,
        customKeyIdentifier: null,
        ...item,
        secretText: secret,
      });
    }
    this.removeCalls++;
    const index = this.passwords.findIndex((item) => item.keyId === input.keyId);
    if (index < 0) return this.error(res, 404, 'Request_ResourceNotFound', `No password credential found with keyId ${String(input.keyId)}.`);
    const [removed] = this.passwords.splice(index, 1);
    this.options.onRemovePassword?.(removed!.secret);
    res.writeHead(204).end();
  }

  private error(res: ServerResponse, status: number, code: string, message: string): void {
    this.send(res, status, {
      error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': randomUUID(), 'client-request-id': randomUUID() } },
    });
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8' });
    res.end(JSON.stringify(body));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
