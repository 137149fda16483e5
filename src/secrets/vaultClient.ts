/**
 * The SecretClient and the credential it signs in with: the Function App's
 * managed identity in Azure (system-assigned, or user-assigned by client ID),
 * and the developer's own sign-in locally (Azure CLI, azd, VS Code, PowerShell
 * through DefaultAzureCredential), as users of the Azure SDKs expect.
 */
import type { TokenCredential } from '@azure/identity';
import type { SecretClient } from '@azure/keyvault-secrets';
import type { KeyVaultSecretSettings } from '../settings';
import { azureTlsPolicy } from '../transport/tls';

export type Environment = Record<string, string | undefined>;

/* eslint-disable @typescript-eslint/no-require-imports -- loaded when a vault is used: a relay whose secret is an app setting never loads them (cold start, issue 17) */
const identitySdk = () => require('@azure/identity') as typeof import('@azure/identity');
const keyVaultSdk = () => require('@azure/keyvault-secrets') as typeof import('@azure/keyvault-secrets');
/* eslint-enable @typescript-eslint/no-require-imports */

/** Key Vault DNS suffixes of the Azure clouds; any other host is a private or local vault. */
const AZURE_VAULT_SUFFIXES = ['.vault.azure.net', '.vault.azure.cn', '.vault.usgovcloudapi.net', '.vault.microsoftazure.de', '.managedhsm.azure.net'];

export function isAzureVaultHost(vaultUrl: string): boolean {
  const host = new URL(vaultUrl).hostname.toLowerCase();
  return AZURE_VAULT_SUFFIXES.some((suffix) => host.endsWith(suffix));
}

/** Running under App Service / Functions with a managed identity endpoint (or the older MSI one). */
export function hasManagedIdentityEndpoint(env: Environment): boolean {
  return !!(env.IDENTITY_ENDPOINT && env.IDENTITY_HEADER) || !!env.MSI_ENDPOINT;
}

/**
 * In Azure only the managed identity: DefaultAzureCredential would first try
 * environment credentials and others, which Microsoft advises against in production.
 */
export function createVaultCredential(managedIdentityClientId: string | undefined, env: Environment = process.env): TokenCredential {
  const { DefaultAzureCredential, ManagedIdentityCredential } = identitySdk();
  if (hasManagedIdentityEndpoint(env)) {
    return managedIdentityClientId ? new ManagedIdentityCredential({ clientId: managedIdentityClientId }) : new ManagedIdentityCredential();
  }
  return new DefaultAzureCredential(managedIdentityClientId ? { managedIdentityClientId } : {});
}

export interface SecretClientOptionsInput {
  /** TLS_EXTRA_CA_FILE: a TLS-inspecting proxy's CA, or the local test CA. */
  extraCa?: string;
}

export function createSecretClient(settings: KeyVaultSecretSettings, credential: TokenCredential, opts: SecretClientOptionsInput = {}): SecretClient {
  const { SecretClient } = keyVaultSdk();
  return new SecretClient(settings.vaultUrl, credential, {
    // The resource in the 401 challenge is checked against the vault's host; only hosts
    // outside the Azure clouds (a private endpoint alias, a local vault) skip that check.
    disableChallengeResourceVerification: !isAzureVaultHost(settings.vaultUrl),
    // Reads happen inside a queue invocation: retry briefly, then let the queue retry the message.
    retryOptions: { maxRetries: 2, retryDelayInMs: 300, maxRetryDelayInMs: 2_000 },
    additionalPolicies: [azureTlsPolicy(opts.extraCa)],
  });
}
