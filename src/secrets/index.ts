/**
 * Where the client secret comes from: Key Vault with the managed identity
 * (KEYVAULT_URL + OAUTH2_CLIENT_SECRET_NAME) or the OAUTH2_CLIENT_SECRET setting;
 * in certificate mode, the client certificate's PEM (Key Vault or a file).
 */
import { keyVaultOf, type KeyVaultSecretSettings, type OAuthSettings } from '../settings';
import { CertificateFileProvider, ClientCertificateProvider } from './clientCertificate';
import type { Logger } from '../core/log';
import { KeyVaultSecretProvider, type SecretReader } from './keyVaultSecret';
import { SettingSecretProvider } from './settingSecret';
import { ServiceAccountKeyProvider } from './serviceAccountKey';
import type { ClientSecretProvider } from './types';

export type { ClientSecret, ClientSecretProperties, ClientSecretProvider } from './types';
export { KeyVaultSecretProvider, type SecretReader } from './keyVaultSecret';
export { SettingSecretProvider } from './settingSecret';
export { ServiceAccountKeyProvider } from './serviceAccountKey';
export { CertificateFileProvider, ClientCertificateProvider, readClientCertificate, type ClientCertificate } from './clientCertificate';
export { classifyKeyVaultError } from './classifyKeyVaultError';
export { createSecretClient, createVaultCredential, hasManagedIdentityEndpoint, isAzureVaultHost } from './vaultClient';

export interface SecretProviderOptions {
  logger?: Logger;
  /** The Key Vault client (src/app builds it, createSecretClient); needed when the secret is in Key Vault. */
  vault?: SecretReader;
}

/** Undefined when no secret is used at all (federation). A client certificate is served as a secret whose value is its PEM. */
export function createSecretProvider(oauth: OAuthSettings, opts: SecretProviderOptions = {}): ClientSecretProvider | undefined {
  if (oauth.kind === 'certificate') {
    const source = oauth.source.kind === 'file' ? new CertificateFileProvider(oauth.source.path) : keyVaultProvider(oauth.source.keyVault, opts);
    return new ClientCertificateProvider(source);
  }
  if (oauth.provider === 'google' && oauth.kind === 'clientSecret') {
    const inner = oauth.source.kind === 'keyVault' ? keyVaultProvider(oauth.source.keyVault, opts) : new SettingSecretProvider(oauth.source.clientSecret);
    return new ServiceAccountKeyProvider(inner);
  }
  const keyVault = keyVaultOf(oauth);
  if (keyVault) return keyVaultProvider(keyVault, opts);
  if (oauth.kind === 'clientSecret' && oauth.source.kind === 'setting') return new SettingSecretProvider(oauth.source.clientSecret);
  return undefined;
}

function keyVaultProvider(keyVault: KeyVaultSecretSettings, opts: SecretProviderOptions): KeyVaultSecretProvider {
  if (!opts.vault) throw new Error('a client secret in Key Vault needs the vault client (built by src/app)');
  return new KeyVaultSecretProvider({
    client: opts.vault,
    secretName: keyVault.secretName,
    cacheMs: keyVault.cacheMs,
    logger: opts.logger,
  });
}
