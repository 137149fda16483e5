/**
 * A Google service account's JSON key (OAUTH2_PROVIDER=google) as a credential source: the key is
 * the "secret" value, so the token cache, the refused-key re-read of the latest Key Vault version
 * and the monitor work as for a client secret. What it adds: the texts say what it is, and a
 * value that is not a usable key is reported when it is read (the monitor, the doctor), not only
 * at the next token request.
 */
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { parseServiceAccountKey } from '../settings/googleKey';
import { CheckedSecretProvider } from './checkedProvider';
import type { ClientSecret, ClientSecretProperties, ClientSecretProvider } from './types';

export class ServiceAccountKeyProvider extends CheckedSecretProvider {
  readonly credential = 'service-account-key' as const;

  constructor(inner: ClientSecretProvider) {
    super(
      inner,
      inner.keyVault
        ? `Key Vault secret "${inner.keyVault.secretName}" in ${inner.keyVault.vaultUrl} (Google service account key)`
        : 'the OAUTH2_SERVICE_ACCOUNT_KEY setting (Google service account key)',
    );
  }

  async reload(): Promise<ClientSecret & { properties?: ClientSecretProperties }> {
    const latest = await this.inner.reload();
    const parsed = parseServiceAccountKey(latest.value);
    if ('problems' in parsed) {
      throw new RelayError(`The service account key in ${this.description} cannot be used: it ${parsed.problems.join('; it ')}.`, {
        reason: 'google_key_unusable',
        kind: 'configuration',
        ...advice('google_key_unusable'),
      });
    }
    return latest;
  }
}
