/**
 * Diagnoses of a Google Workspace sender (OAUTH2_PROVIDER=google): the JWT-bearer grant at the
 * key's token_uri (Google's OAuth `error` and `error_description`) and Gmail's XOAUTH2 refusal.
 * `<client id>` and `<scope>` are filled in with the key's client_id and the scopes asked for.
 */
import type { Diagnosis, Remedy } from './entry';

const DELEGATION = 'admin.google.com → Security → Access and data control → API controls → Manage Domain Wide Delegation';

export const GOOGLE_DIAGNOSES = {
  google_delegation_missing: {
    symptom:
      'unauthorized_client ("Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested") from Google',
    finding: "Domain-wide delegation is not granted to the service account's client ID for the scope the relay asks for.",
    steps: ['googleDelegation', 'googleServiceAccount'],
    fix:
      `In ${DELEGATION} → Add new: Client ID <client id> (the key's client_id, not its e-mail address), OAuth scopes <scope>. ` +
      'A new grant can take a few minutes (rarely up to 24 hours) to apply; messages are retried meanwhile.',
  },
  google_key_rejected: {
    symptom: 'invalid_grant "Invalid JWT Signature." from Google',
    finding: 'Google does not accept the key the assertion was signed with: it was deleted or disabled, or it belongs to another service account.',
    steps: ['googleKey', 'googleKeyVault'],
    fix:
      'Create a new key (gcloud iam service-accounts keys create) for the service account whose client ID is delegated, and store it as a new version of ' +
      'the Key Vault secret (az keyvault secret set --file); the relay reads the new version without a restart. Then delete the old key in Google Cloud.',
  },
  google_clock_skew: {
    symptom:
      'invalid_grant "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values…" from Google',
    finding: "The assertion's iat/exp are outside what Google accepts: the relay host's clock is wrong.",
    steps: ['googleKey'],
    fix: "Correct the host's clock (NTP); the relay signs each assertion for one hour from its own time. Messages are retried meanwhile.",
  },
  google_user_unknown: {
    symptom: 'invalid_grant "Invalid email or User ID" from Google',
    finding: 'The mailbox the relay signs in as (SMTP_USER, the JWT sub) is not a user of the Workspace domain that delegated to the service account.',
    steps: ['googleMailbox', 'googleDelegation'],
    fix: "Set SMTP_USER (or the sender's mailbox) to the primary address of an active user of the domain (not a group or an alias), or delegate from that user's domain.",
  },
  google_account_disabled: {
    symptom: 'disabled_client, or invalid_grant "account not found", from Google',
    finding: 'The service account (or its key) is disabled or was deleted in Google Cloud.',
    steps: ['googleServiceAccount', 'googleKey'],
    fix: 'Enable the service account (gcloud iam service-accounts enable) or create a new one and a key for it; delegate its client ID again if it is new.',
  },
  google_key_unusable: {
    symptom: 'the service account key (OAUTH2_SERVICE_ACCOUNT_KEY or its Key Vault secret) is not a usable JSON key',
    finding: 'The relay cannot sign an assertion with this value: it must be the JSON key file of a service account, with its PKCS#8 private key.',
    steps: ['googleKey', 'googleKeyVault'],
    fix: 'Store the whole JSON file gcloud iam service-accounts keys create wrote (az keyvault secret set --file key.json), not a P12 key, an OAuth client file or a part of the file.',
  },
  google_key_expiring: {
    symptom: "the Google service account key's Key Vault secret expires within the warning window (an organization key expiry)",
    finding: 'The service account key expires soon; mail stops when it does.',
    steps: ['googleKey', 'googleKeyVault'],
    fix: 'Run setup-google.sh again (a new key, stored as a new version of the Key Vault secret with its expiry), then delete the old key in Google Cloud.',
  },
  gmail_token_refused: {
    symptom:
      '334 with {"status":"400"|"401","schemes":"Bearer","scope":"https://mail.google.com/"}, then 535-5.7.8 Username and Password not accepted, from smtp.gmail.com',
    finding: 'Gmail refused the access token after one renewal: the token does not carry the Gmail scope for this mailbox, or the mailbox cannot use SMTP.',
    steps: ['googleDelegation', 'googleMailbox'],
    fix:
      `Check that ${DELEGATION} grants the client ID https://mail.google.com/ exactly (OAUTH2_SCOPES unset or that scope), ` +
      'that SMTP_USER is the mailbox the token was issued for (the XOAUTH2 user is the JWT sub), and that the user is active with Gmail on.',
  },
} as const satisfies Record<string, Diagnosis>;

export const GOOGLE_REMEDIES = {
  /** The monitor: the Google key's Key Vault secret expired or expires soon. */
  google_key_renewal:
    'Create a new key for the service account (setup-google.sh again, or gcloud iam service-accounts keys create), store it as a new version of the ' +
    'Key Vault secret with its expiry (az keyvault secret set --file … --expires …), then delete the old key in Google Cloud once the relay logs secret.version_changed.',
} as const satisfies Record<string, Remedy>;
