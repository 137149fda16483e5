/**
 * The token sources against the local Entra-shaped HTTPS endpoint
 * (local/tokenServer.ts): ClientSecretCredential unchanged, the plain RFC 6749
 * POST, and every Entra error answer classified.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { createLocalCertificates, type LocalCertificates } from '../../../local/certs';
import { LocalTokenServer } from '../../../local/tokenServer';
import type { ClientSecretAuth, MicrosoftOAuthSettings, OAuthClientSettings } from '../../../src/settings';
import type { Logger } from '../../../src/core/log';
import { redact } from '../../../src/core/redact';
import { createTokenProvider, GenericTokenSource, MicrosoftTokenSource, TokenCache } from '../../../src/token';
import { rejection } from '../../support/rejection';

const TENANT = '7d3b6a52-0c55-4d0e-9a5a-2f1d3c4b5a60';
const CLIENT_ID = '0f6c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const SECRET = 'Qx8~local.test-secret_value_1234';
const OTHER_CLIENT = '9e8d7c6b-5a49-4838-a726-151403020100';
const OTHER_SECRET = 'Zz9~other.test-secret_value_5678';
const SCOPE_365 = 'https://outlook.office365.com/.default';
const SCOPE_OFFICE = 'https://outlook.office.com/.default';

let certs: LocalCertificates;
let server: LocalTokenServer;

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info() {}, warn: (message) => warnings.push(message), error() {} };
}

type MicrosoftSecretSettings = MicrosoftOAuthSettings & OAuthClientSettings & { clientSecret: string };

/** Settings for a MicrosoftTokenSource (the secret's value) and createTokenProvider (the secret from its setting) alike. */
function microsoft(overrides: Partial<MicrosoftSecretSettings> = {}): MicrosoftSecretSettings & ClientSecretAuth {
  const settings: MicrosoftSecretSettings = {
    provider: 'microsoft',
    tenantId: TENANT,
    authorityHost: server.url,
    tokenUrl: server.tokenUrl(),
    disableInstanceDiscovery: true,
    clientId: CLIENT_ID,
    clientSecret: SECRET,
    scopes: [SCOPE_365],
    refreshMarginMs: 10 * 60_000,
    ...overrides,
  };
  return { ...settings, kind: 'clientSecret', source: { kind: 'setting', clientSecret: settings.clientSecret } };
}

type GenericSettings = { tokenUrl: string; clientId: string; clientSecret: string; scopes: string[] };

function generic(overrides: Partial<GenericSettings> = {}): GenericSettings {
  return { tokenUrl: server.genericTokenUrl, clientId: CLIENT_ID, clientSecret: SECRET, scopes: [SCOPE_365], ...overrides };
}

before(async () => {
  certs = await createLocalCertificates(await mkdtemp(path.join(os.tmpdir(), 'relay-token-test-')));
  server = await LocalTokenServer.start({
    tls: certs,
    tenantId: TENANT,
    clients: [
      { clientId: CLIENT_ID, clientSecret: SECRET },
      { clientId: OTHER_CLIENT, clientSecret: OTHER_SECRET },
    ],
  });
});

after(async () => {
  await server.close();
});

describe('MicrosoftTokenSource (ClientSecretCredential unchanged)', () => {
  for (const scope of [SCOPE_365, SCOPE_OFFICE]) {
    it(`gets an Exchange Online app-only token for ${scope}`, async () => {
      const source = new MicrosoftTokenSource(microsoft({ scopes: [scope] }), { extraCa: certs.caPem });
      const token = await source.fetchToken();
      const verdict = await server.verifyAccessToken(token.token);
      assert.ok(verdict.ok, verdict.ok ? '' : verdict.reason);
      assert.equal(verdict.claims.aud, scope.replace('/.default', ''));
      assert.ok(token.expiresOnTimestamp > Date.now() + 50 * 60_000, 'lifetime from expires_in (3600 s)');
      assert.equal(server.lastTokenRequest?.grant_type, 'client_credentials');
      assert.equal(server.lastTokenRequest?.scope, scope);
    });
  }

  it('trusts the local endpoint only through the extra CA', async () => {
    // Without the extra CA the local certificate is not trusted...
    const untrusted = await rejection(new MicrosoftTokenSource(microsoft()).fetchToken());
    assert.equal(untrusted.reason, 'token_endpoint_unavailable');
    assert.equal(untrusted.kind, 'transient');
    assert.match(untrusted.message, /TLS|certificate/);
    // ...and with it, it is (test/unit/transport/tls.test.ts shows the default store is kept alongside).
    await new MicrosoftTokenSource(microsoft(), { extraCa: certs.caPem }).fetchToken();
  });

  it('fetches a new token on every call (no hidden MSAL cache behind TokenCache)', async () => {
    const cache = new TokenCache(new MicrosoftTokenSource(microsoft(), { extraCa: certs.caPem }), { refreshMarginMs: 10 * 60_000 });
    const before = server.tokenRequests;
    const first = await cache.getToken();
    cache.invalidate(first.token);
    const second = await cache.getToken();
    assert.notEqual(second.token, first.token);
    assert.equal(server.tokenRequests - before, 2);
  });

  it('a token answer without expires_in gets a short assumed lifetime and a warning, not an expired token', async () => {
    server.failNext({ status: 200, body: { token_type: 'Bearer', access_token: 'opaque-access-token-without-expiry' } });
    const logger = recordingLogger();
    const token = await new MicrosoftTokenSource(microsoft(), { extraCa: certs.caPem, logger }).fetchToken();
    assert.ok(token.expiresOnTimestamp > Date.now(), 'not already expired');
    assert.ok(token.expiresOnTimestamp <= Date.now() + 5 * 60_000);
    assert.equal(logger.warnings.length, 1);
  });
});

describe('GenericTokenSource (plain RFC 6749 client-credentials POST)', () => {
  it('posts the form and reads access_token and expires_in', async () => {
    const source = new GenericTokenSource(generic({ scopes: [SCOPE_OFFICE] }), { extraCa: certs.caPem });
    const token = await source.fetchToken();
    const verdict = await server.verifyAccessToken(token.token);
    assert.ok(verdict.ok, verdict.ok ? '' : verdict.reason);
    assert.deepEqual(server.lastTokenRequest, { grant_type: 'client_credentials', client_id: CLIENT_ID, scope: SCOPE_OFFICE });
    assert.ok(token.expiresOnTimestamp > Date.now() + 50 * 60_000);
  });

  it('joins several scopes with spaces', async () => {
    const source = new GenericTokenSource(generic({ scopes: ['https://example.test/mail.send', 'https://example.test/mail.read'] }), { extraCa: certs.caPem });
    await assert.rejects(source.fetchToken()); // Entra wants one /.default scope; other providers take several
    assert.equal(server.lastTokenRequest?.scope, 'https://example.test/mail.send https://example.test/mail.read');
  });

  it('a missing expires_in means a short lifetime, with a warning', async () => {
    server.failNext({ status: 200, body: { token_type: 'Bearer', access_token: 'opaque-token-no-expiry' } });
    const logger = recordingLogger();
    const token = await new GenericTokenSource(generic(), { extraCa: certs.caPem, logger }).fetchToken();
    assert.ok(token.expiresOnTimestamp > Date.now() && token.expiresOnTimestamp <= Date.now() + 5 * 60_000);
    assert.equal(logger.warnings.length, 1);
  });

  it('gives up after the request timeout', async () => {
    server.failNext({ status: 200, delayMs: 1000, body: { token_type: 'Bearer', access_token: 'late-token', expires_in: 3600 } });
    const error = await rejection(new GenericTokenSource(generic(), { extraCa: certs.caPem, requestTimeoutMs: 200 }).fetchToken());
    assert.equal(error.reason, 'token_endpoint_unavailable');
    assert.match(error.message, /timed out/);
  });

  it('refuses a plain-HTTP token URL (the form carries the secret)', () => {
    assert.throws(() => new GenericTokenSource(generic({ tokenUrl: 'http://127.0.0.1:1/token' })));
  });
});

describe('token errors from the endpoint, for both sources', () => {
  type Case = {
    name: string;
    microsoft?: Partial<MicrosoftSecretSettings>;
    generic?: Partial<GenericSettings> | false;
    prepare?: () => void;
    cleanup?: () => void;
    reason: string;
    kind: string;
    reply?: RegExp;
    retryAfter?: number;
  };
  const cases: Case[] = [
    {
      name: 'unknown tenant',
      microsoft: { tenantId: 'contoso-typo' },
      generic: false,
      reason: 'tenant_not_found',
      kind: 'configuration',
      reply: /AADSTS90002/,
    },
    {
      name: 'unknown application',
      microsoft: { clientId: 'not-registered' },
      generic: { clientId: 'not-registered' },
      reason: 'app_not_found',
      kind: 'configuration',
      reply: /^unauthorized_client: AADSTS700016/,
    },
    {
      name: 'wrong secret',
      microsoft: { clientSecret: 'secret-id-copied-instead' },
      generic: { clientSecret: 'secret-id-copied-instead' },
      reason: 'invalid_client_secret',
      kind: 'configuration',
      reply: /^invalid_client: AADSTS7000215/,
    },
    {
      name: 'expired secret',
      microsoft: { clientId: OTHER_CLIENT, clientSecret: OTHER_SECRET },
      generic: { clientId: OTHER_CLIENT, clientSecret: OTHER_SECRET },
      prepare: () => server.expireSecret(OTHER_CLIENT),
      cleanup: () => server.setClientSecret(OTHER_CLIENT, OTHER_SECRET),
      reason: 'expired_client_secret',
      kind: 'configuration',
      reply: /AADSTS7000222/,
    },
    {
      name: 'scope without /.default',
      microsoft: { scopes: ['https://outlook.office365.com'] },
      generic: { scopes: ['https://outlook.office365.com'] },
      reason: 'invalid_scope',
      kind: 'configuration',
      reply: /AADSTS1002012/,
    },
    {
      name: 'throttled with Retry-After',
      prepare: () =>
        server.failNext({
          status: 429,
          headers: { 'retry-after': '42' },
          body: {
            error: 'temporarily_unavailable',
            error_description: 'AADSTS50196: The server terminated an operation because it encountered a client request loop.',
            error_codes: [50196],
          },
        }),
      reason: 'token_endpoint_throttled',
      kind: 'transient',
      retryAfter: 42,
    },
    {
      name: 'server error',
      prepare: () => server.failNext({ status: 500, body: 'Internal Server Error' }),
      reason: 'token_endpoint_unavailable',
      kind: 'transient',
      reply: /500/,
    },
    {
      name: 'malformed JSON',
      prepare: () => server.failNext({ status: 200, body: '{"access_token": ' }),
      reason: 'token_endpoint_unavailable',
      kind: 'transient',
    },
  ];

  for (const row of cases) {
    it(`${row.name} (Microsoft)`, async () => {
      row.prepare?.();
      try {
        const error = await rejection(new MicrosoftTokenSource(microsoft(row.microsoft), { extraCa: certs.caPem }).fetchToken());
        assert.equal(error.reason, row.reason);
        assert.equal(error.kind, row.kind);
        if (row.reply) assert.match(error.providerReply ?? '', row.reply);
        if (row.retryAfter) assert.equal(error.retryAfterSeconds, row.retryAfter);
        assert.ok(!JSON.stringify(error.toJSON()).includes(SECRET));
      } finally {
        row.cleanup?.();
      }
    });
    if (row.generic === false) continue;
    it(`${row.name} (generic)`, async () => {
      row.prepare?.();
      try {
        const error = await rejection(new GenericTokenSource(generic(row.generic || {}), { extraCa: certs.caPem }).fetchToken());
        assert.equal(error.reason, row.reason);
        assert.equal(error.kind, row.kind);
        if (row.reply) assert.match(error.providerReply ?? '', row.reply);
        if (row.retryAfter) assert.equal(error.retryAfterSeconds, row.retryAfter);
      } finally {
        row.cleanup?.();
      }
    });
  }

  it('connection refused (both sources)', async () => {
    const closed = 'https://127.0.0.1:1';
    for (const source of [
      new MicrosoftTokenSource(microsoft({ authorityHost: closed }), { extraCa: certs.caPem }),
      new GenericTokenSource(generic({ tokenUrl: `${closed}/oauth2/token` }), { extraCa: certs.caPem }),
    ]) {
      const error = await rejection(source.fetchToken());
      assert.equal(error.reason, 'token_endpoint_unavailable');
      assert.match(error.message, /ECONNREFUSED/);
    }
  });

  it('untrusted certificate (generic)', async () => {
    const error = await rejection(new GenericTokenSource(generic()).fetchToken());
    assert.equal(error.reason, 'token_endpoint_unavailable');
    assert.match(error.message, /TLS certificate was not accepted/);
  });
});

describe('createTokenProvider', () => {
  it('chooses the source by provider, shares one cache, and masks the client secret', async () => {
    const viaMicrosoft = createTokenProvider(microsoft(), { extraCa: certs.caPem });
    const viaGeneric = createTokenProvider(
      { kind: 'clientSecret', source: { kind: 'setting', clientSecret: SECRET }, provider: 'generic', ...generic(), refreshMarginMs: 10 * 60_000 },
      { extraCa: certs.caPem },
    );
    const before = server.discoveryRequests;
    await viaMicrosoft.getToken();
    assert.equal(server.discoveryRequests - before, 1, 'the Microsoft path reads the discovery document');
    await viaGeneric.getToken();
    assert.equal(server.discoveryRequests - before, 1, 'the generic path posts straight to the token URL');

    const requests = server.tokenRequests;
    await Promise.all(Array.from({ length: 20 }, () => viaMicrosoft.getToken()));
    assert.equal(server.tokenRequests, requests, 'cached');
    assert.equal(redact(`secret=${SECRET}`), 'secret=[redacted]');
  });
});
