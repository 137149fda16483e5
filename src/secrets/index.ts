/**
 * Where the client secret comes from: Key Vault with the managed identity
 * (KEYVAULT_URL + OAUTH2_CLIENT_SECRET_NAME) or the OAUTH2_CLIENT_SECRET setting.
 */
import type { TokenCredential } from '@azure/identity';
import { keyVaultOf, type OAuthSettings } from '../settings';
import type { Logger } from '../core/log';
import { KeyVaultSecretProvider } from './keyVaultSecret';
import { SettingSecretProvider } from './settingSecret';
import { createSecretClient, createVaultCredential } from './vaultClient';
import type { ClientSecretProvider } from './types';

export type { ClientSecret, ClientSecretProperties, ClientSecretProvider } from './types';
export { KeyVaultSecretProvider, type SecretReader } from './keyVaultSecret';
export { SettingSecretProvider } from './settingSecret';
export { classifyKeyVaultError } from './classifyKeyVaultError';
export { createSecretClient, createVaultCredential, hasManagedIdentityEndpoint, isAzureVaultHost } from './vaultClient';

export interface SecretProviderOptions {
  extraCa?: string;
  logger?: Logger;
  /** Tests: sign in to the vault with this instead of the managed identity. */
  vaultCredential?: TokenCredential;
}

/** Undefined when no secret is used at all (federation). */
export function createSecretProvider(oauth: OAuthSettings, opts: SecretProviderOptions = {}): ClientSecretProvider | undefined {
  const keyVault = keyVaultOf(oauth);
  if (keyVault) {
    const credential = opts.vaultCredential ?? createVaultCredential(keyVault.managedIdentityClientId);
    return new KeyVaultSecretProvider({
      client: createSecretClient(keyVault, credential, { extraCa: opts.extraCa }),
      secretName: keyVault.secretName,
      cacheMs: keyVault.cacheMs,
      logger: opts.logger,
    });
  }
  if (oauth.kind === 'clientSecret' && oauth.source.kind === 'setting') return new SettingSecretProvider(oauth.source.clientSecret);
  return undefined;
}
