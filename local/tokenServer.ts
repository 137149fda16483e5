/**
 * A local OAuth2 token endpoint shaped like Microsoft Entra ID, good enough for
 * @azure/identity's ClientSecretCredential to talk to it unchanged
 * (authorityHost = url, disableInstanceDiscovery = true) and for the relay's
 * plain RFC 6749 "generic provider" path (genericTokenUrl).
 *
 * It issues RS256 JWTs with the claims of a real Exchange Online app-only token
 * and answers errors in Entra's exact body format, so the relay's error
 * classification is exercised against the same shapes it meets in production.
 * Secrets are compared, never logged or stored in `lastTokenRequest`.
 */
import { X509Certificate, createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CryptoKey, JWK } from 'jose' with { 'resolution-mode': 'import' };
import type * as JoseModule from 'jose' with { 'resolution-mode': 'import' };

type Jose = typeof JoseModule;
// jose is ESM-only; a dynamic import keeps this CommonJS module loadable.
let josePromise: Promise<Jose> | undefined;
const loadJose = (): Promise<Jose> => (josePromise ??= import('jose'));

export const SMTP_SEND_AS_APP = 'SMTP.SendAsApp';
/** Both spellings name Exchange Online; Microsoft's docs use one, the setup guide the other. */
export const EXCHANGE_AUDIENCES = ['https://outlook.office.com', 'https://outlook.office365.com'] as const;
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

export interface TokenServerClient {
  clientId: string;
  clientSecret: string;
}

export interface LocalTokenServerOptions {
  tls: { certPem: string; keyPem: string };
  port?: number;
  tenantId: string;
  clients: TokenServerClient[];
  /** expires_in of issued tokens; default 3600. */
  tokenLifetimeSeconds?: number;
  /** roles claim of issued tokens; default ['SMTP.SendAsApp']. */
  roles?: string[];
}

export interface InjectedReply {
  status: number;
  /**
   * Objects are sent as JSON; strings are sent as they are (e.g. malformed JSON). A function
   * is called with the request's body (the form, client secret included) and its result sent
   * likewise: an endpoint that echoes the request in its error.
   */
  body?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
}

export interface TokenOverrides {
  aud?: string;
  roles?: string[];
  /** Negative values give an already expired token. */
  expiresInSeconds?: number;
  tid?: string;
  appid?: string;
  scp?: string;
}

export type TokenVerification = { ok: true; claims: Record<string, unknown> } | { ok: false; reason: string };

interface ClientState {
  secret: string;
  secretExpired: boolean;
  /** More valid secrets (an app registration holds several during a rotation). */
  otherSecrets?: string[];
  objectId: string;
  /** roles claim for this client's tokens; absent: the server's default. */
  roles?: string[];
  /** roles claim for this client's tokens of one resource (Entra's roles are per resource: Microsoft Graph's Mail.Send beside Exchange's SMTP.SendAsApp). */
  resourceRoles?: Map<string, string[]>;
  /** Workload identity federation: assertions this app registration trusts. */
  federated?: FederatedCredential[];
  /** Certificates uploaded to the app registration (their public part): client assertions signed with their keys. */
  certificates?: X509Certificate[];
  /** Subject name + issuer trust: an assertion carrying its chain (x5c) whose leaf has this subject and is signed by this CA. */
  trustedSubjects?: Array<{ subject: string; issuer: X509Certificate }>;
}

/** What the last certificate-signed client assertion carried (header and claims; never the signature). */
export interface SeenAssertion {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

/** A federated identity credential of an app registration (issuer, subject, audience must all match). */
export interface FederatedCredential {
  issuer: string;
  subject: string;
  audience: string;
}

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** An Entra-style error: HTTP status, OAuth error code, AADSTS number and text. */
interface EntraError {
  status: number;
  error: string;
  code: number;
  message: string;
}

export class LocalTokenServer {
  /** Token POSTs received on either token endpoint, injected failures included. */
  tokenRequests = 0;
  /** GETs of the OpenID discovery document. */
  discoveryRequests = 0;
  /** The last token request's form fields, client_secret removed. */
  lastTokenRequest: Record<string, string> | undefined;
  /** The last certificate-signed client assertion that verified. */
  lastCertificateAssertion: SeenAssertion | undefined;

  private readonly clients = new Map<string, ClientState>();
  /** Clients whose tokens carry this audience whatever they ask for (pinAudience). */
  private readonly pinnedAudiences = new Map<string, string>();
  private readonly injected: InjectedReply[] = [];
  /** Faults for one client's requests only (several senders, one of them broken): the next ones, then a lasting one. */
  private readonly injectedFor = new Map<string, InjectedReply[]>();
  private readonly lastingFor = new Map<string, InjectedReply>();
  /** Token requests per client id (injected failures included). */
  readonly requestsByClient = new Map<string, number>();
  private readonly lifetimeSeconds: number;
  private readonly roles: string[];

  private constructor(
    private readonly server: https.Server,
    private readonly jose: Jose,
    private readonly privateKey: CryptoKey,
    private readonly publicKey: CryptoKey,
    private readonly publicJwk: JWK,
    readonly tenantId: string,
    opts: LocalTokenServerOptions,
  ) {
    for (const client of opts.clients) this.setClientSecret(client.clientId, client.clientSecret);
    this.lifetimeSeconds = opts.tokenLifetimeSeconds ?? 3600;
    this.roles = opts.roles ?? [SMTP_SEND_AS_APP];
  }

  static async start(opts: LocalTokenServerOptions): Promise<LocalTokenServer> {
    const jose = await loadJose();
    const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
    const kid = randomUUID().replace(/-/g, '');
    const publicJwk: JWK = { ...(await jose.exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256', kty: 'RSA' };

    let instance: LocalTokenServer | undefined;
    const server = https.createServer({ cert: opts.tls.certPem, key: opts.tls.keyPem }, (req, res) => {
      if (!instance) return void res.writeHead(503).end();
      instance.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    // Idle keep-alive sockets live a minute, as behind Entra's front doors: with Node's 5 s default a
    // busy machine lets the server close a socket just as the relay's shared agent reuses it (ECONNRESET).
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    instance = new LocalTokenServer(server, jose, privateKey, publicKey, publicJwk, opts.tenantId, opts);
    return instance;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The authority host (what OAUTH2_AUTHORITY_HOST / authorityHost takes). */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  tokenUrl(tenant: string = this.tenantId): string {
    return `${this.url}/${tenant}/oauth2/v2.0/token`;
  }

  /** A plain RFC 6749 token endpoint (no tenant in the path) for the generic provider path. */
  get genericTokenUrl(): string {
    return `${this.url}/oauth2/token`;
  }

  /** The issuer of access tokens (v1 tokens, as Exchange Online receives them). */
  get accessTokenIssuer(): string {
    return `https://sts.windows.net/${this.tenantId}/`;
  }

  /** Answer the next `times` token requests with `reply` instead of the real logic. */
  failNext(reply: InjectedReply, times = 1): void {
    for (let i = 0; i < times; i++) this.injected.push(reply);
  }

  /** Answer the next `times` token requests of this client only with `reply`. */
  failNextFor(clientId: string, reply: InjectedReply, times = 1): void {
    const queue = this.injectedFor.get(clientId) ?? [];
    for (let i = 0; i < times; i++) queue.push(reply);
    this.injectedFor.set(clientId, queue);
  }

  /** Answer every token request of this client with `reply` until called with undefined (an endpoint down for one app). */
  failAlwaysFor(clientId: string, reply: InjectedReply | undefined): void {
    if (reply) this.lastingFor.set(clientId, reply);
    else this.lastingFor.delete(clientId);
  }

  /** Add a client or rotate its secret (clears an expired mark). */
  setClientSecret(clientId: string, secret: string): void {
    const existing = this.clients.get(clientId);
    this.clients.set(clientId, {
      secret,
      secretExpired: false,
      objectId: existing?.objectId ?? randomUUID(),
      roles: existing?.roles,
      resourceRoles: existing?.resourceRoles,
      federated: existing?.federated,
      certificates: existing?.certificates,
      trustedSubjects: existing?.trustedSubjects,
    });
  }

  /** Upload a certificate's public part to the client (app registration → Certificates & secrets → Certificates). */
  addClientCertificate(clientId: string, certificatePem: string): void {
    const client = this.clientState(clientId);
    client.certificates = [...(client.certificates ?? []), new X509Certificate(certificatePem)];
  }

  /** Delete an uploaded certificate (matched by its thumbprint). */
  removeClientCertificate(clientId: string, certificatePem: string): void {
    const client = this.clientState(clientId);
    const gone = new X509Certificate(certificatePem).fingerprint256;
    client.certificates = (client.certificates ?? []).filter((certificate) => certificate.fingerprint256 !== gone);
  }

  /** Trust certificates by subject name and issuer (SNI): the assertion must carry its chain (x5c). */
  trustCertificateSubject(clientId: string, subject: string, issuerPem: string): void {
    const client = this.clientState(clientId);
    client.trustedSubjects = [...(client.trustedSubjects ?? []), { subject, issuer: new X509Certificate(issuerPem) }];
  }

  private clientState(clientId: string): ClientState {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`unknown client ${clientId}`);
    return client;
  }

  /** Add one more valid secret to the client, as a second client secret of the app registration. */
  addClientSecret(clientId: string, secret: string): void {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`unknown client ${clientId}`);
    client.otherSecrets = [...(client.otherSecrets ?? []), secret];
  }

  /** Remove one secret (the main one or another); a client left without any accepts none. */
  removeClientSecret(clientId: string, secret: string): void {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`unknown client ${clientId}`);
    const others = (client.otherSecrets ?? []).filter((other) => other !== secret);
    if (client.secret === secret) {
      client.secret = others.shift() ?? randomUUID();
      client.secretExpired = false;
    }
    client.otherSecrets = others;
  }

  /** The object (principal) id of a client: the `oid`/`sub` of its tokens. */
  objectIdOf(clientId: string): string | undefined {
    return this.clients.get(clientId)?.objectId;
  }

  /** Let the client sign in with assertions from this issuer and subject (workload identity federation). */
  addFederatedCredential(clientId: string, credential: FederatedCredential): void {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`unknown client ${clientId}`);
    client.federated = [...(client.federated ?? []), credential];
  }

  /**
   * The roles its tokens carry, as Entra decides them from the app's consented
   * application permissions: [] is an app whose SMTP.SendAsApp was never added
   * or never consented to.
   */
  setClientRoles(clientId: string, roles: string[]): void {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`unknown client ${clientId}`);
    client.roles = [...roles];
  }

  /**
   * The roles its tokens for `resource` carry (e.g. a Graph double's URL → ['Mail.Send']), as
   * Entra decides them per resource from the app's consented application permissions. Other
   * resources keep setClientRoles' (or the default) roles.
   */
  setClientResourceRoles(clientId: string, resource: string, roles: string[]): void {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`unknown client ${clientId}`);
    client.resourceRoles = new Map(client.resourceRoles ?? []);
    client.resourceRoles.set(resource.replace(/\/$/, ''), [...roles]);
  }

  /**
   * An endpoint that ignores the scope asked for: the client's tokens carry `audience` (undefined
   * undoes it), as a foreign or misconfigured token endpoint would issue them.
   */
  pinAudience(clientId: string, audience: string | undefined): void {
    if (audience === undefined) this.pinnedAudiences.delete(clientId);
    else this.pinnedAudiences.set(clientId, audience);
  }

  /** Make the client's current secret count as expired (AADSTS7000222). */
  expireSecret(clientId: string): void {
    const client = this.clients.get(clientId);
    if (!client) throw new Error(`unknown client ${clientId}`);
    client.secretExpired = true;
  }

  /** A signed token like the server would issue, with claims changed for negative tests. */
  async issueToken(overrides: TokenOverrides = {}): Promise<string> {
    const appid = overrides.appid ?? this.clients.keys().next().value ?? randomUUID();
    return this.sign({
      appid,
      objectId: this.clients.get(appid)?.objectId ?? randomUUID(),
      aud: overrides.aud ?? EXCHANGE_AUDIENCES[1],
      roles: overrides.roles ?? this.roles,
      lifetimeSeconds: overrides.expiresInSeconds ?? this.lifetimeSeconds,
      tid: overrides.tid ?? this.tenantId,
      scp: overrides.scp,
    });
  }

  /** What Exchange Online checks before accepting an XOAUTH2 token for app-only SMTP. */
  async verifyAccessToken(token: string): Promise<TokenVerification> {
    let claims: Record<string, unknown>;
    try {
      const result = await this.jose.jwtVerify(token, this.publicKey, {
        algorithms: ['RS256'],
        issuer: this.accessTokenIssuer,
      });
      claims = result.payload;
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'ERR_JWT_INVALID';
      return { ok: false, reason: `token rejected (${code})` };
    }
    const audiences = ([] as unknown[]).concat(claims.aud ?? []);
    const exchangeAudience = audiences.some((aud) => typeof aud === 'string' && (EXCHANGE_AUDIENCES as readonly string[]).includes(aud.replace(/\/$/, '')));
    if (!exchangeAudience) return { ok: false, reason: `audience ${JSON.stringify(claims.aud)} is not Exchange Online` };
    const roles = Array.isArray(claims.roles) ? claims.roles : [];
    if (!roles.includes(SMTP_SEND_AS_APP)) return { ok: false, reason: `roles claim lacks ${SMTP_SEND_AS_APP}` };
    return { ok: true, claims };
  }

  /** Signature, issuer, expiry and audience of a token this server issued for another resource (e.g. https://vault.azure.net). */
  async verifyTokenForResource(token: string, resource: string): Promise<TokenVerification> {
    try {
      const result = await this.jose.jwtVerify(token, this.publicKey, { algorithms: ['RS256'], issuer: this.accessTokenIssuer });
      const claims = result.payload as Record<string, unknown>;
      const audiences = ([] as unknown[]).concat(claims.aud ?? []);
      if (!audiences.some((aud) => typeof aud === 'string' && aud.replace(/\/$/, '') === resource.replace(/\/$/, ''))) {
        return { ok: false, reason: `audience ${JSON.stringify(claims.aud)} is not ${resource}` };
      }
      return { ok: true, claims };
    } catch (error) {
      return { ok: false, reason: `token rejected (${(error as { code?: string }).code ?? 'ERR_JWT_INVALID'})` };
    }
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  // ---------------------------------------------------------------- routing

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', this.url).pathname;
    const discovery = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path);
    const keys = /^\/([^/]+)\/discovery\/(?:v2\.0\/)?keys$/.exec(path);
    const tenantToken = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);

    if (req.method === 'GET' && discovery) return this.serveDiscovery(req, res, decodeURIComponent(discovery[1]!));
    if (req.method === 'GET' && keys) return this.sendJson(res, 200, { keys: [this.publicJwk] });
    if (tenantToken || path === '/oauth2/token') {
      if (req.method !== 'POST') return this.sendJson(res, 405, { error: 'invalid_request', error_description: 'POST only' });
      const body = await readBody(req);
      this.tokenRequests++;
      const requester = new URLSearchParams(body).get('client_id') ?? parseBasicAuth(req.headers.authorization)?.clientId;
      if (requester) this.requestsByClient.set(requester, (this.requestsByClient.get(requester) ?? 0) + 1);
      const own = requester === undefined ? undefined : (this.injectedFor.get(requester)?.shift() ?? this.lastingFor.get(requester));
      if (own) return this.sendInjected(res, own, body);
      const injected = this.injected.shift();
      if (injected) return this.sendInjected(res, injected, body);
      const tenant = tenantToken ? decodeURIComponent(tenantToken[1]!) : this.tenantId;
      return this.serveToken(req, res, tenant, body);
    }
    this.sendJson(res, 404, { error: 'not_found', error_description: `no route for ${req.method} ${path}` });
  }

  private serveDiscovery(req: IncomingMessage, res: ServerResponse, tenant: string): void {
    this.discoveryRequests++;
    if (tenant !== this.tenantId) return this.sendError(req, res, unknownTenant(tenant, 'invalid_tenant'));
    const base = `${this.url}/${tenant}`;
    this.sendJson(res, 200, {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
    });
  }

  // ------------------------------------------------------------ token logic

  private async serveToken(req: IncomingMessage, res: ServerResponse, tenant: string, body: string): Promise<void> {
    const form = Object.fromEntries(new URLSearchParams(body));
    const basic = parseBasicAuth(req.headers.authorization);
    const clientId = form.client_id ?? basic?.clientId;
    const clientSecret = form.client_secret ?? basic?.clientSecret;
    const { client_secret: _omitted, client_assertion: _assertion, ...withoutSecret } = form;
    this.lastTokenRequest = withoutSecret;

    let assertionVerified = false;
    if (form.client_assertion !== undefined || form.client_assertion_type !== undefined) {
      const problem = await this.checkAssertion(clientId, form, tenant);
      if (problem) return this.sendError(req, res, problem);
      assertionVerified = true;
    }
    const outcome = this.checkTokenRequest(tenant, form, clientId, clientSecret, assertionVerified);
    if ('error' in outcome) return this.sendError(req, res, outcome);
    const token = await this.sign({
      appid: outcome.clientId,
      objectId: outcome.objectId,
      aud: this.pinnedAudiences.get(outcome.clientId) ?? outcome.audience,
      roles: this.clients.get(outcome.clientId)?.resourceRoles?.get(outcome.audience.replace(/\/$/, '')) ?? outcome.roles,
      lifetimeSeconds: this.lifetimeSeconds,
      tid: this.tenantId,
    });
    this.sendJson(res, 200, {
      token_type: 'Bearer',
      expires_in: this.lifetimeSeconds,
      ext_expires_in: this.lifetimeSeconds,
      access_token: token,
    });
  }

  /** Entra's checks in Entra's order: tenant, grant, client, secret, scope. */
  private checkTokenRequest(
    tenant: string,
    form: Record<string, string>,
    clientId: string | undefined,
    clientSecret: string | undefined,
    assertionVerified = false,
  ): EntraError | { clientId: string; objectId: string; audience: string; roles: string[] } {
    if (tenant !== this.tenantId) return unknownTenant(tenant, 'invalid_request');
    if (!form.grant_type) return missingParameter('grant_type');
    if (form.grant_type !== 'client_credentials') {
      return {
        status: 400,
        error: 'unsupported_grant_type',
        code: 70003,
        message: `The app requested an unsupported grant type '${form.grant_type}'.`,
      };
    }
    if (!clientId) return missingParameter('client_id');
    const client = this.clients.get(clientId);
    if (!client) {
      return {
        status: 400,
        error: 'unauthorized_client',
        code: 700016,
        message:
          `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application ` +
          'has not been installed by the administrator of the tenant or consented to by any user in the tenant. ' +
          'You may have sent your authentication request to the wrong tenant.',
      };
    }
    if (assertionVerified) {
      const audience = audienceOf(form);
      return 'error' in audience ? audience : { clientId, objectId: client.objectId, audience: audience.resource, roles: client.roles ?? this.roles };
    }
    if (!clientSecret) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 7000218,
        message: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      };
    }
    if (!sameSecret(clientSecret, client.secret) && !(client.otherSecrets ?? []).some((other) => sameSecret(clientSecret, other))) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 7000215,
        message:
          'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, ' +
          `not the client secret ID, for a secret added to app '${clientId}'.`,
      };
    }
    if (client.secretExpired) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 7000222,
        message: `The provided client secret keys for app '${clientId}' are expired. Visit the Azure portal to create new keys for your app.`,
      };
    }
    const audience = audienceOf(form);
    if ('error' in audience) return audience;
    return { clientId, objectId: client.objectId, audience: audience.resource, roles: client.roles ?? this.roles };
  }

  /** A jwt-bearer client assertion: signed by a key we trust, unexpired, and matching a federated credential of the client. */
  private async checkAssertion(clientId: string | undefined, form: Record<string, string>, tenant: string): Promise<EntraError | undefined> {
    if (form.client_assertion_type !== JWT_BEARER_ASSERTION || !form.client_assertion) {
      return {
        status: 400,
        error: 'invalid_request',
        code: 50027,
        message: 'Invalid JWT token. The client assertion is missing or its type is not jwt-bearer.',
      };
    }
    let header: Record<string, unknown>;
    try {
      header = this.jose.decodeProtectedHeader(form.client_assertion);
    } catch {
      return { status: 400, error: 'invalid_request', code: 50027, message: 'Invalid JWT token. The client assertion is not a JWT.' };
    }
    if (header['x5t#S256'] !== undefined || header.x5t !== undefined) return this.checkCertificateAssertion(clientId, form.client_assertion, header, tenant);
    let claims: Record<string, unknown>;
    try {
      claims = (await this.jose.jwtVerify(form.client_assertion, this.publicKey, { algorithms: ['RS256'] })).payload;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'ERR_JWT_EXPIRED')
        return { status: 400, error: 'invalid_client', code: 700024, message: 'Client assertion is not within its valid time range.' };
      return { status: 401, error: 'invalid_client', code: 700027, message: 'Client assertion failed signature validation.' };
    }
    const client = clientId ? this.clients.get(clientId) : undefined;
    const audiences = ([] as unknown[]).concat(claims.aud ?? []);
    const match = client?.federated?.find(
      (credential) => credential.issuer === claims.iss && credential.subject === claims.sub && audiences.includes(credential.audience),
    );
    if (client && !match) {
      return {
        status: 400,
        error: 'invalid_request',
        code: 70021,
        message:
          `No matching federated identity record found for presented assertion. Assertion Issuer: '${String(claims.iss)}'. ` +
          `Assertion Subject: '${String(claims.sub)}'. Assertion Audience: '${audiences.join(',')}'.`,
      };
    }
    return undefined;
  }

  /**
   * RFC 7523 §3 with Entra's certificate rules: the x5t#S256 (or x5t) header names a certificate
   * uploaded to the client, or (x5c) a chain whose leaf matches a trusted subject and issuer; the
   * signature verifies with that certificate's key (PS256 or RS256); aud is this token endpoint;
   * iss = sub = the client id; exp and nbf hold (no skew allowed beyond 5 minutes); jti is present.
   */
  private async checkCertificateAssertion(
    clientId: string | undefined,
    assertion: string,
    header: Record<string, unknown>,
    tenant: string,
  ): Promise<EntraError | undefined> {
    const client = clientId ? this.clients.get(clientId) : undefined;
    if (!client) return undefined; // unknown client: checkTokenRequest answers AADSTS700016
    const thumbprint = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : typeof header.x5t === 'string' ? header.x5t : '';
    const digest = header['x5t#S256'] !== undefined ? 'sha256' : 'sha1';
    const thumbprintOf = (certificate: X509Certificate) => createHash(digest).update(certificate.raw).digest('base64url');
    let signer = (client.certificates ?? []).find((certificate) => thumbprintOf(certificate) === thumbprint);
    if (!signer && Array.isArray(header.x5c) && typeof header.x5c[0] === 'string') {
      const leaf = certificateFromX5c(header.x5c[0]);
      const trusted = leaf && (client.trustedSubjects ?? []).find((trust) => trust.subject === leaf.subject && leaf.verify(trust.issuer.publicKey));
      if (leaf && trusted && thumbprintOf(leaf) === thumbprint) signer = leaf;
    }
    if (!signer) {
      const configured = (client.certificates ?? []).map((certificate) => thumbprintOf(certificate)).join(', ');
      return {
        status: 401,
        error: 'invalid_client',
        code: 700027,
        message:
          'The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., ' +
          `Thumbprint of key used by client: '${thumbprint}', Configured keys for Application: '${configured}']`,
      };
    }
    let claims: Record<string, unknown>;
    try {
      const verified = await this.jose.jwtVerify(assertion, signer.publicKey, {
        algorithms: ['PS256', 'RS256'],
        audience: this.tokenUrl(tenant),
        issuer: clientId,
        subject: clientId,
        requiredClaims: ['exp', 'nbf', 'jti'],
        clockTolerance: 300,
      });
      claims = verified.payload;
    } catch (error) {
      const code = (error as { code?: string }).code;
      const claim = (error as { claim?: string }).claim;
      if (code === 'ERR_JWT_EXPIRED' || (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && (claim === 'nbf' || claim === 'iat'))) {
        return { status: 400, error: 'invalid_client', code: 700024, message: 'Client assertion is not within its valid time range.' };
      }
      if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' || code === 'ERR_JOSE_ALG_NOT_ALLOWED' || code === 'ERR_JWS_INVALID') {
        return { status: 401, error: 'invalid_client', code: 700027, message: 'Client assertion failed signature validation.' };
      }
      return {
        status: 400,
        error: 'invalid_client',
        code: 50027,
        message: `Invalid JWT token. The client assertion's ${claim ?? 'claims'} did not validate (aud must be the token endpoint, iss and sub the client id).`,
      };
    }
    this.lastCertificateAssertion = { header, claims };
    return undefined;
  }

  private async sign(claims: {
    appid: string;
    objectId: string;
    aud: string;
    roles: string[];
    lifetimeSeconds: number;
    tid: string;
    scp?: string;
  }): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload: Record<string, unknown> = {
      aud: claims.aud,
      iss: `https://sts.windows.net/${claims.tid}/`,
      iat: now - 5,
      nbf: now - 5,
      exp: now + claims.lifetimeSeconds,
      aio: randomUUID(),
      app_displayname: 'oauth2-smtp-relay (local)',
      appid: claims.appid,
      appidacr: '1',
      idp: `https://sts.windows.net/${claims.tid}/`,
      idtyp: 'app',
      oid: claims.objectId,
      rh: '0.local.',
      roles: claims.roles,
      sid: randomUUID(),
      sub: claims.objectId,
      tid: claims.tid,
      uti: randomUUID().replace(/-/g, '').slice(0, 22),
      ver: '1.0',
    };
    if (claims.scp !== undefined) payload.scp = claims.scp;
    return new this.jose.SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.publicJwk.kid }).sign(this.privateKey);
  }

  // ---------------------------------------------------------------- replies

  private sendError(req: IncomingMessage, res: ServerResponse, err: EntraError): void {
    const traceId = randomUUID();
    const header = req.headers['client-request-id'];
    const correlationId = (Array.isArray(header) ? header[0] : header) ?? randomUUID();
    const timestamp = new Date()
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z');
    this.sendJson(res, err.status, {
      error: err.error,
      error_description: `AADSTS${err.code}: ${err.message}\r\nTrace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [err.code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `${this.url}/error?code=${err.code}`,
    });
  }

  private sendInjected(res: ServerResponse, reply: InjectedReply, requestBody: string): void {
    const body = typeof reply.body === 'function' ? (reply.body as (requestBody: string) => unknown)(requestBody) : reply.body;
    const send = () => {
      if (res.destroyed) return;
      const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
      res.writeHead(reply.status, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store, no-cache',
        ...reply.headers,
      });
      res.end(text);
    };
    if (reply.delayMs) setTimeout(send, reply.delayMs);
    else send();
  }

  private sendJson(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store, no-cache',
      pragma: 'no-cache',
      'x-ms-request-id': randomUUID(),
    });
    res.end(JSON.stringify(body));
  }
}

function certificateFromX5c(der: string): X509Certificate | undefined {
  try {
    return new X509Certificate(Buffer.from(der, 'base64'));
  } catch {
    return undefined;
  }
}

function unknownTenant(tenant: string, error: string): EntraError {
  return {
    status: 400,
    error,
    code: 90002,
    message:
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. ` +
      'Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.',
  };
}

function missingParameter(name: string): EntraError {
  return {
    status: 400,
    error: 'invalid_request',
    code: 900144,
    message: `The request body must contain the following parameter: '${name}'.`,
  };
}

/** The resource a client-credentials request asks for: one `<resource>/.default` scope (or a v1 `resource`). */
function audienceOf(form: Record<string, string>): EntraError | { resource: string } {
  if (!form.scope && form.resource) return { resource: form.resource };
  if (!form.scope) return missingParameter('scope');
  const scopes = form.scope.split(/\s+/).filter((scope) => scope && !OIDC_SCOPES.has(scope));
  const resourceScope = scopes[0];
  if (scopes.length !== 1 || !resourceScope || !resourceScope.endsWith('/.default')) {
    return {
      status: 400,
      error: 'invalid_scope',
      code: 1002012,
      message:
        `The provided value for scope ${form.scope} is not valid. Client credential flows must have a scope value ` +
        'with /.default suffixed to the resource identifier (application ID URI).',
    };
  }
  return { resource: resourceScope.slice(0, -'/.default'.length) };
}

function parseBasicAuth(header: string | undefined): { clientId: string; clientSecret: string } | undefined {
  const match = header ? /^Basic\s+(\S+)$/i.exec(header) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
  const unescape = (value: string) => decodeURIComponent(value.replace(/\+/g, ' '));
  return { clientId: unescape(decoded.slice(0, colon)), clientSecret: unescape(decoded.slice(colon + 1)) };
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 64 * 1024) req.destroy(new Error('token request too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
