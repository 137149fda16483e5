/** The TLS policy's trust list and shared context (handshakes against loopback servers: test/integration/transport/tls.test.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { sharedSecureContext, trustedCertificates } from '../../../src/transport/tls';

describe('trustedCertificates', () => {
  it("keeps Node's defaults when no extra CA is configured", () => {
    assert.equal(trustedCertificates(undefined), undefined);
    assert.equal(trustedCertificates('  \n'), undefined);
  });

  it('adds the extra CA to the default store (a `ca` option replaces the defaults, so they are listed too)', () => {
    const extra = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const list = trustedCertificates(extra)!;
    const defaults = tls.getCACertificates('default');
    assert.equal(list.length, defaults.length + 1);
    assert.deepEqual(list.slice(0, -1), defaults);
    assert.equal(list.at(-1), extra);
    assert.ok(defaults.length >= tls.rootCertificates.length, "the defaults include Mozilla's bundle");
  });
});

describe('sharedSecureContext', () => {
  it("keeps Node's defaults when no extra CA is configured", () => {
    assert.equal(sharedSecureContext(undefined), undefined);
    assert.equal(sharedSecureContext(' '), undefined);
  });
});
