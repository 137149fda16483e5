/** The refusals only a certificate assertion meets, named with their setup step; anything else passes unchanged. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { certificateRemedy, classifyTokenFailure, isSecretRejection } from '../../../src/token';

function entra(status: number, error: string, code: number, text: string) {
  return classifyTokenFailure({ status, error, errorCodes: [code], errorDescription: `AADSTS${code}: ${text}\r\nTrace ID: x` });
}

describe('certificateRemedy', () => {
  it('AADSTS700027: the certificate is not registered: upload its public part; a newer version may fix it', () => {
    const error = certificateRemedy(
      entra(401, 'invalid_client', 700027, 'The certificate with identifier used to sign the client assertion is not registered on application.'),
    );
    assert.equal(error.reason, 'invalid_client_certificate');
    assert.equal(error.kind, 'configuration');
    assert.equal(error.diagnosis, 'certificate_not_registered');
    assert.match(error.remedy!, /Upload the certificate's public part/);
    assert.match(error.providerReply!, /^invalid_client: AADSTS700027/);
    assert.equal(isSecretRejection(error), true, 'a renewed Key Vault version is looked for once');
  });

  it("AADSTS700024: the assertion's time range: the host clock", () => {
    const error = certificateRemedy(entra(400, 'invalid_client', 700024, 'Client assertion is not within its valid time range.'));
    assert.equal(error.reason, 'client_assertion_time_invalid');
    assert.equal(error.diagnosis, 'client_assertion_time_invalid');
    assert.match(error.remedy!, /clock/);
    assert.equal(isSecretRejection(error), false);
  });

  it('leaves other failures as they were classified', () => {
    const original = entra(400, 'unauthorized_client', 700016, 'Application was not found.');
    assert.equal(certificateRemedy(original), original);
  });
});
