/** Diagnoses and remedies of the relay's own settings and of the client secret they name. */
import { APP_REGISTRATION, type Diagnosis, type Remedy } from './entry';

export const SETTINGS_DIAGNOSES = {
  settings_invalid: {
    symptom: 'the relay does not start: "Invalid relay configuration"',
    finding: 'One or more settings are missing or malformed.',
    steps: ['oauthSettings', 'emailServer'],
    fix: "Correct every setting listed (the README's settings table says what each one takes), then restart the Function App.",
  },
  secret_unreadable: {
    symptom: 'the Key Vault secret cannot be read, or OAUTH2_CLIENT_SECRET is an unresolved @Microsoft.KeyVault(...) reference',
    finding: 'The client secret could not be read from Key Vault.',
    steps: ['keyVault'],
    fix:
      'Check KEYVAULT_URL and OAUTH2_CLIENT_SECRET_NAME (or the reference @Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<name>/)) ' +
      'and grant the Function App\'s managed identity the "Key Vault Secrets User" role on the vault (or a get-secret access policy).',
  },
  client_secret_is_id: {
    symptom: 'OAUTH2_CLIENT_SECRET is a GUID',
    finding: "The client secret's ID was copied instead of its Value.",
    steps: ['clientSecret'],
    fix:
      `Put the secret's Value (shown only once, when it is created) in OAUTH2_CLIENT_SECRET, not its Secret ID; ` +
      `if the Value was not saved, create a new secret in ${APP_REGISTRATION} → Certificates & secrets.`,
  },
  key_vault_secret_is_id: {
    symptom: 'the value read from the Key Vault secret is a GUID',
    finding: "The client secret's ID was stored in Key Vault instead of its Value; it is not sent to Microsoft Entra.",
    steps: ['clientSecret', 'keyVault'],
    fix:
      `Store the client secret's Value, not its Secret ID, as a new version of Key Vault secret <secret name> in <vault> ` +
      `(Key Vault → Secrets → <secret name> → New Version); the relay reads it without a restart. If the Value was not saved, ` +
      `create a new client secret in ${APP_REGISTRATION} → Certificates & secrets (its Value is shown only once).`,
  },
} as const satisfies Record<string, Diagnosis>;

export const SETTINGS_REMEDIES = {
  /** The settings are invalid, even the storage ones: the message is left to the host, which poison-queues it. */
  settings_invalid_unstored: ({ poisonQueue }: { poisonQueue: string }) =>
    `Correct these app settings (the doctor lists them too). Until then nothing can be written to storage: the host retries the message, then moves it to ${poisonQueue}; after the fix take it back with "oauth2-smtp-relay replay --from-poison".`,
  /** The settings are invalid but storage works: the message is held and retried. */
  settings_invalid_held:
    'Correct these app settings (the doctor and GET /api/health list them too). Held messages are retried with the usual backoff and go out once the settings are valid; ' +
    'past RELAY_RETRY_MAX_AGE_SECONDS they are dead-lettered with configuration_invalid: replay them with "oauth2-smtp-relay replay --reason configuration_invalid".',
} as const satisfies Record<string, Remedy>;
