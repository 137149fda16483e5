/**
 * A Google service account's JSON key (the file `gcloud iam service-accounts keys create`
 * writes), checked before anything is signed with it: the fields the JWT-bearer grant needs
 * are there, the private key is an unencrypted PKCS#8 RSA key, and the token URI is https.
 * Problems name the field, never its value: the key is a secret.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { registerSecret } from '../core/redact';

export interface ServiceAccountKey {
  clientEmail: string;
  /** The numeric OAuth client ID the Admin console's domain-wide delegation is granted to. */
  clientId: string;
  /** The JWT header's kid: which of the account's keys signed it. */
  privateKeyId: string;
  privateKey: KeyObject;
  /** Where the assertion is posted; also its `aud`. */
  tokenUri: string;
  projectId?: string;
}

/** Google's token endpoint, written in every key it issues. */
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';

const EMAIL = /^[^\s@]{1,64}@[A-Za-z0-9.-]{1,253}$/;
const PKCS8 = /^-----BEGIN PRIVATE KEY-----\s[A-Za-z0-9+/=\s]+-----END PRIVATE KEY-----\s*$/;

/** The key, or the list of what is wrong with it (field names only). */
export function parseServiceAccountKey(text: string): { key: ServiceAccountKey } | { problems: string[] } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { problems: ['is not JSON: it must be the service account key file as Google Cloud downloads it (a JSON object)'] };
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) return { problems: ['is not a JSON object: it must be a service account key file'] };
  const fields = data as Record<string, unknown>;
  const problems: string[] = [];
  const field = (name: string): string | undefined => {
    const value = fields[name];
    if (typeof value === 'string' && value.trim()) return value.trim();
    problems.push(`has no "${name}"`);
    return undefined;
  };
  const privateKeyText = typeof fields.private_key === 'string' ? fields.private_key : undefined;
  // Registered before anything else: a problem text or a log line can never show it.
  if (privateKeyText) registerSecret(privateKeyText);
  if (fields.type !== 'service_account')
    problems.push('"type" is not "service_account" (an OAuth client or user credential file does not sign in as a service account)');
  const clientEmail = field('client_email');
  const clientId = field('client_id');
  const privateKeyId = field('private_key_id');
  const tokenUri = field('token_uri');
  if (clientEmail !== undefined && !EMAIL.test(clientEmail)) problems.push('"client_email" is not an e-mail address');
  if (clientId !== undefined && !/^\d{1,40}$/.test(clientId)) problems.push('"client_id" is not the numeric client ID of a service account');
  if (privateKeyId !== undefined && !/^[0-9a-f]{8,80}$/i.test(privateKeyId)) problems.push('"private_key_id" is not a key ID (hex)');
  if (tokenUri !== undefined && !isHttpsUrl(tokenUri)) problems.push('"token_uri" must be an https:// URL (the signed assertion is sent to it)');
  let privateKey: KeyObject | undefined;
  if (privateKeyText === undefined || !privateKeyText.trim()) problems.push('has no "private_key"');
  else if (!PKCS8.test(privateKeyText.trim())) problems.push('"private_key" is not an unencrypted PKCS#8 PEM key (-----BEGIN PRIVATE KEY-----)');
  else {
    try {
      privateKey = createPrivateKey(privateKeyText);
      if (privateKey.asymmetricKeyType !== 'rsa') problems.push('"private_key" is not an RSA key (RS256 needs one)');
    } catch {
      problems.push('"private_key" cannot be read as a private key');
    }
  }
  if (problems.length > 0 || !clientEmail || !clientId || !privateKeyId || !tokenUri || !privateKey) return { problems };
  const key: ServiceAccountKey = { clientEmail, clientId, privateKeyId, privateKey, tokenUri };
  if (typeof fields.project_id === 'string') key.projectId = fields.project_id;
  return { key };
}

function isHttpsUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' && !url.username && !url.password;
  } catch {
    return false;
  }
}
