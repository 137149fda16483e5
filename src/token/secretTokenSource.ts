/**
 * Token requests with a client secret that can change while the process runs
 * (Key Vault). When the token endpoint says the secret is wrong or expired
 * (invalid_client; AADSTS7000215, AADSTS7000222), the latest version is read
 * once and the request repeated with it: a rotated secret is picked up without
 * a restart, and a secret that is simply wrong costs one extra vault read.
 *
 * A value from Key Vault gets the check a setting gets at start: a GUID is the
 * secret's ID, never sent to the token endpoint. Failures about the secret name
 * the Key Vault secret to fix, not a setting.
 */
import { looksLikeSecretId } from '../settings';
import { isRelayError, type RelayError } from '../core/errors';
import { silentLogger, type Logger } from '../core/log';
import type { ClientSecret, ClientSecretProvider } from '../secrets/types';
import { inKeyVaultTerms, secretIdInKeyVault } from './classifyTokenError';
import type { AccessToken, TokenSource } from './types';

/** A source for one secret value; built per request (building one is cheap: no network). */
export type SourceForSecret = (secret: string) => TokenSource;

export class SecretProviderTokenSource implements TokenSource {
  readonly stats = { secretRetries: 0 };
  private readonly logger: Logger;

  constructor(
    private readonly secrets: ClientSecretProvider,
    private readonly sourceFor: SourceForSecret,
    logger?: Logger,
  ) {
    this.logger = logger ?? silentLogger;
  }

  async fetchToken(): Promise<AccessToken> {
    const where = this.secrets.keyVault;
    try {
      return await this.fetchWithLatest(where ? await this.usable(await this.secrets.current()) : await this.secrets.current());
    } catch (error) {
      throw where && isRelayError(error) ? inKeyVaultTerms(error, where) : error;
    }
  }

  private async fetchWithLatest(secret: ClientSecret): Promise<AccessToken> {
    try {
      return await this.sourceFor(secret.value).fetchToken();
    } catch (error) {
      // A setting cannot change while the process runs: nothing newer to look for.
      if (!isSecretRejection(error) || this.secrets.store === 'setting') throw error;
      const latest = await this.secrets.reload();
      if (latest.value === secret.value) {
        this.logger.warn('the token endpoint refused the client secret and no newer version exists', {
          event: 'secret.refused',
          source: this.secrets.description,
          version: secret.version,
          reason: error.reason,
        });
        throw error;
      }
      this.stats.secretRetries++;
      this.logger.info('the token endpoint refused the client secret; retrying once with the latest version', {
        event: 'secret.retry_with_latest',
        previousVersion: secret.version,
        version: latest.version,
        reason: error.reason,
      });
      return this.sourceFor(this.checked(latest)).fetchToken();
    }
  }

  /** A Key Vault value that is the secret's ID: look once for a newer version before giving up. */
  private async usable(secret: ClientSecret): Promise<ClientSecret> {
    if (!looksLikeSecretId(secret.value)) return secret;
    const latest = await this.secrets.reload();
    return { value: this.checked(latest), version: latest.version };
  }

  /** The value, unless it is the secret's ID (then it never reaches the token endpoint). */
  private checked(secret: ClientSecret): string {
    const where = this.secrets.keyVault;
    if (!where || !looksLikeSecretId(secret.value)) return secret.value;
    this.logger.warn("the Key Vault secret holds the client secret's ID, not its Value; no token request was made", {
      event: 'secret.is_id',
      source: this.secrets.description,
      version: secret.version,
    });
    throw secretIdInKeyVault(where);
  }
}

/** The secret (or certificate) itself was refused: the only token failures a newer version can fix. */
export function isSecretRejection(error: unknown): error is RelayError {
  if (!isRelayError(error)) return false;
  if (error.reason === 'invalid_client_secret' || error.reason === 'expired_client_secret' || error.reason === 'invalid_client_certificate') return true;
  // A Google key refused (deleted or disabled) or unreadable: a new version in Key Vault is the fix.
  if (error.reason === 'google_key_rejected' || error.reason === 'google_key_unusable') return true;
  return error.reason === 'token_request_rejected' && /^invalid_client\b/.test(error.providerReply ?? '');
}
