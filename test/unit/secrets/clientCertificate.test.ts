/** The client certificate PEM checks: what ClientCertificateCredential can sign with, and the named remedies for what it cannot. */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { ClientCertificateProvider, readClientCertificate, type ClientSecretProvider } from '../../../src/secrets';
import { isRelayError, type RelayError } from '../../../src/core/errors';
import { redact } from '../../../src/core/redact';
import { createClientCertificate, createTestCertificateAuthority, type TestClientCertificate } from '../../support/clientCertificates';

function refusal(value: string): RelayError {
  try {
    readClientCertificate(value, 'Key Vault certificate "c"');
  } catch (error) {
    assert.ok(isRelayError(error));
    return error;
  }
  assert.fail('accepted');
}

describe('readClientCertificate', async () => {
  let certificate: TestClientCertificate;
  before(async () => {
    certificate = await createClientCertificate({ validDays: 90 });
  });

  it('reads key + certificate: the SHA-256 thumbprint (x5t#S256), subject and validity', async () => {
    const read = readClientCertificate(certificate.pem, 'x');
    const x509 = new X509Certificate(certificate.certificatePem);
    assert.equal(read.thumbprintSha256, x509.fingerprint256.replace(/:/g, ''));
    assert.equal(read.subject, certificate.subject);
    assert.equal(read.notAfter.getTime(), certificate.notAfter.getTime());
    assert.equal(read.pem, certificate.pem);
  });

  it('reads a chain with the certificate before its issuer, and the key after the certificates', async () => {
    const ca = await createTestCertificateAuthority();
    const issued = await createClientCertificate({ issuer: ca });
    assert.equal(readClientCertificate(issued.pem, 'x').subject, issued.subject);
    assert.equal(readClientCertificate(`${issued.certificatePem}${issued.keyPem}`, 'x').subject, issued.subject);
  });

  it('names PKCS#12 (Key Vault application/x-pkcs12) with the PEM policy remedy', async () => {
    const error = refusal('MIIKAgEDMIIJvgYJKoZIhvcNAQcBoIIJrwSCCasw\nggmnMIIF');
    assert.equal(error.reason, 'client_certificate_unusable');
    assert.equal(error.kind, 'configuration');
    assert.equal(error.diagnosis, 'certificate_is_pkcs12');
    assert.match(error.remedy!, /application\/x-pem-file/);
  });

  it('names a certificate without its key, a key without a certificate, an encrypted key, a key of another certificate', async () => {
    const other = await createClientCertificate();
    const cases: Array<[string, RegExp]> = [
      [certificate.certificatePem, /no private key/],
      [certificate.keyPem, /no certificate/],
      [certificate.pem.replace(/PRIVATE KEY-----/g, 'ENCRYPTED PRIVATE KEY-----'), /encrypted/],
      [`${other.keyPem}${certificate.certificatePem}`, /does not belong to its first certificate/],
      ['not a certificate at all', /holds no PEM/],
    ];
    for (const [value, message] of cases) {
      const error = refusal(value);
      assert.equal(error.diagnosis, 'certificate_without_private_key', String(message));
      assert.match(error.message, message);
    }
  });

  it('never echoes the key, and registers it with the redactor', async () => {
    const other = await createClientCertificate();
    const error = refusal(`${other.keyPem}${certificate.certificatePem}`);
    const keyLine = other.keyPem.split('\n')[1]!;
    assert.ok(!JSON.stringify(error.toJSON()).includes(keyLine));
    assert.ok(!redact(`oops ${other.keyPem}`).includes(keyLine));
  });
});

describe('ClientCertificateProvider', async () => {
  const source = (value: string, expiresOn?: Date): ClientSecretProvider => ({
    store: 'key-vault',
    description: 'Key Vault secret "c" in https://v.vault.azure.net',
    keyVault: { vaultUrl: 'https://v.vault.azure.net', secretName: 'c' },
    current: async () => ({ value, version: 'v1' }),
    reload: async () => ({ value, version: 'v1', properties: { version: 'v1', enabled: true, expiresOn } }),
    onChange() {},
  });

  it("reports the earlier of the certificate's notAfter and the Key Vault expiry", async () => {
    const certificate = await createClientCertificate({ validDays: 20 });
    const sooner = new Date(Date.now() + 5 * 86_400_000);
    assert.equal((await new ClientCertificateProvider(source(certificate.pem, sooner)).reload()).properties?.expiresOn?.getTime(), sooner.getTime());
    const later = new Date(Date.now() + 50 * 86_400_000);
    assert.equal(
      (await new ClientCertificateProvider(source(certificate.pem, later)).reload()).properties?.expiresOn?.getTime(),
      certificate.notAfter.getTime(),
    );
    assert.equal((await new ClientCertificateProvider(source(certificate.pem)).reload()).properties?.expiresOn?.getTime(), certificate.notAfter.getTime());
  });

  it('names the Key Vault certificate, and refuses an unusable PEM when it is read', async () => {
    const provider = new ClientCertificateProvider(source('MIIKAgEDMIIJvgYJKoZIhvcNAQcB'));
    assert.equal(provider.description, 'Key Vault certificate "c" in https://v.vault.azure.net');
    assert.equal(provider.credential, 'certificate');
    await assert.rejects(provider.reload(), (error: unknown) => isRelayError(error) && error.diagnosis === 'certificate_is_pkcs12');
  });
});
