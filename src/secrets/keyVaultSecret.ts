/**
 * The client secret read from Azure Key Vault: kept in memory for a bounded
 * time (OAUTH2_CLIENT_SECRET_CACHE_SECONDS), one read in flight however many
 * callers ask, re-read at once on demand (a refused secret, the monitor), and
 * every new version announced so tokens made with the old one can be dropped.
 * The value is never written anywhere: it is registered with the redactor and
 * only its version id is logged.
 */
import type { KeyVaultSecret, SecretClient } from '@azure/keyvault-secrets';
import { silentLogger, type Logger } from '../core/log';
import { forgetSecret, registerSecret } from '../core/redact';
import { relayMetrics } from '../telemetry/metrics';
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { classifyKeyVaultError } from './classifyKeyVaultError';
import type { ClientSecret, ClientSecretProperties, ClientSecretProvider } from './types';

/** The part of SecretClient this provider uses. */
export type SecretReader = Pick<SecretClient, 'getSecret' | 'vaultUrl'>;

export interface KeyVaultSecretProviderOptions {
  client: SecretReader;
  secretName: string;
  cacheMs: number;
  logger?: Logger;
  now?: () => number;
  /** Per request to the vault; default 10 s (the SDK retries twice within it). */
  requestTimeoutMs?: number;
}

type Loaded = ClientSecret & { properties: ClientSecretProperties; readAt: number };

export class KeyVaultSecretProvider implements ClientSecretProvider {
  readonly store = 'key-vault';
  readonly description: string;
  readonly keyVault: { vaultUrl: string; secretName: string };
  readonly stats = { reads: 0, failures: 0 };

  private cached: Loaded | undefined;
  private inFlight: Promise<Loaded> | undefined;
  private readonly listeners: Array<(secret: ClientSecret, previous: ClientSecret | undefined) => void> = [];
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(private readonly options: KeyVaultSecretProviderOptions) {
    this.description = `Key Vault secret "${options.secretName}" in ${options.client.vaultUrl}`;
    this.keyVault = { vaultUrl: options.client.vaultUrl, secretName: options.secretName };
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  async current(): Promise<ClientSecret> {
    const cached = this.cached;
    if (cached && this.now() - cached.readAt < this.options.cacheMs) return { value: cached.value, version: cached.version };
    const loaded = await this.load();
    return { value: loaded.value, version: loaded.version };
  }

  async reload(): Promise<ClientSecret & { properties: ClientSecretProperties }> {
    // A read already on its way is as fresh as a new one.
    const loaded = await this.load();
    return { value: loaded.value, version: loaded.version, properties: loaded.properties };
  }

  onChange(listener: (secret: ClientSecret, previous: ClientSecret | undefined) => void): void {
    this.listeners.push(listener);
  }

  private load(): Promise<Loaded> {
    this.inFlight ??= this.read().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async read(): Promise<Loaded> {
    this.stats.reads++;
    let secret: KeyVaultSecret;
    try {
      secret = await this.options.client.getSecret(this.options.secretName, {
        requestOptions: { timeout: this.options.requestTimeoutMs ?? 10_000 },
      });
    } catch (error) {
      this.stats.failures++;
      const failure = classifyKeyVaultError(error, this.description);
      relayMetrics.keyVaultRead('failure', failure.reason);
      this.logger.warn('could not read the client secret from Key Vault', { event: 'secret.read_failed', ...failure.toJSON() });
      throw failure;
    }
    if (!secret.value) {
      this.stats.failures++;
      relayMetrics.keyVaultRead('failure', 'secret_not_found');
      throw new RelayError(`Could not read the client secret from ${this.description}: the secret has no value.`, {
        reason: 'secret_not_found',
        kind: 'configuration',
        ...advice('key_vault_secret_empty'),
      });
    }
    registerSecret(secret.value);
    relayMetrics.keyVaultRead('success');
    const properties: ClientSecretProperties = {
      version: secret.properties.version,
      enabled: secret.properties.enabled !== false,
      expiresOn: secret.properties.expiresOn,
      notBefore: secret.properties.notBefore,
      createdOn: secret.properties.createdOn,
      updatedOn: secret.properties.updatedOn,
      tags: secret.properties.tags,
    };
    const loaded: Loaded = { value: secret.value, version: secret.properties.version, properties, readAt: this.now() };
    const previous = this.cached;
    this.cached = loaded;
    this.logger.info('client secret read from Key Vault', {
      event: 'secret.read',
      secretName: this.options.secretName,
      version: loaded.version,
      expiresOn: properties.expiresOn?.toISOString(),
    });
    if (previous && previous.version !== loaded.version) {
      // Open connections may still report on the old value for a moment; keep it masked.
      if (previous.value !== loaded.value) setTimeout(() => forgetSecret(previous.value), 60 * 60_000).unref();
      this.logger.info('a new client secret version is in Key Vault', {
        event: 'secret.version_changed',
        secretName: this.options.secretName,
        previousVersion: previous.version,
        version: loaded.version,
      });
      for (const listener of this.listeners) listener({ value: loaded.value, version: loaded.version }, { value: previous.value, version: previous.version });
    }
    return loaded;
  }
}
