/**
 * OAUTH2_PROVIDER=google: a Google Workspace mailbox through a service account with
 * domain-wide delegation. The service account's JSON key is the credential (from Key
 * Vault: KEYVAULT_URL + OAUTH2_SERVICE_ACCOUNT_KEY_NAME; or, for local runs, the
 * OAUTH2_SERVICE_ACCOUNT_KEY setting holding the JSON), the token is asked for the
 * mailbox itself (the JWT's `sub`), and Gmail's published limits are the defaults
 * (gmail.ts). limits and defaults are in gmail.ts.
 */
import { echoSetting } from '../core/echo';
import { parseServiceAccountKey } from './googleKey';
import { readKeyVaultSecret, type VaultItemName } from './auth';
import { splitList } from './formats';
import { GMAIL_SCOPE } from './gmail';
import type { SettingsReader } from './reader';
import type { SettingName } from './spec';
import type { ClientSecretAuth, ClientSecretSource } from './types';

/** Whether OAUTH2_PROVIDER says google (read raw: the SMTP section, read first, takes its host default from it). */
export function isGoogleProvider(reader: SettingsReader): boolean {
  return reader.get('OAUTH2_PROVIDER')?.toLowerCase() === 'google';
}

const KEY_NAME: VaultItemName = {
  setting: 'OAUTH2_SERVICE_ACCOUNT_KEY_NAME',
  other: 'OAUTH2_CLIENT_SECRET_NAME',
  holds: "the Key Vault secret that holds the service account's JSON key",
  kind: 'secret',
};

/** Settings of the Microsoft ways to sign in, which a Google sender must not have (they would silently do nothing). */
const NOT_FOR_GOOGLE: SettingName[] = [
  'OAUTH2_TENANT_ID',
  'OAUTH2_AUTHORITY_HOST',
  'OAUTH2_TOKEN_URL',
  'OAUTH2_CLIENT_SECRET',
  'OAUTH2_CLIENT_CERTIFICATE_NAME',
  'OAUTH2_CLIENT_CERTIFICATE_PATH',
];

/** The Google sender's OAuth2 settings; undefined after a problem (reported). `mailbox` is SMTP_USER: the JWT's sub. */
export function readGoogleOAuth(reader: SettingsReader, mailbox: string | undefined): ClientSecretAuth | undefined {
  const problemsBefore = reader.problems.length;
  for (const name of NOT_FOR_GOOGLE) {
    if (reader.get(name) !== undefined) {
      const why = name === 'OAUTH2_TOKEN_URL' ? 'the token URI is the key\'s "token_uri"' : 'it belongs to Microsoft Entra ID';
      reader.report(name, `is set although OAUTH2_PROVIDER=google (${why}): remove it`);
    }
  }
  const authMode = reader.choice('OAUTH2_AUTH_MODE');
  if (authMode !== 'secret')
    reader.report('OAUTH2_AUTH_MODE', `${authMode} works only with Microsoft Entra ID; Google signs in with the service account's key`);
  const managedIdentityClientId = reader.get('MANAGED_IDENTITY_CLIENT_ID');
  const keyVault = readKeyVaultSecret(reader, managedIdentityClientId, KEY_NAME);
  const keyText = reader.get('OAUTH2_SERVICE_ACCOUNT_KEY');
  const inVault = keyVault !== undefined || reader.hasProblem('KEYVAULT_URL') || reader.hasProblem('OAUTH2_SERVICE_ACCOUNT_KEY_NAME');
  let source: ClientSecretSource | undefined;
  let keyClientId: string | undefined;
  if (keyText !== undefined && inVault) {
    reader.report('OAUTH2_SERVICE_ACCOUNT_KEY', 'is set although the key is read from Key Vault (KEYVAULT_URL): remove it, so the key lives in one place only');
  } else if (keyText !== undefined) {
    const parsed = parseServiceAccountKey(keyText);
    if ('problems' in parsed) for (const problem of parsed.problems) reader.report('OAUTH2_SERVICE_ACCOUNT_KEY', problem, 'google_key_unusable');
    else {
      keyClientId = parsed.key.clientId;
      source = { kind: 'setting', clientSecret: keyText };
    }
  } else if (keyVault !== undefined) {
    source = { kind: 'keyVault', keyVault };
  } else if (!inVault) {
    reader.report(
      'OAUTH2_SERVICE_ACCOUNT_KEY',
      "is missing: OAUTH2_PROVIDER=google needs the service account's JSON key (or KEYVAULT_URL and OAUTH2_SERVICE_ACCOUNT_KEY_NAME)",
    );
  }
  const clientIdSetting = reader.get('OAUTH2_CLIENT_ID');
  if (clientIdSetting !== undefined && !/^\d{1,40}$/.test(clientIdSetting)) {
    reader.report('OAUTH2_CLIENT_ID', `${echoSetting(clientIdSetting)} is not a Google service account's numeric client ID (the key's "client_id")`);
  } else if (clientIdSetting !== undefined && keyClientId !== undefined && clientIdSetting !== keyClientId) {
    reader.report('OAUTH2_CLIENT_ID', `${clientIdSetting} is not the client_id of the key in OAUTH2_SERVICE_ACCOUNT_KEY: remove it, or use that account's key`);
  }
  const scopesText = reader.get('OAUTH2_SCOPES');
  const scopes = scopesText === undefined ? [GMAIL_SCOPE] : splitList(scopesText);
  const refreshMarginMs = reader.integer('OAUTH2_REFRESH_MARGIN_SECONDS') * 1000;
  if (reader.problems.length > problemsBefore || source === undefined || mailbox === undefined) return undefined;
  // The client ID is checked against the key when one is read; until then OAUTH2_CLIENT_ID (optional) or empty.
  const clientId = keyClientId ?? clientIdSetting ?? '';
  return { kind: 'clientSecret', provider: 'google', subject: mailbox, clientId, scopes, refreshMarginMs, source };
}
