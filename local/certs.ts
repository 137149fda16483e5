/**
 * A private certificate authority and a loopback server certificate for the
 * local stack. The token endpoint must be HTTPS (MSAL refuses http authorities)
 * and the SMTP server must offer STARTTLS, so both need a certificate that the
 * relay can be told to trust (TLS_EXTRA_CA_FILE = caFile).
 *
 * Generated with the openssl CLI (no extra npm package); reused between runs
 * while still valid so a persistent local run keeps one CA the user trusts.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir, readFile, writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

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

const SERVER_EXTENSIONS = [
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage=serverAuth',
  'subjectAltName=IP:127.0.0.1,DNS:localhost',
  'subjectKeyIdentifier=hash',
  'authorityKeyIdentifier=keyid,issuer',
].join('\n');

export async function createLocalCertificates(dir: string): Promise<LocalCertificates> {
  await mkdir(dir, { recursive: true });
  const files = {
    caFile: path.join(dir, 'ca.pem'),
    certFile: path.join(dir, 'server.pem'),
    keyFile: path.join(dir, 'server-key.pem'),
  };
  const existing = await readUsable(files);
  if (existing) return existing;
  await generate(dir, files);
  const created = await readUsable(files);
  if (!created) throw new Error(`openssl produced unusable certificates in ${dir}`);
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

async function generate(dir: string, files: { caFile: string; certFile: string; keyFile: string }): Promise<void> {
  const caKey = path.join(dir, 'ca-key.pem');
  const csr = path.join(dir, 'server.csr');
  const ext = path.join(dir, 'server.ext');
  const days = String(VALIDITY_DAYS);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-sha256',
    '-days',
    days,
    '-subj',
    '/CN=oauth2-smtp-relay local CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    caKey,
    '-out',
    files.caFile,
  ]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-subj', '/CN=localhost', '-keyout', files.keyFile, '-out', csr]);
  await writeFile(ext, SERVER_EXTENSIONS + '\n');
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    files.caFile,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-days',
    days,
    '-sha256',
    '-extfile',
    ext,
    '-out',
    files.certFile,
  ]);
  // Only the three files the stack needs stay behind; the CA key is not kept,
  // so a leaked local CA cannot sign anything new.
  await Promise.all([caKey, csr, ext, path.join(dir, 'ca.srl')].map((file) => rm(file, { force: true })));
}
