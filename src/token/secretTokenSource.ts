/**
 * Token requests with a client secret that can change while the process runs
 * (Key Vault). When the token endpoint says the secret is wrong or expired
 * (invalid_client; AADSTS7000215, AADSTS7000222), the latest version is read
 * once and the request repeated with it: a rotated secret is picked up without
 * a restart, and a secret that is simply wrong costs one extra vault read.
 */
import { isRelayError, type RelayError } from '../errors';
import { silentLogger, type Logger } from '../log';
import type { ClientSecretProvider } from '../secrets/types';
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
    const secret = await this.secrets.current();
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
      return this.sourceFor(latest.value).fetchToken();
    }
  }
}

/** The secret itself was refused: the only token failures a newer secret version can fix. */
export function isSecretRejection(error: unknown): error is RelayError {
  if (!isRelayError(error)) return false;
  if (error.reason === 'invalid_client_secret' || error.reason === 'expired_client_secret') return true;
  return error.reason === 'token_request_rejected' && /^invalid_client\b/.test(error.providerReply ?? '');
}
