import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClientSecretCredential } from '@azure/identity';
import { LocalTokenServer } from '../../../local/tokenServer';
import type { LocalCertificates } from '../../../local/certs';
import { postForm, sharedCertificates } from '../../support/localHelpers';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const SECRET = 'local~secret~value~0123456789';
const OTHER_CLIENT = 'ffffffff-0000-0000-0000-000000000001';
const OTHER_SECRET = 'another~secret~value~987';

describe('LocalTokenServer', () => {
  let certs: LocalCertificates;
  let server: LocalTokenServer;

  before(async () => {
    certs = await sharedCertificates();
    server = await LocalTokenServer.start({
      tls: certs,
      tenantId: TENANT,
      clients: [
        { clientId: CLIENT, clientSecret: SECRET },
        { clientId: OTHER_CLIENT, clientSecret: OTHER_SECRET },
      ],
    });
  });
  after(() => server.close());

  const credential = (tenant: string, clientId: string, secret: string) =>
    new ClientSecretCredential(tenant, clientId, secret, {
      authorityHost: server.url,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: certs.caPem },
    });

  /** The message of the error getToken throws (credentials surface Entra's AADSTS text there). */
  async function tokenError(cred: ClientSecretCredential, scope = 'https://outlook.office365.com/.default'): Promise<Error> {
    return cred.getToken(scope).then(
      () => assert.fail('getToken should have failed'),
      (error: Error) => error,
    );
  }

  for (const scope of ['https://outlook.office365.com/.default', 'https://outlook.office.com/.default']) {
    it(`issues a token ClientSecretCredential accepts and Exchange would accept, for ${scope}`, async () => {
      const before = server.tokenRequests;
      const token = await credential(TENANT, CLIENT, SECRET).getToken(scope);
      assert.ok(token);
      assert.ok(token.expiresOnTimestamp > Date.now() + 3000_000, 'expires in about an hour');
      assert.equal(server.tokenRequests, before + 1);
      assert.ok(server.discoveryRequests >= 1);

      const verdict = await server.verifyAccessToken(token.token);
      assert.equal(verdict.ok, true);
      if (!verdict.ok) return;
      assert.equal(verdict.claims.aud, scope.replace('/.default', ''));
      assert.equal(verdict.claims.iss, `https://sts.windows.net/${TENANT}/`);
      assert.equal(verdict.claims.tid, TENANT);
      assert.equal(verdict.claims.appid, CLIENT);
      assert.deepEqual(verdict.claims.roles, ['SMTP.SendAsApp']);
      assert.equal(verdict.claims.scp, undefined);

      assert.equal(server.lastTokenRequest?.client_id, CLIENT);
      assert.equal(server.lastTokenRequest?.grant_type, 'client_credentials');
      assert.equal('client_secret' in (server.lastTokenRequest ?? {}), false, 'the secret is not kept');
    });
  }

  it('rejects a wrong secret with AADSTS7000215 (invalid_client)', async () => {
    const error = await tokenError(credential(TENANT, CLIENT, 'the-secret-id-not-its-value'));
    assert.match(error.message, /invalid_client/);
    assert.match(error.message, /AADSTS7000215/);
    assert.doesNotMatch(error.message, new RegExp(SECRET));
  });

  it('rejects an unknown client id with AADSTS700016 (unauthorized_client)', async () => {
    const error = await tokenError(credential(TENANT, '99999999-9999-9999-9999-999999999999', SECRET));
    assert.match(error.message, /unauthorized_client/);
    assert.match(error.message, /AADSTS700016/);
  });

  it('rejects a scope without /.default with AADSTS1002012 (invalid_scope)', async () => {
    const error = await tokenError(credential(TENANT, CLIENT, SECRET), 'https://outlook.office.com/SMTP.Send');
    assert.match(error.message, /invalid_scope/);
    assert.match(error.message, /AADSTS1002012/);
  });

  it('rejects an expired secret with AADSTS7000222 until the secret is rotated', async () => {
    server.expireSecret(OTHER_CLIENT);
    const error = await tokenError(credential(TENANT, OTHER_CLIENT, OTHER_SECRET));
    assert.match(error.message, /AADSTS7000222/);

    server.setClientSecret(OTHER_CLIENT, 'rotated~secret~value~555');
    const stale = await tokenError(credential(TENANT, OTHER_CLIENT, OTHER_SECRET));
    assert.match(stale.message, /AADSTS7000215/);
    const fresh = await credential(TENANT, OTHER_CLIENT, 'rotated~secret~value~555').getToken('https://outlook.office.com/.default');
    assert.ok(fresh?.token);
  });

  it('an unknown tenant fails discovery (what ClientSecretCredential sees) and answers AADSTS90002 on the token endpoint', async () => {
    const error = await tokenError(credential('00000000-0000-0000-0000-00000000dead', CLIENT, SECRET));
    assert.equal(error.name, 'CredentialUnavailableError');
    assert.match(error.message, /endpoints_resolution_error/);

    const reply = await postForm(
      server.tokenUrl('00000000-0000-0000-0000-00000000dead'),
      { grant_type: 'client_credentials', client_id: CLIENT, client_secret: SECRET, scope: 'https://outlook.office.com/.default' },
      certs.caPem,
    );
    assert.equal(reply.status, 400);
    const body = JSON.parse(reply.text) as Record<string, unknown>;
    assert.equal(body.error, 'invalid_request');
    assert.deepEqual(body.error_codes, [90002]);
    assert.match(String(body.error_description), /^AADSTS90002: .*\r\nTrace ID: \S+ Correlation ID: \S+ Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/s);
    assert.equal(typeof body.trace_id, 'string');
    assert.equal(typeof body.correlation_id, 'string');
    assert.equal(typeof body.timestamp, 'string');
  });

  it('answers a grant other than client_credentials with unsupported_grant_type', async () => {
    const reply = await postForm(
      server.tokenUrl(),
      { grant_type: 'password', client_id: CLIENT, client_secret: SECRET, scope: 'https://outlook.office.com/.default' },
      certs.caPem,
    );
    assert.equal(reply.status, 400);
    assert.equal((JSON.parse(reply.text) as { error: string }).error, 'unsupported_grant_type');
  });

  it('serves the plain RFC 6749 endpoint with credentials in the body or in HTTP Basic', async () => {
    const viaBody = await postForm(
      server.genericTokenUrl,
      { grant_type: 'client_credentials', client_id: CLIENT, client_secret: SECRET, scope: 'https://outlook.office365.com/.default' },
      certs.caPem,
    );
    assert.equal(viaBody.status, 200);
    const issued = JSON.parse(viaBody.text) as Record<string, unknown>;
    assert.equal(issued.token_type, 'Bearer');
    assert.equal(issued.expires_in, 3600);
    assert.equal(issued.ext_expires_in, 3600);
    assert.equal((await server.verifyAccessToken(String(issued.access_token))).ok, true);

    const basic = Buffer.from(`${encodeURIComponent(CLIENT)}:${encodeURIComponent(SECRET)}`).toString('base64');
    const viaBasic = await postForm(server.genericTokenUrl, { grant_type: 'client_credentials', scope: 'https://outlook.office.com/.default' }, certs.caPem, {
      authorization: `Basic ${basic}`,
    });
    assert.equal(viaBasic.status, 200);

    const wrongBasic = Buffer.from(`${CLIENT}:nope`).toString('base64');
    const rejected = await postForm(server.genericTokenUrl, { grant_type: 'client_credentials', scope: 'https://outlook.office.com/.default' }, certs.caPem, {
      authorization: `Basic ${wrongBasic}`,
    });
    assert.equal(rejected.status, 401);
    assert.equal((JSON.parse(rejected.text) as { error: string }).error, 'invalid_client');
  });

  it('serves injected replies in order, then goes back to normal', async () => {
    const form = { grant_type: 'client_credentials', client_id: CLIENT, client_secret: SECRET, scope: 'https://outlook.office.com/.default' };
    server.failNext({ status: 429, body: { error: 'temporarily_unavailable' }, headers: { 'retry-after': '7' } });
    server.failNext({ status: 200, body: '{"access_token": "abc', delayMs: 20 }, 2);
    server.failNext({ status: 200, body: { token_type: 'Bearer', access_token: 'no-expiry' } });

    const throttled = await postForm(server.tokenUrl(), form, certs.caPem);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers['retry-after'], '7');
    for (let i = 0; i < 2; i++) {
      const malformed = await postForm(server.tokenUrl(), form, certs.caPem);
      assert.equal(malformed.status, 200);
      assert.throws(() => JSON.parse(malformed.text));
    }
    const withoutExpiry = await postForm(server.genericTokenUrl, form, certs.caPem);
    assert.deepEqual(JSON.parse(withoutExpiry.text), { token_type: 'Bearer', access_token: 'no-expiry' });
    const normal = await postForm(server.tokenUrl(), form, certs.caPem);
    assert.equal(normal.status, 200);
  });

  it('verifyAccessToken rejects what Exchange Online would reject', async () => {
    assert.equal((await server.verifyAccessToken(await server.issueToken())).ok, true);
    assert.equal((await server.verifyAccessToken(await server.issueToken({ aud: 'https://outlook.office.com/' }))).ok, true);

    const cases: Array<[string, Promise<string>, RegExp]> = [
      ['wrong audience', server.issueToken({ aud: 'https://graph.microsoft.com' }), /audience/],
      ['expired', server.issueToken({ expiresInSeconds: -120 }), /ERR_JWT_EXPIRED/],
      ['no SMTP.SendAsApp role', server.issueToken({ roles: ['Mail.Send'] }), /SMTP\.SendAsApp/],
      ['other tenant', server.issueToken({ tid: '00000000-0000-0000-0000-000000000000' }), /ERR_JWT_CLAIM_VALIDATION_FAILED/],
      ['not a JWT', Promise.resolve('opaque-token'), /ERR_JWS_INVALID|ERR_JWT_INVALID/],
    ];
    for (const [name, token, reason] of cases) {
      const verdict = await server.verifyAccessToken(await token);
      assert.equal(verdict.ok, false, name);
      if (!verdict.ok) assert.match(verdict.reason, reason, name);
    }

    const foreign = await LocalTokenServer.start({ tls: certs, tenantId: TENANT, clients: [{ clientId: CLIENT, clientSecret: SECRET }] });
    try {
      const verdict = await server.verifyAccessToken(await foreign.issueToken());
      assert.equal(verdict.ok, false, 'a token signed by another key');
    } finally {
      await foreign.close();
    }
  });
});
