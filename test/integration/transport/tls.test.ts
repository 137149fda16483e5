/** The TLS policy against loopback TLS servers with certificates from the local CA (the pure parts: test/unit/transport/tls.test.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createLocalCertificates } from '../../../local/certs';
import { sharedSecureContext } from '../../../src/transport/tls';

describe('sharedSecureContext', () => {
  /** A server that speaks nothing newer than TLS 1.1. */
  const TLS_1_1_ONLY: tls.TlsOptions = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' };

  /** Connects to a loopback TLS server with the given server certificate and settings; resolves with the error, if any. */
  async function handshake(
    server: { certPem: string; keyPem: string },
    client: tls.ConnectionOptions,
    serverOptions: tls.TlsOptions = {},
  ): Promise<Error | undefined> {
    const listener = tls.createServer({ cert: server.certPem, key: server.keyPem, ...serverOptions }, (socket) => socket.end());
    listener.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      return await new Promise<Error | undefined>((resolve) => {
        const socket = tls.connect({ host: '127.0.0.1', port: (listener.address() as AddressInfo).port, rejectUnauthorized: true, ...client }, () => {
          socket.end();
          resolve(undefined);
        });
        socket.on('error', resolve);
      });
    } finally {
      listener.close();
    }
  }

  it('verifies servers signed by the extra CA or the defaults, refuses others, and refuses TLS below 1.2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trust-'));
    try {
      const ours = await createLocalCertificates(join(dir, 'ours'));
      const other = await createLocalCertificates(join(dir, 'other'));
      const context = sharedSecureContext(ours.caPem)!;
      assert.equal(sharedSecureContext(ours.caPem), context, 'built once, shared by every connection');
      assert.equal(await handshake(ours, { secureContext: context }), undefined);
      const untrusted: NodeJS.ErrnoException | undefined = await handshake(other, { secureContext: context });
      assert.match(String(untrusted?.code), /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/);
      const oldTls = await handshake(ours, { secureContext: context }, TLS_1_1_ONLY);
      assert.ok(oldTls, 'a server that only speaks TLS 1.1 is refused');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps TLS 1.2 as the minimum when the process's defaults allow older versions (e.g. --tls-min-v1.0)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trust-'));
    const saved = { minVersion: tls.DEFAULT_MIN_VERSION, ciphers: tls.DEFAULT_CIPHERS };
    tls.DEFAULT_MIN_VERSION = 'TLSv1';
    tls.DEFAULT_CIPHERS = 'DEFAULT@SECLEVEL=0';
    try {
      const server = await createLocalCertificates(join(dir, 'legacy'));
      const plain = tls.createSecureContext({ ca: [server.caPem] });
      assert.equal(
        await handshake(server, { secureContext: plain }, TLS_1_1_ONLY),
        undefined,
        'control: with these defaults a context without a minimum speaks TLS 1.1',
      );
      assert.ok(await handshake(server, { secureContext: sharedSecureContext(server.caPem) }, TLS_1_1_ONLY), 'the shared context refuses TLS 1.1 all the same');
    } finally {
      tls.DEFAULT_MIN_VERSION = saved.minVersion;
      tls.DEFAULT_CIPHERS = saved.ciphers;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
