import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { createLocalCertificates } from '../../../local/certs';
import { tempDir } from '../../support/localHelpers';
import { BUILD_ROOT } from '../../support/paths';

/** Handshake with a TLS server using the certificate, trusting only the generated CA. */
async function handshake(certPem: string, keyPem: string, caPem: string, host: string): Promise<boolean> {
  const server = tls.createServer({ cert: certPem, key: keyPem }, (socket) => socket.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: caPem, servername: host === '127.0.0.1' ? undefined : host });
    const authorized = await new Promise<boolean>((resolve) => {
      socket.once('secureConnect', () => resolve(socket.authorized));
      socket.once('error', () => resolve(false));
    });
    socket.destroy();
    return authorized;
  } finally {
    server.close();
  }
}

describe('createLocalCertificates', () => {
  it('creates a CA and a loopback server certificate that chains to it', async () => {
    const dir = await tempDir('relay-certs-test-');
    const certs = await createLocalCertificates(`${dir}/nested`);
    assert.equal(await readFile(certs.caFile, 'utf8'), certs.caPem);
    assert.equal(await readFile(certs.certFile, 'utf8'), certs.certPem);
    assert.equal(await readFile(certs.keyFile, 'utf8'), certs.keyPem);

    const leaf = new X509Certificate(certs.certPem);
    const ca = new X509Certificate(certs.caPem);
    assert.ok(leaf.verify(ca.publicKey));
    assert.equal(ca.ca, true);
    assert.equal(leaf.ca, false);
    assert.match(leaf.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.match(leaf.subjectAltName ?? '', /DNS:localhost/);
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'serverAuth only');
    assert.ok(new Date(leaf.validTo).getTime() - Date.now() > 800 * 24 * 3600 * 1000);

    assert.equal(await handshake(certs.certPem, certs.keyPem, certs.caPem, '127.0.0.1'), true);
    assert.equal(await handshake(certs.certPem, certs.keyPem, certs.caPem, 'localhost'), true);
  });

  it('reuses valid files and replaces broken ones', async () => {
    const dir = await tempDir('relay-certs-reuse-');
    const first = await createLocalCertificates(dir);
    const again = await createLocalCertificates(dir);
    assert.equal(again.certPem, first.certPem, 'kept between runs');
    assert.equal(again.caPem, first.caPem);

    await writeFile(first.certFile, 'not a certificate');
    const renewed = await createLocalCertificates(dir);
    assert.notEqual(renewed.certPem, first.certPem);
    assert.equal(await handshake(renewed.certPem, renewed.keyPem, renewed.caPem, '127.0.0.1'), true);
    assert.equal(await handshake(renewed.certPem, renewed.keyPem, first.caPem, '127.0.0.1'), false, 'a new CA was made');
  });

  it('needs no openssl: made in a process whose PATH holds no program at all', async () => {
    const dir = await tempDir('relay-certs-no-openssl-');
    const script = `require(${JSON.stringify(join(BUILD_ROOT, 'local', 'certs.js'))}).createLocalCertificates(${JSON.stringify(dir)}).then((c) => process.stdout.write(c.caFile))`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { env: { PATH: '' } });
    assert.equal(stdout, join(dir, 'ca.pem'));
    const [caPem, certPem, keyPem] = await Promise.all(['ca.pem', 'server.pem', 'server-key.pem'].map((file) => readFile(join(dir, file), 'utf8')));
    assert.ok(new X509Certificate(certPem!).verify(new X509Certificate(caPem!).publicKey));
    assert.equal((await stat(join(dir, 'server-key.pem'))).mode & 0o077, 0, 'the key is readable by its owner only');
    assert.equal(await handshake(certPem!, keyPem!, caPem!, 'localhost'), true);
  });
});
