/** Diagnoses and remedies of the token endpoint and of the token it issues (its claims, read locally). */
import { APP_REGISTRATION, type Diagnosis, type Remedy } from './entry';

export const TOKEN_DIAGNOSES = {
  // ------------------------------------------------------------ token endpoint
  tenant_not_found: {
    symptom: 'AADSTS90002 (or AADSTS900023) from the token endpoint',
    finding: 'Microsoft Entra does not know the tenant the relay asks for a token.',
    steps: ['tenantId', 'oauthSettings'],
    fix:
      `Set OAUTH2_TENANT_ID to the Directory (tenant) ID shown in ${APP_REGISTRATION} → Overview (or Tenant properties), ` +
      'and OAUTH2_AUTHORITY_HOST to the cloud the tenant lives in.',
  },
  app_not_found: {
    symptom: 'AADSTS700016 from the token endpoint',
    finding: 'The application (client) ID is not registered in this tenant.',
    steps: ['enterpriseApplication', 'oauthSettings'],
    fix:
      `Set OAUTH2_CLIENT_ID to the Application (client) ID shown in ${APP_REGISTRATION} → Overview, ` +
      'and check that OAUTH2_TENANT_ID is the tenant the app is registered in.',
  },
  invalid_client_secret: {
    symptom: 'AADSTS7000215 (or AADSTS7000218) from the token endpoint',
    finding: "The client secret is wrong; most often the secret's ID was copied instead of its Value.",
    steps: ['clientSecret'],
    fix:
      `Set OAUTH2_CLIENT_SECRET to the secret's Value from ${APP_REGISTRATION} → Certificates & secrets, not its Secret ID; ` +
      'the Value is shown only once, so create a new secret if it was not saved.',
  },
  key_vault_secret_invalid: {
    symptom: 'AADSTS7000215 (or AADSTS7000218) from the token endpoint, with the secret in Key Vault',
    finding: "The client secret in Key Vault is wrong; most often the secret's ID was stored instead of its Value.",
    steps: ['clientSecret', 'keyVault'],
    fix:
      `Store the client secret's Value (from ${APP_REGISTRATION} → Certificates & secrets, not its Secret ID) as a new version of ` +
      'Key Vault secret <secret name> in <vault> (Key Vault → Secrets → <secret name> → New Version); the relay reads the new version ' +
      'without a restart. The Value is shown only once: create a new client secret if it was not saved.',
  },
  expired_client_secret: {
    symptom: 'AADSTS7000222 from the token endpoint, or the Key Vault secret is past its expiry date',
    finding: 'The client secret has expired.',
    steps: ['clientSecret', 'keyVault'],
    fix: `Create a new client secret in ${APP_REGISTRATION} → Certificates & secrets and put its Value in OAUTH2_CLIENT_SECRET (or its Key Vault secret).`,
  },
  key_vault_secret_expired: {
    symptom: 'AADSTS7000222 from the token endpoint, with the secret in Key Vault',
    finding: 'The client secret stored in Key Vault has expired in Microsoft Entra ID.',
    steps: ['clientSecret', 'keyVault'],
    fix:
      `Create a new client secret in ${APP_REGISTRATION} → Certificates & secrets and store its Value as a new version of ` +
      'Key Vault secret <secret name> in <vault>, with the same expiry date (Key Vault → Secrets → <secret name> → New Version); ' +
      'the relay reads the new version without a restart.',
  },
  secret_expiring: {
    symptom: 'the Key Vault secret expires within 30 days',
    finding: 'The client secret expires soon; mail stops when it does.',
    steps: ['clientSecret', 'keyVault'],
    fix: 'Create a new client secret before the expiry date and store its Value as a new version of the Key Vault secret.',
  },
  certificate_not_registered: {
    symptom: 'AADSTS700027 from the token endpoint (OAUTH2_AUTH_MODE=certificate)',
    finding: "The client assertion's signature was not accepted: the certificate it was signed with is not (or no longer) registered on the app registration.",
    steps: ['clientCertificate', 'enterpriseApplication'],
    fix:
      `Upload the certificate's public part to ${APP_REGISTRATION} → Certificates & secrets → Certificates → Upload certificate ` +
      '(or: az ad app credential reset --id <client id> --keyvault <vault name> --cert <certificate name> --append); ' +
      'after a renewal upload the new version too. ' +
      'Check that OAUTH2_CLIENT_ID names the app the certificate was uploaded to.',
  },
  client_assertion_time_invalid: {
    symptom: 'AADSTS700024 from the token endpoint (OAUTH2_AUTH_MODE=certificate)',
    finding: "The client assertion is not within its valid time range: the relay host's clock is wrong.",
    steps: ['clientCertificate'],
    fix: "Correct the host's clock (NTP); the assertion is valid for 10 minutes from the relay's own time. Messages are retried meanwhile.",
  },
  certificate_without_private_key: {
    symptom: 'the client certificate PEM holds no private key, no certificate, or a key that does not belong to the certificate',
    finding: 'The relay cannot sign a client assertion with this PEM: it needs the private key and the certificate together.',
    steps: ['clientCertificate'],
    fix:
      'Give the PEM of the private key (-----BEGIN PRIVATE KEY-----, unencrypted) followed by its certificate (-----BEGIN CERTIFICATE-----). ' +
      'A Key Vault certificate gives both through its secret when it was created exportable with content type application/x-pem-file; ' +
      'a certificate imported without its key (a .cer) cannot sign.',
  },
  certificate_is_pkcs12: {
    symptom: 'the Key Vault certificate (or the file) is PKCS#12 (content type application/x-pkcs12), not PEM',
    finding: "The certificate is stored as PKCS#12, which Node.js cannot read without an extra library; @azure/identity's certificate credential takes PEM.",
    steps: ['clientCertificate'],
    fix:
      'Store the certificate as PEM: create a new version with a policy whose secretProperties.contentType is application/x-pem-file ' +
      '(az keyvault certificate get-default-policy > policy.json, set "contentType": "application/x-pem-file", then ' +
      'az keyvault certificate create --vault-name <vault name> --name <certificate name> --policy @policy.json), ' +
      'or convert a file with openssl pkcs12 -in cert.pfx -out cert.pem -nodes.',
  },
  certificate_expiring: {
    symptom: 'the client certificate (OAUTH2_AUTH_MODE=certificate) is past its expiry date or expires within ALERT_WARNING_DAYS',
    finding: 'The client certificate expires soon or has expired; mail stops when it does.',
    steps: ['clientCertificate'],
    fix:
      'Renew the Key Vault certificate (az keyvault certificate create with the same name and policy, or let its policy auto-renew) and ' +
      "upload the new version's public part to the app registration; the relay reads the new version without a restart.",
  },
  invalid_scope: {
    symptom: 'AADSTS1002012 (or AADSTS70011, AADSTS500011), or OAUTH2_SCOPES not ending in /.default',
    finding: 'The scope is not valid for the client-credentials flow.',
    steps: ['oauthSettings', 'apiPermission'],
    fix:
      'Set OAUTH2_SCOPES to the resource followed by /.default, e.g. https://outlook.office365.com/.default (https://outlook.office.com/.default works too); ' +
      `the app also needs the API permission Office 365 Exchange Online → SMTP.SendAsApp with admin consent (${APP_REGISTRATION} → API permissions).`,
  },
  token_request_rejected: {
    symptom: 'another 4xx OAuth error from the token endpoint',
    finding: 'The token endpoint refused to issue a token.',
    steps: ['oauthSettings', 'apiPermission'],
    fix:
      `Check OAUTH2_TENANT_ID, OAUTH2_CLIENT_ID and OAUTH2_CLIENT_SECRET against ${APP_REGISTRATION} (or your provider's client settings), ` +
      'and that the app has the API permission SMTP.SendAsApp with admin consent.',
  },
  token_endpoint_tls: {
    symptom: "the token endpoint's certificate is not trusted",
    finding: 'TLS with the token endpoint failed.',
    steps: ['network'],
    fix: 'If the endpoint is reached through a TLS-inspecting proxy or uses a private CA, put that CA in TLS_EXTRA_CA_FILE. Certificate checks are never switched off.',
  },
  token_endpoint_unavailable: {
    symptom: 'no answer, a 5xx or a 429 from the token endpoint',
    finding: 'The token endpoint could not be reached or is failing; this is usually temporary.',
    steps: ['network'],
    fix: 'Check that the Function App can reach the authority host (OAUTH2_AUTHORITY_HOST or OAUTH2_TOKEN_URL) over HTTPS; messages are retried meanwhile.',
  },
  // -------------------------------------------------------------- token claims
  token_audience_not_exchange: {
    symptom: "the token's aud claim is not https://outlook.office365.com or https://outlook.office.com",
    finding: 'The token is for another API, not Exchange Online, so Exchange answers 535 5.7.3.',
    steps: ['oauthSettings'],
    fix: 'Set OAUTH2_SCOPES to https://outlook.office365.com/.default (or https://outlook.office.com/.default).',
  },
  token_audience_despite_scope: {
    symptom: "the token's aud claim is not Exchange Online although OAUTH2_SCOPES asks for Exchange Online",
    finding: 'The token endpoint issued a token for another API than the one OAUTH2_SCOPES asks for, so Exchange answers 535 5.7.3.',
    steps: ['oauthSettings', 'tenantId'],
    fix:
      'OAUTH2_SCOPES is right; the token comes from an endpoint that does not honour it. Check that OAUTH2_TOKEN_URL (or OAUTH2_AUTHORITY_HOST and ' +
      'OAUTH2_TENANT_ID) point at the Microsoft identity platform v2.0 token endpoint, https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token, ' +
      'not at a v1 endpoint, a proxy or another provider.',
  },
  token_role_missing: {
    symptom: "the token's roles claim lacks SMTP.SendAsApp",
    finding: 'The app has no SMTP.SendAsApp application permission, or admin consent was not granted, so Exchange answers 535 5.7.3.',
    steps: ['apiPermission'],
    fix:
      `In ${APP_REGISTRATION} → API permissions, add Office 365 Exchange Online → Application permissions → SMTP.SendAsApp ` +
      '(an application permission, not a delegated one) and click Grant admin consent. A new token carries it within minutes.',
  },
  token_wrong_tenant: {
    symptom: "the token's tid claim is not OAUTH2_TENANT_ID",
    finding: 'The token was issued by another tenant than the one configured.',
    steps: ['tenantId', 'oauthSettings'],
    fix: 'Use one tenant throughout: OAUTH2_TENANT_ID (or the tenant in OAUTH2_TOKEN_URL) must be the tenant of the app and of the mailbox.',
  },
  token_wrong_app: {
    symptom: "the token's appid claim is not OAUTH2_CLIENT_ID",
    finding: 'The token was issued to another application than the one configured.',
    steps: ['enterpriseApplication', 'oauthSettings'],
    fix: 'Set OAUTH2_CLIENT_ID to the Application (client) ID of the app that holds the client secret.',
  },
} as const satisfies Record<string, Diagnosis>;

export const TOKEN_REMEDIES = {
  /** Secretless sign-in: the managed identity gave no assertion and its failure named no remedy. */
  managed_identity_off: "Turn on the Function App's managed identity; with a user-assigned one set MANAGED_IDENTITY_CLIENT_ID (README: Secretless sign-in).",
  /** AADSTS70021 and kin: no federated credential matches the managed identity's assertion. */
  federated_credential_missing:
    'Add a federated credential to the app registration (Certificates & secrets → Federated credentials → Managed identity) for the ' +
    "Function App's managed identity: issuer https://login.microsoftonline.com/<tenant>/v2.0, subject = the identity's object (principal) ID, audience api://AzureADTokenExchange.",
} as const satisfies Record<string, Remedy>;
