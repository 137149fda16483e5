/**
 * Client certificates for OAUTH2_AUTH_MODE=certificate tests, made with node:crypto
 * alone (a few lines of DER; @peculiar/x509 needs a reflect-metadata polyfill that
 * is not installed, and openssl would need a child process, which unit tests may not
 * start): a self-signed one as `az keyvault certificate create` with the default
 * policy makes, or one issued by a test CA (subject name + issuer trust). `pem` is
 * what Key Vault's secret of a PEM certificate holds: the private key (PKCS#8)
 * followed by the certificate (and its issuer).
 */
import { generateKeyPair, randomBytes, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

/** Off the event loop: a 2048-bit key takes long enough on a busy machine to stall the sockets of the servers in this process. */
const newKeyPair = () => promisify(generateKeyPair)('rsa', { modulusLength: 2048 });

export interface TestClientCertificate {
  /** Private key + certificate (+ issuer when issued by a CA), as the Key Vault secret of a PEM certificate. */
  pem: string;
  /** The certificate alone: the public part uploaded to the app registration. */
  certificatePem: string;
  keyPem: string;
  /** e.g. CN=oauth2-smtp-relay-1a2b3c4d, as X509Certificate.subject shows it. */
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

export interface TestCertificateAuthority {
  certificatePem: string;
  commonName: string;
  privateKey: KeyObject;
}

export interface CertificateOptions {
  commonName?: string;
  /** Days from now; default 365 (may be negative: already expired). */
  validDays?: number;
  /** Days before now it became valid; default 1. */
  validSinceDays?: number;
  /** Issue it with this CA instead of self-signing. */
  issuer?: TestCertificateAuthority;
}

const DAY_MS = 86_400_000;

export async function createTestCertificateAuthority(commonName = 'relay test CA'): Promise<TestCertificateAuthority> {
  const { privateKey, publicKey } = await newKeyPair();
  const certificatePem = certificate({
    subject: commonName,
    issuer: commonName,
    publicKey,
    signingKey: privateKey,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 365 * DAY_MS),
  });
  return { certificatePem, commonName, privateKey };
}

export async function createClientCertificate(options: CertificateOptions = {}): Promise<TestClientCertificate> {
  const commonName = options.commonName ?? `oauth2-smtp-relay-${randomBytes(4).toString('hex')}`;
  const notBefore = new Date(Math.floor((Date.now() - (options.validSinceDays ?? 1) * DAY_MS) / 1000) * 1000);
  const notAfter = new Date(Math.floor((Date.now() + (options.validDays ?? 365) * DAY_MS) / 1000) * 1000);
  const { privateKey, publicKey } = await newKeyPair();
  const certificatePem = certificate({
    subject: commonName,
    issuer: options.issuer?.commonName ?? commonName,
    publicKey,
    signingKey: options.issuer?.privateKey ?? privateKey,
    notBefore,
    notAfter,
  });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const chain = options.issuer ? `${certificatePem}${options.issuer.certificatePem}` : certificatePem;
  return { pem: `${keyPem}${chain}`, certificatePem, keyPem, subject: `CN=${commonName}`, notBefore, notAfter };
}

// ------------------------------------------------------------------ DER

interface CertificateFields {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signingKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
}

const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
const COMMON_NAME = '2.5.4.3';

/** An X.509 v3 certificate (RFC 5280 §4.1) signed with sha256WithRSAEncryption, as PEM. */
function certificate(fields: CertificateFields): string {
  const algorithm = seq(oid(SHA256_WITH_RSA), Buffer.from([0x05, 0x00]));
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(randomBytes(8)),
    algorithm,
    name(fields.issuer),
    seq(time(fields.notBefore), time(fields.notAfter)),
    name(fields.subject),
    fields.publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, fields.signingKey);
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;
}

function tlv(tag: number, content: Buffer): Buffer {
  const length = content.length;
  const head = length < 0x80 ? Buffer.from([length]) : length < 0x100 ? Buffer.from([0x81, length]) : Buffer.from([0x82, length >> 8, length & 0xff]);
  return Buffer.concat([Buffer.from([tag]), head, content]);
}

function seq(...items: Buffer[]): Buffer {
  return tlv(0x30, Buffer.concat(items));
}

function integer(value: Buffer): Buffer {
  // DER's minimal form: no leading zero byte unless the next byte has its high bit set (OpenSSL refuses
  // "illegal padding" otherwise), and a zero byte in front of a high bit so the number stays positive.
  let start = 0;
  while (start < value.length - 1 && value[start] === 0 && !(value[start + 1]! & 0x80)) start++;
  const minimal = value.subarray(start);
  return tlv(0x02, minimal[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number);
  const bytes = [first! * 40 + second!];
  for (const part of rest) {
    const chunk = [part & 0x7f];
    for (let value = part >> 7; value > 0; value >>= 7) chunk.unshift((value & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function name(commonName: string): Buffer {
  return seq(tlv(0x31, seq(oid(COMMON_NAME), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

/** UTCTime (years 1950 to 2049) or GeneralizedTime, as RFC 5280 §4.1.2.5 wants. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  const year = date.getUTCFullYear();
  return year < 2050 && year >= 1950 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}
