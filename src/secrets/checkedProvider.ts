/**
 * A credential that is read as a secret (from a setting or Key Vault, through `inner`) but is
 * more than a string: a certificate's PEM, a Google service account's JSON key. Reading, caching
 * and change events are the inner provider's; a subclass checks the value on each reload, so the
 * monitor and the doctor name an unusable credential when they read it.
 */
import type { ClientSecret, ClientSecretProperties, ClientSecretProvider } from './types';

export abstract class CheckedSecretProvider implements ClientSecretProvider {
  abstract readonly credential: NonNullable<ClientSecretProvider['credential']>;
  readonly store: ClientSecretProvider['store'];
  readonly keyVault?: { vaultUrl: string; secretName: string };

  protected constructor(
    protected readonly inner: ClientSecretProvider,
    readonly description: string,
  ) {
    this.store = inner.store;
    this.keyVault = inner.keyVault;
  }

  current(): Promise<ClientSecret> {
    return this.inner.current();
  }

  abstract reload(): Promise<ClientSecret & { properties?: ClientSecretProperties }>;

  onChange(listener: (secret: ClientSecret, previous: ClientSecret | undefined) => void): void {
    this.inner.onChange(listener);
  }
}
