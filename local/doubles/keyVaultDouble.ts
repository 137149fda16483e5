/**
 * KeyVaultDouble: a TEST DOUBLE of the Azure Key Vault secrets REST API (there
 * is no Key Vault emulator). It follows the documented wire contract that
 * @azure/keyvault-secrets relies on, so the real SecretClient talks to it
 * unchanged:
 *  - a request without a bearer token gets 401 with
 *    `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="https://vault.azure.net"`;
 *    the SDK then asks its credential for https://vault.azure.net/.default and retries;
 *  - GET /secrets/{name}/{version?} returns the secret bundle
 *    { value, id: https://host/secrets/{name}/{version}, attributes: { enabled, created, updated, exp?, nbf? } } (Unix seconds);
 *  - GET /secrets/{name}/versions returns { value: [...items without value], nextLink };
 *  - PUT /secrets/{name} adds a version;
 *  - errors are { error: { code, message } }: 404 SecretNotFound, 403 for a disabled version (innererror SecretDisabled).
 * Tokens are checked with the caller's verifier (the local token server's keys).
 */
import { randomBytes } from 'node:crypto';
import type https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loopbackUrl, startLoopbackHttps } from './loopbackHttps';

export const VAULT_RESOURCE = 'https://vault.azure.net';

export interface KeyVaultDoubleOptions {
  tls: { certPem: string; keyPem: string };
  /** e.g. https://127.0.0.1:PORT/<tenant>, what the 401 challenge names. */
  authority: string;
  verifyToken(token: string): Promise<boolean>;
}

export interface SecretVersionInput {
  value: string;
  enabled?: boolean;
  expiresOn?: Date;
  notBefore?: Date;
  tags?: Record<string, string>;
  contentType?: string;
  /** Set for the secret behind a Key Vault certificate (managed: true, kid), as Key Vault shows it. */
  managed?: boolean;
}

/** A Key Vault certificate version as its secret serves it: the value in the policy's content type, exp and nbf from the certificate. */
export interface CertificateVersionInput {
  /** PEM (private key + certificate) or base64 PKCS#12. */
  value: string;
  contentType: 'application/x-pem-file' | 'application/x-pkcs12';
  notBefore: Date;
  notAfter: Date;
}

interface StoredVersion {
  version: string;
  value: string;
  enabled: boolean;
  created: number;
  updated: number;
  exp?: number;
  nbf?: number;
  tags?: Record<string, string>;
  contentType?: string;
  managed?: boolean;
}

export class KeyVaultDouble {
  /** Authorized GETs of a secret's value (not challenges, not listings). */
  secretReads = 0;
  /** Every request, challenges included. */
  requests = 0;
  challenges = 0;
  private readonly secrets = new Map<string, StoredVersion[]>();
  private failures: Array<{ status: number; code: string; message: string; headers?: Record<string, string> }> = [];
  private dropConnections = 0;
  private writeFailures: Array<{ status: number; code: string; message: string }> = [];

  private constructor(
    private readonly server: https.Server,
    private readonly options: KeyVaultDoubleOptions,
  ) {}

  static async start(options: KeyVaultDoubleOptions): Promise<KeyVaultDouble> {
    let instance: KeyVaultDouble | undefined;
    const server = await startLoopbackHttps(options.tls, (req, res) => instance!.handle(req, res));
    instance = new KeyVaultDouble(server, options);
    return instance;
  }

  get url(): string {
    return loopbackUrl(this.server);
  }

  /** Adds a version (it becomes the current one) and returns its id. */
  setSecret(name: string, input: SecretVersionInput): string {
    const now = Math.floor(Date.now() / 1000);
    const version = randomBytes(16).toString('hex');
    const stored: StoredVersion = {
      version,
      value: input.value,
      enabled: input.enabled ?? true,
      created: now,
      updated: now,
      ...(input.expiresOn ? { exp: Math.floor(input.expiresOn.getTime() / 1000) } : {}),
      ...(input.notBefore ? { nbf: Math.floor(input.notBefore.getTime() / 1000) } : {}),
      ...(input.tags ? { tags: input.tags } : {}),
      ...(input.contentType ? { contentType: input.contentType } : {}),
      ...(input.managed ? { managed: true } : {}),
    };
    this.secrets.set(name.toLowerCase(), [...(this.secrets.get(name.toLowerCase()) ?? []), stored]);
    return version;
  }

  /**
   * Adds a version of a Key Vault certificate (GET certificates/… is not served: the relay reads the
   * private key through GET secrets/<name>, the only way Key Vault hands it out). Returns the version id.
   */
  setCertificate(name: string, input: CertificateVersionInput): string {
    return this.setSecret(name, { value: input.value, contentType: input.contentType, expiresOn: input.notAfter, notBefore: input.notBefore, managed: true });
  }

  /** Enable or disable a version (default: the current one). */
  setEnabled(name: string, enabled: boolean, version?: string): void {
    const stored = this.find(name, version);
    if (!stored) throw new Error(`no secret ${name}/${version ?? ''}`);
    stored.enabled = enabled;
    stored.updated = Math.floor(Date.now() / 1000);
  }

  versions(name: string): Array<{ version: string; value: string; enabled: boolean; exp?: number; tags?: Record<string, string> }> {
    return (this.secrets.get(name.toLowerCase()) ?? []).map((item) => ({ ...item }));
  }

  /** Answer the next `times` authorized requests with this Key Vault error. */
  failNext(status: number, code: string, message: string, times = 1, headers?: Record<string, string>): void {
    for (let i = 0; i < times; i++) this.failures.push({ status, code, message, headers });
  }

  /** Answer the next authorized write (PUT) with this Key Vault error. */
  failNextWrite(status: number, code: string, message: string): void {
    this.writeFailures.push({ status, code, message });
  }

  /** Destroy the next `times` connections without an answer (a vault that cannot be reached). */
  dropNext(times = 1): void {
    this.dropConnections += times;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private find(name: string, version?: string): StoredVersion | undefined {
    const list = this.secrets.get(name.toLowerCase()) ?? [];
    return version ? list.find((item) => item.version === version) : list.at(-1);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    if (this.dropConnections > 0) {
      this.dropConnections--;
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', this.url);
    const body = await readBody(req);
    if (!url.searchParams.get('api-version')) return this.error(res, 400, 'BadParameter', 'The api-version parameter is missing.');

    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!auth) {
      this.challenges++;
      return this.challenge(res, 'Unauthorized', 'AKV10000: Request is missing a Bearer or PoP token.');
    }
    if (!(await this.options.verifyToken(auth[1]!))) return this.challenge(res, 'Unauthorized', 'AKV10022: Invalid audience or token.');

    const injected = this.failures.shift();
    if (injected) return this.error(res, injected.status, injected.code, injected.message, injected.headers);

    // Paths as the SDK sends them: /secrets/{name}/ (trailing slash), /secrets/{name}/{version}, /secrets/{name}/versions.
    const parts = url.pathname
      .split('/')
      .filter(Boolean)
      .map((part) => decodeURIComponent(part));
    if (parts[0] !== 'secrets' || !parts[1]) return this.error(res, 404, 'NotFound', `no route for ${req.method} ${url.pathname}`);
    const name = parts[1];
    if (req.method === 'PUT' && parts.length === 2) {
      const failure = this.writeFailures.shift();
      if (failure) return this.error(res, failure.status, failure.code, failure.message);
      return this.put(res, name, body);
    }
    if (req.method === 'GET' && parts[2] === 'versions' && parts.length === 3) return this.list(res, name, url);
    if (req.method === 'GET' && parts.length <= 3) return this.get(res, name, parts[2]);
    return this.error(res, 405, 'MethodNotAllowed', `${req.method} is not allowed here`);
  }

  private get(res: ServerResponse, name: string, version: string | undefined): void {
    const stored = this.find(name, version);
    if (!stored) {
      const what = version ? `${name}/${version}` : name;
      return this.error(
        res,
        404,
        'SecretNotFound',
        `A secret with (name/id) ${what} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command.`,
      );
    }
    if (!stored.enabled) {
      return this.send(res, 403, {
        error: { code: 'Forbidden', message: 'Operation get is not allowed on a disabled secret.', innererror: { code: 'SecretDisabled' } },
      });
    }
    this.secretReads++;
    this.send(res, 200, { value: stored.value, ...this.item(name, stored) });
  }

  private list(res: ServerResponse, name: string, url: URL): void {
    const all = this.secrets.get(name.toLowerCase()) ?? [];
    const max = Math.min(25, Number(url.searchParams.get('maxresults') ?? '25') || 25);
    const skip = Number(url.searchParams.get('$skiptoken') ?? '0') || 0;
    const page = all.slice(skip, skip + max).map((stored) => this.item(name, stored));
    const next =
      skip + max < all.length
        ? `${this.url}/secrets/${name}/versions?api-version=${url.searchParams.get('api-version')}&maxresults=${max}&$skiptoken=${skip + max}`
        : null;
    this.send(res, 200, { value: page, nextLink: next });
  }

  private put(res: ServerResponse, name: string, text: string): void {
    let input: { value?: unknown; attributes?: { enabled?: boolean; exp?: number; nbf?: number }; tags?: Record<string, string>; contentType?: string };
    try {
      input = JSON.parse(text) as typeof input;
    } catch {
      return this.error(res, 400, 'BadParameter', 'The request body is not JSON.');
    }
    if (typeof input.value !== 'string') return this.error(res, 400, 'BadParameter', 'Property value is required.');
    const version = this.setSecret(name, {
      value: input.value,
      enabled: input.attributes?.enabled,
      expiresOn: input.attributes?.exp ? new Date(input.attributes.exp * 1000) : undefined,
      notBefore: input.attributes?.nbf ? new Date(input.attributes.nbf * 1000) : undefined,
      tags: input.tags,
      contentType: input.contentType,
    });
    const stored = this.find(name, version)!;
    this.send(res, 200, { value: stored.value, ...this.item(name, stored) });
  }

  private item(name: string, stored: StoredVersion): Record<string, unknown> {
    return {
      id: `${this.url}/secrets/${name}/${stored.version}`,
      attributes: {
        enabled: stored.enabled,
        created: stored.created,
        updated: stored.updated,
        ...(stored.exp !== undefined ? { exp: stored.exp } : {}),
        ...(stored.nbf !== undefined ? { nbf: stored.nbf } : {}),
        recoveryLevel: 'Recoverable+Purgeable',
        recoverableDays: 90,
      },
      ...(stored.tags ? { tags: stored.tags } : {}),
      ...(stored.contentType ? { contentType: stored.contentType } : {}),
      ...(stored.managed ? { managed: true, kid: `${this.url}/keys/${name}/${stored.version}` } : {}),
    };
  }

  private challenge(res: ServerResponse, code: string, message: string): void {
    res.setHeader('WWW-Authenticate', `Bearer authorization="${this.options.authority}", resource="${VAULT_RESOURCE}"`);
    this.error(res, 401, code, message);
  }

  private error(res: ServerResponse, status: number, code: string, message: string, headers?: Record<string, string>): void {
    for (const [key, value] of Object.entries(headers ?? {})) res.setHeader(key, value);
    this.send(res, status, { error: { code, message } });
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-ms-keyvault-service-version': '1.9.0.0' });
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
