/** Token claims decoded locally, from a token the local Entra-shaped endpoint signs (unsigned ones: test/unit/token/claims.test.ts). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkExchangeClaims, decodeTokenClaims } from '../../../src/token/claims';
import { LocalTokenServer } from '../../../local/tokenServer';
import { sharedCertificates } from '../../support/localHelpers';

const TENANT = '7a1c0de0-0000-4000-8000-00000000c1a1';
const CLIENT = '5e4d0000-0000-4000-8000-0000000000c2';

describe('decodeTokenClaims', () => {
  test('reads the claims of a token the Entra-shaped endpoint signs, and only the non-secret ones', async () => {
    const certs = await sharedCertificates();
    const server = await LocalTokenServer.start({
      tls: { certPem: certs.certPem, keyPem: certs.keyPem },
      tenantId: TENANT,
      clients: [{ clientId: CLIENT, clientSecret: 'not-used-here-1234' }],
    });
    try {
      const token = await server.issueToken({ aud: 'https://outlook.office.com', roles: ['SMTP.SendAsApp'] });
      const claims = decodeTokenClaims(token)!;
      assert.deepEqual(
        { aud: claims.aud, roles: claims.roles, tid: claims.tid, appid: claims.appid },
        { aud: 'https://outlook.office.com', roles: ['SMTP.SendAsApp'], tid: TENANT, appid: CLIENT },
      );
      assert.match(claims.expiresOn!, /^\d{4}-\d\d-\d\dT/);
      assert.ok(!JSON.stringify(claims).includes(token.split('.')[2]!), 'the signature is not kept');
      assert.deepEqual(checkExchangeClaims(claims, { tenantId: TENANT, clientId: CLIENT }), []);
    } finally {
      await server.close();
    }
  });
});
