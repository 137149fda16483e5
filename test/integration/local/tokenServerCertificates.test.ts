/**
 * The local Entra endpoint's checks of certificate-signed client assertions (RFC 7523 §3, Entra's rules),
 * with assertions made by hand so each rule is broken on its own: an unknown thumbprint, a signature by
 * another key under a registered thumbprint, the wrong audience, issuer or subject, an expired or
 * not-yet-valid assertion, no jti. The relay's own (MSAL-made) assertions are in
 * test/integration/secrets/certificate.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, createPrivateKey, randomUUID, sign } from 'node:crypto';
import { JWT_BEARER_ASSERTION, LocalTokenServer } from '../../../local/tokenServer';
import { postForm, sharedCertificates } from '../../support/localHelpers';
import { createClientCertificate, type TestClientCertificate } from '../../support/clientCertificates';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('LocalTokenServer: certificate client assertions', () => {
  let server: LocalTokenServer;
  let ca: string;
  let registered: TestClientCertificate;
  let other: TestClientCertificate;

  before(async () => {
    const certs = await sharedCertificates();
    ca = certs.caPem;
    server = await LocalTokenServer.start({ tls: certs, tenantId: TENANT, clients: [{ clientId: CLIENT, clientSecret: 'unused~secret~0123456789' }] });
    registered = await createClientCertificate();
    other = await createClientCertificate();
    server.addClientCertificate(CLIENT, registered.certificatePem);
  });
  after(() => server.close());

  function assertion(options: { claims?: Record<string, unknown>; signWith?: TestClientCertificate; thumbprintOf?: TestClientCertificate } = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const thumbprint = createHash('sha256')
      .update(new X509Certificate((options.thumbprintOf ?? registered).certificatePem).raw)
      .digest('base64url');
    const header = { alg: 'RS256', typ: 'JWT', 'x5t#S256': thumbprint };
    const claims = { aud: server.tokenUrl(), iss: CLIENT, sub: CLIENT, nbf: now, exp: now + 600, jti: randomUUID(), ...options.claims };
    for (const [key, value] of Object.entries(claims)) if (value === undefined) delete (claims as Record<string, unknown>)[key];
    const input = `${b64url(header)}.${b64url(claims)}`;
    const signature = sign('sha256', Buffer.from(input), createPrivateKey((options.signWith ?? registered).keyPem)).toString('base64url');
    return `${input}.${signature}`;
  }

  async function tokenRequest(clientAssertion: string): Promise<{ status: number; code?: number }> {
    const reply = await postForm(
      server.tokenUrl(),
      {
        grant_type: 'client_credentials',
        client_id: CLIENT,
        scope: 'https://outlook.office365.com/.default',
        client_assertion_type: JWT_BEARER_ASSERTION,
        client_assertion: clientAssertion,
      },
      ca,
    );
    const body = JSON.parse(reply.text) as { error_codes?: number[] };
    return { status: reply.status, code: body.error_codes?.[0] };
  }

  it('issues a token for an assertion signed by a registered certificate', async () => {
    assert.deepEqual(await tokenRequest(assertion()), { status: 200, code: undefined });
  });

  it('AADSTS700027 for a certificate not uploaded to the app, and for another key under a registered thumbprint', async () => {
    assert.deepEqual(await tokenRequest(assertion({ signWith: other, thumbprintOf: other })), { status: 401, code: 700027 });
    assert.deepEqual(await tokenRequest(assertion({ signWith: other })), { status: 401, code: 700027 });
  });

  it('AADSTS700024 for an expired or not yet valid assertion', async () => {
    const now = Math.floor(Date.now() / 1000);
    assert.deepEqual(await tokenRequest(assertion({ claims: { nbf: now - 7200, exp: now - 3600 } })), { status: 400, code: 700024 });
    assert.deepEqual(await tokenRequest(assertion({ claims: { nbf: now + 3600, exp: now + 4200 } })), { status: 400, code: 700024 });
  });

  it('refuses the wrong audience, issuer or subject, and a missing jti', async () => {
    for (const claims of [{ aud: `${server.url}/other-tenant/oauth2/v2.0/token` }, { iss: 'someone-else' }, { sub: 'someone-else' }, { jti: undefined }]) {
      assert.deepEqual(await tokenRequest(assertion({ claims })), { status: 400, code: 50027 }, JSON.stringify(claims));
    }
  });

  it('stops accepting a certificate once it is removed from the app', async () => {
    const removed = await createClientCertificate();
    server.addClientCertificate(CLIENT, removed.certificatePem);
    assert.equal((await tokenRequest(assertion({ signWith: removed, thumbprintOf: removed }))).status, 200);
    server.removeClientCertificate(CLIENT, removed.certificatePem);
    assert.deepEqual(await tokenRequest(assertion({ signWith: removed, thumbprintOf: removed })), { status: 401, code: 700027 });
  });
});
