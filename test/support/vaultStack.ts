/**
 * A local stack for Key Vault tests: the Entra-shaped token server (real HTTPS,
 * real JWTs), the KeyVaultDouble that checks those tokens, and a credential
 * standing in for the managed identity (a ClientSecretCredential of a "vault
 * reader" client against the local token server, so the SDK's challenge flow runs
 * unchanged).
 */
import { ClientSecretCredential, type TokenCredential } from '@azure/identity';
import { LocalTokenServer } from '../../local/tokenServer';
import type { LocalCertificates } from '../../local/certs';
import { sharedCertificates } from './localHelpers';
import { KeyVaultDouble, VAULT_RESOURCE } from '../../local/doubles/keyVaultDouble';
import type { KeyVaultSecretSettings } from '../../src/settings';
import { createSecretClient } from '../../src/secrets';

export const TENANT = '3f1e5c2a-7b6d-4c8e-9a0b-1c2d3e4f5a6b';
export const RELAY_CLIENT = '6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d';
export const VAULT_READER = 'b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e';
export const VAULT_READER_SECRET = 'vault~reader.secret_0123456789';
export const SECRET_NAME = 'smtp-relay-client-secret';

export interface VaultStack {
  certs: LocalCertificates;
  tokenServer: LocalTokenServer;
  vault: KeyVaultDouble;
  /** Stands in for the managed identity. */
  credential: TokenCredential;
  keyVaultSettings(overrides?: Partial<KeyVaultSecretSettings>): KeyVaultSecretSettings;
  secretClient(): ReturnType<typeof createSecretClient>;
  close(): Promise<void>;
}

export async function startVaultStack(relaySecret: string): Promise<VaultStack> {
  const certs = await sharedCertificates();
  const tokenServer = await LocalTokenServer.start({
    tls: certs,
    tenantId: TENANT,
    clients: [
      { clientId: RELAY_CLIENT, clientSecret: relaySecret },
      { clientId: VAULT_READER, clientSecret: VAULT_READER_SECRET },
    ],
  });
  const vault = await KeyVaultDouble.start({
    tls: certs,
    authority: `${tokenServer.url}/${TENANT}`,
    verifyToken: async (token) => (await tokenServer.verifyTokenForResource(token, VAULT_RESOURCE)).ok,
  });
  const credential = new ClientSecretCredential(TENANT, VAULT_READER, VAULT_READER_SECRET, {
    authorityHost: tokenServer.url,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: [certs.caPem] },
  });
  const keyVaultSettings = (overrides: Partial<KeyVaultSecretSettings> = {}): KeyVaultSecretSettings => ({
    vaultUrl: vault.url,
    secretName: SECRET_NAME,
    cacheMs: 3_600_000,
    ...overrides,
  });
  return {
    certs,
    tokenServer,
    vault,
    credential,
    keyVaultSettings,
    secretClient: () => createSecretClient(keyVaultSettings(), credential, { extraCa: certs.caPem }),
    async close() {
      await vault.close();
      await tokenServer.close();
    },
  };
}
