/**
 * A DOUBLE of Google's OAuth 2.0 token endpoint for service accounts (oauth2.googleapis.com/token),
 * HTTPS on loopback: no local equivalent of Google's endpoint exists. It holds what Google Cloud and
 * the Workspace Admin console hold: service accounts with their keys (public part, by key ID), which
 * client IDs domain-wide delegation allows which scopes, and the domain's users. It checks the
 * RFC 7523 JWT-bearer grant as Google documents it
 * (https://developers.google.com/identity/protocols/oauth2/service-account): grant_type, an RS256
 * signature by the key the header's kid names, iss = a known client_email, aud = this endpoint, a
 * scope, iat/exp at most an hour apart and around its own clock, sub a user of the domain, and the
 * delegation of every scope asked for. Refusals are Google's {error, error_description} JSON;
 * access tokens are opaque (ya29.-like), and verifyAccessToken() lets the Gmail-shaped SMTP front
 * check them. No key, assertion or token is ever logged.
 */
import { generateKeyPair, randomBytes, verify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loopbackUrl, startLoopbackHttps } from './loopbackHttps';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Google's texts, as its token endpoint sends them. */
export const GOOGLE_ERRORS = {
  unauthorizedClient: 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
  badSignature: 'Invalid JWT Signature.',
  timeframe: 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
  unknownUser: 'Invalid email or User ID',
  accountNotFound: 'Invalid grant: account not found',
  disabled: 'The OAuth client was disabled.',
} as const;

/** A service account as the double created it; `keyJson` is the key file gcloud would write. */
export interface TestServiceAccount {
  clientEmail: string;
  clientId: string;
  privateKeyId: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  keyJson: string;
}

interface Account {
  clientId: string;
  keys: Map<string, KeyObject>;
  disabled: boolean;
}

interface Issued {
  sub: string;
  scope: string;
  clientId: string;
  expiresAt: number;
}

/** Google tolerates a few minutes of clock difference; the double does too. */
const SKEW_SECONDS = 300;
const TOKEN_LIFETIME_SECONDS = 3599;

export class GoogleTokenDouble {
  /** Token requests received (any outcome). */
  requests = 0;
  /** The last assertion's header and claims (never its signature). */
  lastAssertion: { header: Record<string, unknown>; claims: Record<string, unknown> } | undefined;
  /** Offset of the double's clock from the host's, in seconds (a skewed host is simulated by moving Google's clock). */
  clockOffsetSeconds = 0;
  private readonly accounts = new Map<string, Account>();
  private readonly delegations = new Map<string, Set<string>>();
  private readonly users = new Set<string>();
  private readonly tokens = new Map<string, Issued>();

  private constructor(private readonly server: https.Server) {}

  static async start(options: { tls: { certPem: string; keyPem: string } }): Promise<GoogleTokenDouble> {
    let instance: GoogleTokenDouble | undefined;
    const server = await startLoopbackHttps(options.tls, (req, res) => instance!.handle(req, res));
    instance = new GoogleTokenDouble(server);
    return instance;
  }

  get url(): string {
    return loopbackUrl(this.server);
  }

  /** The token_uri of the keys this double issues. */
  get tokenUri(): string {
    return `${this.url}/token`;
  }

  /** Creates a service account with one key (gcloud iam service-accounts create + keys create). */
  async createServiceAccount(name = 'smtp-relay', project = 'relay-test-project'): Promise<TestServiceAccount> {
    const clientEmail = `${name}@${project}.iam.gserviceaccount.com`;
    const clientId = String(100000000000000000000n + BigInt(`0x${randomBytes(6).toString('hex')}`));
    this.accounts.set(clientEmail, { clientId, keys: new Map(), disabled: false });
    return this.createKey(clientEmail, project);
  }

  /** A new key for an existing account (rotation); the old keys stay valid until deleted. */
  async createKey(clientEmail: string, project = 'relay-test-project'): Promise<TestServiceAccount> {
    const account = this.accounts.get(clientEmail);
    if (!account) throw new Error(`no service account ${clientEmail}`);
    const { privateKey, publicKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
    const privateKeyId = randomBytes(20).toString('hex');
    account.keys.set(privateKeyId, publicKey);
    const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keyJson = JSON.stringify(
      {
        type: 'service_account',
        project_id: project,
        private_key_id: privateKeyId,
        private_key: privateKeyPem,
        client_email: clientEmail,
        client_id: account.clientId,
        auth_uri: 'https://accounts.google.com/o/oauth2/auth',
        token_uri: this.tokenUri,
        auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
        client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
        universe_domain: 'googleapis.com',
      },
      null,
      2,
    );
    return { clientEmail, clientId: account.clientId, privateKeyId, privateKeyPem, keyJson };
  }

  deleteKey(clientEmail: string, privateKeyId: string): void {
    this.accounts.get(clientEmail)?.keys.delete(privateKeyId);
  }

  disableAccount(clientEmail: string, disabled = true): void {
    const account = this.accounts.get(clientEmail);
    if (account) account.disabled = disabled;
  }

  /** Admin console → Manage Domain Wide Delegation: the client ID with these scopes (replaces its entry; [] removes it). */
  delegate(clientId: string, scopes: string[]): void {
    if (scopes.length === 0) this.delegations.delete(clientId);
    else this.delegations.set(clientId, new Set(scopes));
  }

  /** Users of the Workspace domain (the mailboxes a token may be asked for). */
  addUser(email: string): void {
    this.users.add(email.toLowerCase());
  }

  /** Forget an issued token (as if Google had revoked it): the SMTP front refuses it from now on. */
  revokeToken(token: string): void {
    this.tokens.delete(token);
  }

  /** Tokens issued and still held. */
  get issuedTokens(): string[] {
    return [...this.tokens.keys()];
  }

  /** For the Gmail front: whether the token is one this double issued, still valid, and for whom. */
  async verifyAccessToken(token: string): Promise<{ ok: true; claims: Record<string, unknown> } | { ok: false; reason: string }> {
    const issued = this.tokens.get(token);
    if (!issued) return { ok: false, reason: 'unknown token' };
    if (issued.expiresAt <= Date.now() / 1000) return { ok: false, reason: 'expired token' };
    return { ok: true, claims: { sub: issued.sub, scope: issued.scope, azp: issued.clientId } };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (req.method !== 'POST' || new URL(req.url ?? '/', this.url).pathname !== '/token') return send(res, 404, { error: 'not_found' });
    this.requests++;
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== JWT_BEARER_GRANT) {
      return send(res, 400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${form.get('grant_type') ?? ''}` });
    }
    const verdict = this.check(form.get('assertion') ?? '');
    if ('error' in verdict) return send(res, verdict.status, { error: verdict.error, error_description: verdict.description });
    const token = `ya29.${randomBytes(48).toString('base64url')}`;
    this.tokens.set(token, { ...verdict, expiresAt: Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_SECONDS });
    send(res, 200, { access_token: token, expires_in: TOKEN_LIFETIME_SECONDS, token_type: 'Bearer' });
  }

  private check(assertion: string): Omit<Issued, 'expiresAt'> | { status: number; error: string; description: string } {
    const refuse = (error: string, description: string, status = 400) => ({ status, error, description });
    const parts = assertion.split('.');
    if (parts.length !== 3) return refuse('invalid_grant', 'Invalid JWT: the assertion is not a JWT.');
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return refuse('invalid_grant', 'Invalid JWT: the assertion is not a JWT.');
    }
    this.lastAssertion = { header, claims };
    const account = typeof claims.iss === 'string' ? this.accounts.get(claims.iss) : undefined;
    if (!account) return refuse('invalid_grant', GOOGLE_ERRORS.accountNotFound);
    if (account.disabled) return refuse('disabled_client', GOOGLE_ERRORS.disabled, 401);
    const key = typeof header.kid === 'string' ? account.keys.get(header.kid) : undefined;
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    if (header.alg !== 'RS256' || !key || !verify('RSA-SHA256', signed, key, Buffer.from(parts[2]!, 'base64url'))) {
      return refuse('invalid_grant', GOOGLE_ERRORS.badSignature);
    }
    if (claims.aud !== this.tokenUri) return refuse('invalid_grant', `Invalid JWT: Failed audience check. The right audience is ${this.tokenUri}`);
    const now = Math.floor(Date.now() / 1000) + this.clockOffsetSeconds;
    const { iat, exp } = claims;
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > 3600 || exp <= iat || iat > now + SKEW_SECONDS || exp < now - SKEW_SECONDS) {
      return refuse('invalid_grant', GOOGLE_ERRORS.timeframe);
    }
    const scope = typeof claims.scope === 'string' ? claims.scope.trim() : '';
    if (!scope) return refuse('invalid_scope', 'Invalid oauth scope or ID token audience provided.');
    const granted = this.delegations.get(account.clientId);
    if (!granted || !scope.split(/\s+/).every((one) => granted.has(one))) return refuse('unauthorized_client', GOOGLE_ERRORS.unauthorizedClient, 401);
    const sub = typeof claims.sub === 'string' ? claims.sub.toLowerCase() : '';
    if (!this.users.has(sub)) return refuse('invalid_grant', GOOGLE_ERRORS.unknownUser);
    return { sub, scope, clientId: account.clientId };
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
