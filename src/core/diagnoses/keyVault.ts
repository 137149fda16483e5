/** Remedies of reading the client secret from Key Vault (src/secrets), and of the managed identity that reads it. */
import type { Remedy } from './entry';

export const KEY_VAULT_REMEDIES = {
  key_vault_identity_unavailable:
    "In Azure, turn on the Function App's system-assigned identity (Identity blade) or assign a user-assigned one and set MANAGED_IDENTITY_CLIENT_ID; " +
    'locally, sign in with `az login` (or Visual Studio Code / azd) as a user allowed to read the secret.',
  key_vault_tls: 'If the vault is reached through a TLS-inspecting proxy, put its CA in TLS_EXTRA_CA_FILE.',
  key_vault_secret_not_found:
    'Check OAUTH2_CLIENT_SECRET_NAME and KEYVAULT_URL, and that the secret was created in that vault (a deleted secret can be recovered from Deleted secrets).',
  key_vault_secret_disabled:
    'Enable the current version in the vault (Secrets → <name> → <version> → Enabled), or add a new version with the client secret Value.',
  key_vault_access_denied:
    "Grant the Function App's managed identity the role Key Vault Secrets User on the vault (Access control (IAM)), or a Get/List secret " +
    'access policy for vaults that use access policies; with a user-assigned identity set MANAGED_IDENTITY_CLIENT_ID to its client ID.',
  key_vault_secret_empty: 'Store the client secret Value (from the app registration → Certificates & secrets) as the secret value.',
} as const satisfies Record<string, Remedy>;
