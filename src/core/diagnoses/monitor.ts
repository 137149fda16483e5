/** Remedies of the secret monitor's alerts (src/monitor): the client secret's life in Key Vault, and its rotation. */
import type { Remedy } from './entry';

export const MONITOR_REMEDIES = {
  secret_version_disabled: 'Enable the version in Key Vault, or add a new version with a valid client secret Value.',
  secret_without_expiry:
    "Set the Key Vault secret's expiration date to the Expires date shown for the client secret in the app registration → Certificates & secrets, so the relay can warn in time.",
  /** The secret expired or expires soon. */
  secret_renewal:
    'Create a new client secret (app registration → Certificates & secrets → New client secret), add its Value as a new version of the ' +
    'Key Vault secret with the same expiry date, then delete the old client secret once the relay logs secret.version_changed.',
  /** The client certificate (OAUTH2_AUTH_MODE=certificate) expired or expires soon. */
  certificate_renewal:
    'Renew the Key Vault certificate (az keyvault certificate create with the same name and policy, or let its policy auto-renew), ' +
    "upload the new version's public part to the app registration → Certificates & secrets → Certificates, and remove the old one once the relay logs secret.version_changed.",
  rotation_store_denied: "Grant the Function App's identity the role Key Vault Secrets Officer on the vault (rotation writes new versions).",
  graph_permission_missing:
    'Give the app registration the Microsoft Graph application permission Application.ReadWrite.OwnedBy (with admin consent) and make it an owner of itself ' +
    '(e.g. New-MgApplicationOwnerByRef with the service principal), or turn ROTATION_ENABLED off and rotate by hand.',
} as const satisfies Record<string, Remedy>;
