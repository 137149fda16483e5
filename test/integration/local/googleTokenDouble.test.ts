/**
 * The Google-shaped token endpoint double and the Gmail front of the local SMTP server check for
 * real: each rule of the JWT-bearer grant broken on its own is refused with Google's error JSON,
 * and a refused XOAUTH2 token gets Gmail's 334 JSON challenge, then 535-5.7.8 after the empty line.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { GoogleTokenDouble, JWT_BEARER_GRANT, type TestServiceAccount } from '../../../local/doubles/googleTokenDouble';
import { LocalSmtpServer } from '../../../local/smtpServer';
import { postForm, RawSmtpClient, sharedCertificates, xoauth2 } from '../../support/localHelpers';
import type { LocalCertificates } from '../../../local/certs';

const USER = 'relay@workspace.example';
const SCOPE = 'https://mail.google.com/';
let certs: LocalCertificates;
let google: GoogleTokenDouble;
let account: TestServiceAccount;

function jwt(header: object, claims: object, privateKeyPem = account.privateKeyPem): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part(header)}.${part(claims)}`;
  return `${input}.${sign('RSA-SHA256', Buffer.from(input), privateKeyPem).toString('base64url')}`;
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: account.clientEmail, scope: SCOPE, aud: google.tokenUri, sub: USER, iat: now, exp: now + 3600, ...overrides };
}

async function grant(assertion: string, grantType = JWT_BEARER_GRANT): Promise<{ status: number; body: Record<string, unknown> }> {
  const reply = await postForm(google.tokenUri, { grant_type: grantType, assertion }, certs.caPem);
  return { status: reply.status, body: JSON.parse(reply.text) as Record<string, unknown> };
}

before(async () => {
  certs = await sharedCertificates();
  google = await GoogleTokenDouble.start({ tls: certs });
  account = await google.createServiceAccount();
  google.delegate(account.clientId, [SCOPE]);
  google.addUser(USER);
});

after(async () => {
  await google.close();
});

describe('Google token endpoint double', () => {
  const header = () => ({ alg: 'RS256', typ: 'JWT', kid: account.privateKeyId });

  it('issues an opaque token for a correct assertion, which verifyAccessToken knows with its sub and scope', async () => {
    const { status, body } = await grant(jwt(header(), claims()));
    assert.equal(status, 200);
    assert.match(body.access_token as string, /^ya29\./);
    assert.equal(body.token_type, 'Bearer');
    const verdict = await google.verifyAccessToken(body.access_token as string);
    assert.deepEqual(verdict.ok && { sub: verdict.claims.sub, scope: verdict.claims.scope }, { sub: USER, scope: SCOPE });
  });

  it('refuses each rule broken on its own with Google error JSON', async () => {
    const { privateKey: stranger } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
    const strangerPem = stranger.export({ type: 'pkcs8', format: 'pem' }).toString();
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[string, string, number, string, RegExp]> = [
      ['another key signed it', jwt(header(), claims(), strangerPem), 400, 'invalid_grant', /^Invalid JWT Signature\.$/],
      ['unknown kid', jwt({ ...header(), kid: 'ffff' }, claims()), 400, 'invalid_grant', /^Invalid JWT Signature\.$/],
      [
        'alg none',
        `${Buffer.from('{"alg":"none","kid":"x"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`,
        400,
        'invalid_grant',
        /Signature/,
      ],
      ['wrong audience', jwt(header(), claims({ aud: 'https://oauth2.googleapis.com/token' })), 400, 'invalid_grant', /audience/],
      ['longer than an hour', jwt(header(), claims({ exp: now + 3601 })), 400, 'invalid_grant', /short-lived token/],
      ['issued in the future', jwt(header(), claims({ iat: now + 1000, exp: now + 2000 })), 400, 'invalid_grant', /short-lived token/],
      ['unknown user', jwt(header(), claims({ sub: 'ghost@workspace.example' })), 400, 'invalid_grant', /^Invalid email or User ID$/],
      [
        'scope not delegated',
        jwt(header(), claims({ scope: `${SCOPE} https://www.googleapis.com/auth/drive` })),
        401,
        'unauthorized_client',
        /Client is unauthorized/,
      ],
      ['unknown account', jwt(header(), claims({ iss: 'ghost@relay-test-project.iam.gserviceaccount.com' })), 400, 'invalid_grant', /account not found/],
    ];
    for (const [name, assertion, status, error, description] of cases) {
      const reply = await grant(assertion);
      assert.equal(reply.status, status, name);
      assert.equal(reply.body.error, error, name);
      assert.match(reply.body.error_description as string, description, name);
    }
    assert.equal((await grant(jwt(header(), claims()), 'client_credentials')).body.error, 'unsupported_grant_type');
  });
});

describe('Gmail front of the local SMTP server', () => {
  it('answers an unknown token with the 334 JSON challenge, then 535-5.7.8 after the empty line', async () => {
    const gmail = await LocalSmtpServer.start({
      tls: certs,
      authorizedMailboxes: [USER],
      verifyToken: (token) => google.verifyAccessToken(token),
      gmail: true,
    });
    const { client } = await RawSmtpClient.connect(gmail.port);
    try {
      await client.command('EHLO client.test');
      await client.startTls(certs.caPem);
      assert.match(await client.command('EHLO client.test'), /AUTH XOAUTH2/);
      const challenge = await client.command(`AUTH XOAUTH2 ${xoauth2(USER, 'ya29.not-a-token-of-ours')}`);
      assert.match(challenge, /^334 /);
      assert.deepEqual(JSON.parse(Buffer.from(challenge.slice(4).trim(), 'base64').toString()), { status: '401', schemes: 'Bearer', scope: SCOPE });
      const final = await client.command('');
      assert.match(final, /^535-5\.7\.8 Username and Password not accepted/);
      assert.match(final, /\n535 5\.7\.8 /);
    } finally {
      client.close();
      await gmail.close();
    }
  });
});
