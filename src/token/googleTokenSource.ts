/**
 * Tokens for a Google Workspace mailbox (OAUTH2_PROVIDER=google): the service account signs
 * a JWT (RS256, kid = the key's private_key_id) that asks for the mailbox's token (sub), and
 * POSTs it to the key's token_uri as the RFC 7523 JWT-bearer grant
 * (https://developers.google.com/identity/protocols/oauth2/service-account, "Preparing to make
 * an authorized API call" → HTTP/REST). Google answers a token good for an hour; TokenCache
 * refreshes it early as it does Entra's.
 *
 * The key is checked before anything is signed (parseServiceAccountKey), the token URI must be
 * https (the assertion is a credential for an hour), and refusals are named with the Admin
 * console or Google Cloud step that fixes them, the key's client ID filled in.
 */
import { sign } from 'node:crypto';
import { parseServiceAccountKey, type ServiceAccountKey } from '../settings/googleKey';
import { RelayError, isRelayError } from '../core/errors';
import { advice, isDiagnosisId } from '../core/diagnoses';
import { silentLogger, type Logger } from '../core/log';
import { postTokenForm } from './genericTokenSource';
import type { TokenSourceOptions } from './microsoftTokenSource';
import type { AccessToken, TokenSource } from './types';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Google accepts assertions for at most an hour. */
export const ASSERTION_LIFETIME_SECONDS = 3600;

export interface GoogleTokenSettings {
  /** The service account's JSON key, wherever it was read. */
  keyJson: string;
  /** Where the key was read, for messages. */
  source: string;
  /** The mailbox (the JWT's sub). */
  subject: string;
  scopes: string[];
  /** OAUTH2_CLIENT_ID when set: the key must be that account's. */
  clientId: string;
}

export class GoogleTokenSource implements TokenSource {
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(
    private readonly settings: GoogleTokenSettings,
    private readonly options: TokenSourceOptions = {},
  ) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  async fetchToken(): Promise<AccessToken> {
    const key = this.key();
    const assertion = signAssertion(key, this.settings.subject, this.settings.scopes, Math.floor(this.now() / 1000));
    // Not registered with the redactor (one per token would grow its set without end): it is never logged, and redact() masks any JWT.
    const form = new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion }).toString();
    try {
      return await postTokenForm(new URL(key.tokenUri), form, { ...this.options, logger: this.logger, now: this.now });
    } catch (error) {
      if (!isRelayError(error)) throw error;
      const named = inGoogleTerms(error, key, this.settings.scopes);
      this.logger.warn('Google refused the service account assertion', {
        event: 'token.google_failed',
        clientId: key.clientId,
        clientEmail: key.clientEmail,
        subject: this.settings.subject,
        ...named.toJSON(),
      });
      throw named;
    }
  }

  private key(): ServiceAccountKey {
    const parsed = parseServiceAccountKey(this.settings.keyJson);
    if ('problems' in parsed) {
      throw new RelayError(`The service account key in ${this.settings.source} cannot be used: it ${parsed.problems.join('; it ')}.`, {
        reason: 'google_key_unusable',
        kind: 'configuration',
        ...advice('google_key_unusable'),
      });
    }
    const expected = this.settings.clientId;
    if (expected && expected !== parsed.key.clientId) {
      throw new RelayError(
        `The service account key in ${this.settings.source} belongs to client ID ${parsed.key.clientId}, not to OAUTH2_CLIENT_ID ${expected}; no assertion was sent.`,
        { reason: 'google_key_unusable', kind: 'configuration', ...advice('google_key_unusable') },
      );
    }
    return parsed.key;
  }
}

/** The RS256 JWT of the grant: header alg/typ/kid, claims iss/scope/aud/sub/iat/exp. */
export function signAssertion(key: ServiceAccountKey, subject: string, scopes: string[], nowSeconds: number): string {
  const header = { alg: 'RS256', typ: 'JWT', kid: key.privateKeyId };
  const claims = {
    iss: key.clientEmail,
    scope: scopes.join(' '),
    aud: key.tokenUri,
    sub: subject,
    iat: nowSeconds,
    exp: nowSeconds + ASSERTION_LIFETIME_SECONDS,
  };
  const encode = (part: object) => Buffer.from(JSON.stringify(part), 'utf8').toString('base64url');
  const signingInput = `${encode(header)}.${encode(claims)}`;
  return `${signingInput}.${sign('RSA-SHA256', Buffer.from(signingInput), key.privateKey).toString('base64url')}`;
}

/** A Google verdict's remedy with the real client ID and scope, and the account named in the message. */
function inGoogleTerms(error: RelayError, key: ServiceAccountKey, scopes: string[]): RelayError {
  if (!error.reason.startsWith('google_') || !isDiagnosisId(error.diagnosis)) return error;
  const fill = { 'client id': key.clientId, scope: scopes.join(',') };
  return new RelayError(error.message.replace(/\.$/, ` (service account ${key.clientEmail}, client ID ${key.clientId}).`), {
    reason: error.reason,
    kind: error.kind,
    providerReply: error.providerReply,
    ...advice(error.diagnosis, fill),
    cause: error,
  });
}
