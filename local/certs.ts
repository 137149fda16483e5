/**
 * A private certificate authority and a loopback server certificate for the
 * local stack. The token endpoint must be HTTPS (MSAL refuses http authorities)
 * and the SMTP server must offer STARTTLS, so both need a certificate that the
 * relay can be told to trust (TLS_EXTRA_CA_FILE = caFile).
 *
 * Made with Node's own WebCrypto and @peculiar/x509 (a certificate builder; node:crypto
 * reads certificates but cannot write them), so the local stack needs no openssl.
 * ECDSA P-256 keys, SHA-256 signatures. Reused between runs while still valid, so a
 * persistent local run keeps one CA the user trusts.
 */
import { KeyObject, X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
// Before @peculiar/x509: its tsyringe needs the Reflect metadata API when it loads.
import './reflectMetadata';
import * as x509 from '@peculiar/x509';

export interface LocalCertificates {
  caPem: string;
  certPem: string;
  keyPem: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

const VALIDITY_DAYS = 825;
const RENEW_WHEN_EXPIRING_WITHIN_MS = 30 * 24 * 60 * 60 * 1000;

export async function createLocalCertificates(dir: string): Promise<LocalCertificates> {
  await mkdir(dir, { recursive: true });
  const files = {
    caFile: path.join(dir, 'ca.pem'),
    certFile: path.join(dir, 'server.pem'),
    keyFile: path.join(dir, 'server-key.pem'),
  };
  const existing = await readUsable(files);
  if (existing) return existing;
  await generate(files);
  const created = await readUsable(files);
  if (!created) throw new Error(`the local CA produced unusable certificates in ${dir}`);
  return created;
}

/** The files in `dir`, if they exist, chain together, match, and are not about to expire. */
async function readUsable(files: { caFile: string; certFile: string; keyFile: string }): Promise<LocalCertificates | undefined> {
  let caPem: string, certPem: string, keyPem: string;
  try {
    [caPem, certPem, keyPem] = await Promise.all([readFile(files.caFile, 'utf8'), readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
  } catch {
    return undefined;
  }
  try {
    const ca = new X509Certificate(caPem);
    const leaf = new X509Certificate(certPem);
    const key = createPrivateKey(keyPem);
    const now = Date.now();
    const usable =
      leaf.verify(ca.publicKey) &&
      leaf.checkPrivateKey(key) &&
      leaf.checkIP('127.0.0.1') !== undefined &&
      new Date(leaf.validFrom).getTime() <= now &&
      new Date(leaf.validTo).getTime() - now > RENEW_WHEN_EXPIRING_WITHIN_MS &&
      new Date(ca.validTo).getTime() - now > RENEW_WHEN_EXPIRING_WITHIN_MS;
    return usable ? { caPem, certPem, keyPem, ...files } : undefined;
  } catch {
    return undefined;
  }
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function generate(files: { caFile: string; certFile: string; keyFile: string }): Promise<void> {
  // The library signs with the global WebCrypto (globalThis.crypto, Node's webcrypto).
  const keys = () => webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const [caKeys, serverKeys] = await Promise.all([keys(), keys()]);
  // A minute back, so a clock a little behind the one that made it still accepts it.
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * 24 * 60 * 60 * 1000);
  // Positive and without a leading zero byte (DER's minimal INTEGER; OpenSSL refuses "illegal padding").
  const serialNumber = () => `1${randomBytes(16).toString('hex').slice(1)}`;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: 'CN=oauth2-smtp-relay local CA',
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: 'CN=localhost',
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(serverKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keyPem = KeyObject.from(serverKeys.privateKey).export({ type: 'pkcs8', format: 'pem' }) as string;
  // Only the three files the stack needs are written; the CA key is never kept,
  // so a leaked local CA cannot sign anything new.
  await writeFile(files.caFile, ca.toString('pem') + '\n');
  await writeFile(files.certFile, server.toString('pem') + '\n');
  await writeFile(files.keyFile, keyPem, { mode: 0o600 });
}
