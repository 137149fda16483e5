/** The Google JWT-bearer assertion (RS256, Google's claims) and the classification of Google's token errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify } from 'node:crypto';
import { parseServiceAccountKey } from '../../../src/settings/googleKey';
import { signAssertion } from '../../../src/token/googleTokenSource';
import { classifyTokenFailure, parseTokenErrorBody } from '../../../src/token/classifyTokenError';
import { isSecretRejection } from '../../../src/token/secretTokenSource';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY = parseServiceAccountKey(
  JSON.stringify({
    type: 'service_account',
    private_key_id: '0123456789abcdef0123456789abcdef01234567',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: 'relay@project-1.iam.gserviceaccount.com',
    client_id: '112233445566778899001',
    token_uri: 'https://oauth2.googleapis.com/token',
  }),
);

function google(status: number, error: string, description: string) {
  return classifyTokenFailure(parseTokenErrorBody(status, JSON.stringify({ error, error_description: description })));
}

describe('Google service account assertion', () => {
  it('is an RS256 JWT with kid = private_key_id and Google claims, valid one hour, verifiable with the public key', () => {
    assert.ok('key' in KEY);
    const jwt = signAssertion(KEY.key, 'relay@example.com', ['https://mail.google.com/'], 1_800_000_000);
    const [header, claims, signature] = jwt.split('.');
    assert.deepEqual(JSON.parse(Buffer.from(header!, 'base64url').toString()), { alg: 'RS256', typ: 'JWT', kid: '0123456789abcdef0123456789abcdef01234567' });
    assert.deepEqual(JSON.parse(Buffer.from(claims!, 'base64url').toString()), {
      iss: 'relay@project-1.iam.gserviceaccount.com',
      scope: 'https://mail.google.com/',
      aud: 'https://oauth2.googleapis.com/token',
      sub: 'relay@example.com',
      iat: 1_800_000_000,
      exp: 1_800_003_600,
    });
    assert.ok(verify('RSA-SHA256', Buffer.from(`${header}.${claims}`), publicKey, Buffer.from(signature!, 'base64url')));
  });
});

describe("Google's token errors", () => {
  it('unauthorized_client: domain-wide delegation, with the Admin console path', () => {
    const error = google(
      401,
      'unauthorized_client',
      'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
    );
    assert.equal(error.reason, 'google_delegation_missing');
    assert.equal(error.kind, 'configuration');
    assert.match(error.remedy!, /Security → Access and data control → API controls → Manage Domain Wide Delegation/);
  });

  it('invalid_grant split by its description: signature, time range, unknown user; disabled_client', () => {
    assert.equal(google(400, 'invalid_grant', 'Invalid JWT Signature.').reason, 'google_key_rejected');
    assert.equal(
      google(
        400,
        'invalid_grant',
        'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      ).reason,
      'google_clock_skew',
    );
    assert.equal(google(400, 'invalid_grant', 'Invalid email or User ID').reason, 'google_user_unknown');
    assert.equal(google(401, 'disabled_client', 'The OAuth client was disabled.').reason, 'google_account_disabled');
    assert.equal(google(400, 'invalid_grant', 'Invalid grant: account not found').reason, 'google_account_disabled');
  });

  it("another provider's unauthorized_client or invalid_grant keeps the generic verdict", () => {
    assert.equal(google(400, 'unauthorized_client', 'AADSTS700016: Application not found').reason, 'app_not_found');
    assert.equal(google(400, 'invalid_grant', 'The refresh token has expired').reason, 'token_request_rejected');
  });

  it('a refused Google key makes the relay read the latest Key Vault version once', () => {
    assert.equal(isSecretRejection(google(400, 'invalid_grant', 'Invalid JWT Signature.')), true);
    assert.equal(isSecretRejection(google(400, 'invalid_grant', 'Invalid email or User ID')), false);
  });
});
