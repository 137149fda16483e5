/**
 * The client certificate of OAUTH2_AUTH_MODE=certificate, as @azure/identity's
 * ClientCertificateCredential takes it: one PEM with the private key and the
 * certificate. It comes from a Key Vault certificate (its private key is only
 * readable through the secret of the same name, PEM when the certificate's policy
 * says application/x-pem-file) or from a PEM file for local runs.
 *
 * readClientCertificate checks the PEM before anything is signed with it, so a
 * PKCS#12 secret, a certificate without its key or a key of another certificate
 * is named with its remedy instead of failing inside MSAL. Node.js has no PKCS#12
 * parser (and the relay takes no dependency for one), so PKCS#12 is refused with
 * the policy change that makes Key Vault hand out PEM.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { registerSecret } from '../core/redact';
import { CheckedSecretProvider } from './checkedProvider';
import type { ClientSecret, ClientSecretProperties, ClientSecretProvider } from './types';

export interface ClientCertificate {
  /** The PEM as given (private key and certificate chain), for ClientCertificateCredential. */
  pem: string;
  /** SHA-256 thumbprint of the first certificate (hex, upper case): the x5t#S256 of the assertions. */
  thumbprintSha256: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/** Parses and checks the PEM; `where` names its source for the message. Throws a RelayError (never echoing the value). */
export function readClientCertificate(value: string, where: string): ClientCertificate {
  const text = value.trim();
  if (!text.includes('-----BEGIN')) {
    throw unusable(
      looksLikePkcs12(text)
        ? `${where} holds PKCS#12 (application/x-pkcs12), not PEM`
        : `${where} holds no PEM (no -----BEGIN PRIVATE KEY----- and -----BEGIN CERTIFICATE----- blocks)`,
      looksLikePkcs12(text) ? 'certificate_is_pkcs12' : 'certificate_without_private_key',
    );
  }
  const keyBlock = KEY_BLOCK.exec(text);
  if (keyBlock) registerSecret(keyBlock[0]);
  const certBlock = CERT_BLOCK.exec(text);
  if (!keyBlock) throw unusable(`${where} holds no private key (only a certificate: its public part)`, 'certificate_without_private_key');
  if (keyBlock[1] === 'ENCRYPTED PRIVATE KEY') throw unusable(`the private key in ${where} is encrypted`, 'certificate_without_private_key');
  if (!certBlock) throw unusable(`${where} holds a private key but no certificate`, 'certificate_without_private_key');
  let key: KeyObject;
  let certificate: X509Certificate;
  try {
    key = createPrivateKey(keyBlock[0]);
  } catch {
    throw unusable(`the private key in ${where} cannot be read`, 'certificate_without_private_key');
  }
  try {
    certificate = new X509Certificate(certBlock[0]);
  } catch {
    throw unusable(`the certificate in ${where} cannot be read`, 'certificate_without_private_key');
  }
  // MSAL takes the first certificate's thumbprint: the key must be that certificate's.
  if (!certificate.checkPrivateKey(key)) {
    throw unusable(`the private key in ${where} does not belong to its first certificate (${certificate.subject})`, 'certificate_without_private_key');
  }
  return {
    pem: value,
    thumbprintSha256: certificate.fingerprint256.replace(/:/g, '').toUpperCase(),
    subject: certificate.subject,
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
  };
}

/** Key Vault's PKCS#12 secret is the base64 of a DER SEQUENCE (first byte 0x30). */
function looksLikePkcs12(text: string): boolean {
  if (!/^[A-Za-z0-9+/=\s]+$/.test(text)) return false;
  return Buffer.from(text.replace(/\s+/g, ''), 'base64')[0] === 0x30;
}

function unusable(what: string, diagnosis: 'certificate_is_pkcs12' | 'certificate_without_private_key'): RelayError {
  return new RelayError(`The client certificate cannot be used: ${what}.`, {
    reason: 'client_certificate_unusable',
    kind: 'configuration',
    ...advice(diagnosis),
  });
}

/**
 * The certificate as a credential source: the PEM is the "secret" value, so the token cache,
 * the refused-credential re-read and the monitor work as for a client secret. What it adds: the
 * expiry is the earlier of the certificate's notAfter and the Key Vault secret's `expires`
 * (Key Vault sets both alike; a hand-stored secret may have neither), and an unusable PEM is
 * reported when it is read by the monitor or the doctor, not only at the next token request.
 */
export class ClientCertificateProvider extends CheckedSecretProvider {
  readonly credential = 'certificate' as const;

  constructor(inner: ClientSecretProvider) {
    super(inner, inner.keyVault ? `Key Vault certificate "${inner.keyVault.secretName}" in ${inner.keyVault.vaultUrl}` : inner.description);
  }

  async reload(): Promise<ClientSecret & { properties?: ClientSecretProperties }> {
    const latest = await this.inner.reload();
    const certificate = readClientCertificate(latest.value, this.description);
    const vaultExpiry = latest.properties?.expiresOn;
    const expiresOn = vaultExpiry && vaultExpiry.getTime() < certificate.notAfter.getTime() ? vaultExpiry : certificate.notAfter;
    const properties: ClientSecretProperties = {
      enabled: true,
      ...latest.properties,
      version: latest.properties?.version ?? certificate.thumbprintSha256,
      expiresOn,
    };
    return { ...latest, properties };
  }
}

/**
 * A PEM file (OAUTH2_CLIENT_CERTIFICATE_PATH), for local runs. Read when first needed and again on
 * reload (a refused assertion, the monitor), so a renewed file is picked up without a restart.
 */
export class CertificateFileProvider implements ClientSecretProvider {
  readonly store = 'file' as const;
  readonly description: string;
  private cached: ClientSecret | undefined;
  private readonly listeners: Array<(secret: ClientSecret, previous: ClientSecret | undefined) => void> = [];

  constructor(private readonly path: string) {
    this.description = `the certificate file ${path} (OAUTH2_CLIENT_CERTIFICATE_PATH)`;
  }

  async current(): Promise<ClientSecret> {
    return this.cached ?? this.reload();
  }

  async reload(): Promise<ClientSecret> {
    let value: string;
    try {
      value = await readFile(this.path, 'utf8');
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'unreadable';
      throw new RelayError(`Could not read ${this.description} (${code}).`, {
        reason: 'client_certificate_unusable',
        kind: 'configuration',
        ...advice('certificate_without_private_key'),
      });
    }
    registerSecret(value);
    const previous = this.cached;
    const secret: ClientSecret = { value, version: readClientCertificate(value, this.description).thumbprintSha256 };
    this.cached = secret;
    if (previous && previous.version !== secret.version) for (const listener of this.listeners) listener(secret, previous);
    return secret;
  }

  onChange(listener: (secret: ClientSecret, previous: ClientSecret | undefined) => void): void {
    this.listeners.push(listener);
  }
}
