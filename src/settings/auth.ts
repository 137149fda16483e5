/**
 * The authentication section: OAuth2 (the provider's token endpoint, the app
 * registration, and how it proves itself: a client secret from a setting or Key Vault,
 * federation with the managed identity, or a client certificate from Key Vault or a
 * PEM file), or the mailbox password when OAuth2 is off.
 */
import { echoSetting } from '../core/echo';
import { GUID, HOST_LABEL, parseUrl, splitList } from './formats';
import { MICROSOFT_AUTHORITY_HOSTS } from './microsoft';
import type { SettingsReader } from './reader';
import { SETTINGS, type SettingName } from './spec';
import type {
  AuthSettings,
  ClientCertificateSource,
  GenericOAuthSettings,
  KeyVaultSecretSettings,
  MicrosoftOAuthSettings,
  OAuthClientSettings,
  OAuthSettings,
  PasswordAuthSettings,
} from './types';

/** The OAuth2 settings, or undefined when the relay signs in with the mailbox password. */
export function oauthOf(auth: AuthSettings): OAuthSettings | undefined {
  return auth.kind === 'password' ? undefined : auth;
}

/**
 * The Key Vault secret of the settings (the client secret's source, the secret behind a Key Vault
 * certificate, or one left beside federation); undefined when none.
 */
export function keyVaultOf(auth: AuthSettings): KeyVaultSecretSettings | undefined {
  if (auth.kind === 'clientSecret' || auth.kind === 'certificate') return auth.source.kind === 'keyVault' ? auth.source.keyVault : undefined;
  return auth.kind === 'federation' ? auth.keyVault : undefined;
}

/**
 * A client secret that is a GUID is the secret's ID, copied instead of its Value (Values are
 * 40 characters with `~`). Checked wherever the secret comes from: this setting, or Key Vault.
 */
export function looksLikeSecretId(secret: string): boolean {
  return GUID.test(secret.trim());
}

/** Password authentication (OAUTH2_ENABLED=false); undefined when the password or the mailbox is missing (reported). */
export function readPassword(reader: SettingsReader, user: string | undefined): PasswordAuthSettings | undefined {
  const password = reader.required('SMTP_PASSWORD', 'OAUTH2_ENABLED is false, so the mailbox password is needed');
  return password === undefined || user === undefined ? undefined : { kind: 'password', user, password };
}

/**
 * OAuth2 client credentials; undefined when any of its settings has a problem (reported).
 * OAUTH2_PROVIDER=google is read by readGoogleOAuth (google.ts) instead: loadConfig chooses.
 */
export function readOAuth(reader: SettingsReader): OAuthSettings | undefined {
  const problemsBefore = reader.problems.length;
  const provider = reader.choice('OAUTH2_PROVIDER');
  for (const name of ['OAUTH2_SERVICE_ACCOUNT_KEY', 'OAUTH2_SERVICE_ACCOUNT_KEY_NAME'] as const) {
    if (reader.get(name) !== undefined) reader.report(name, 'is set although OAUTH2_PROVIDER is not google: remove it');
  }
  const tenantSetting = readTenant(reader, 'OAUTH2_TENANT_ID', reader.get('OAUTH2_TENANT_ID'));
  const authoritySetting = readAuthorityHost(reader);
  const tokenUrlText = reader.get('OAUTH2_TOKEN_URL');
  const tokenUrl = tokenUrlText === undefined ? undefined : readTokenUrl(reader, tokenUrlText);
  const fromTokenUrl = tokenUrl === undefined ? undefined : microsoftTokenUrlParts(tokenUrl);
  const clientId = reader.required('OAUTH2_CLIENT_ID', 'the Application (client) ID of the app registration');
  const authMode = reader.choice('OAUTH2_AUTH_MODE');
  const managedIdentityClientId = readManagedIdentityClientId(reader);
  const keyVault = readKeyVaultSecret(reader, managedIdentityClientId, authMode === 'certificate' ? CERTIFICATE_NAME : SECRET_NAME);
  const certificatePath = readCertificatePath(reader, authMode, keyVault);
  const clientSecret = readClientSecretSetting(reader, authMode, keyVault);
  const scopesText = reader.get('OAUTH2_SCOPES');
  const refreshMarginSeconds = reader.integer('OAUTH2_REFRESH_MARGIN_SECONDS');

  const isMicrosoft =
    provider === 'microsoft' || (provider === 'auto' && (tenantSetting !== undefined || fromTokenUrl !== undefined || reader.hasProblem('OAUTH2_TENANT_ID')));
  let endpoint: MicrosoftOAuthSettings | GenericOAuthSettings | undefined;
  let scopes: string[];

  if (isMicrosoft) {
    if (tokenUrl !== undefined && fromTokenUrl === undefined) {
      reader.report('OAUTH2_TOKEN_URL', 'for the Microsoft provider it must have the form https://<authority host>/<tenant>/oauth2/v2.0/token');
    }
    const tenantFromUrl = fromTokenUrl ? readTenant(reader, 'OAUTH2_TOKEN_URL', fromTokenUrl.tenantId) : undefined;
    if (tenantSetting && tenantFromUrl && tenantSetting.toLowerCase() !== tenantFromUrl.toLowerCase()) {
      reader.report('OAUTH2_TENANT_ID', `${echoSetting(tenantSetting)} contradicts the tenant ${echoSetting(tenantFromUrl)} in OAUTH2_TOKEN_URL`);
    }
    if (authoritySetting && fromTokenUrl && authoritySetting !== fromTokenUrl.authorityHost) {
      reader.report(
        'OAUTH2_AUTHORITY_HOST',
        `${echoSetting(authoritySetting)} contradicts the host ${echoSetting(fromTokenUrl.authorityHost)} of OAUTH2_TOKEN_URL`,
      );
    }
    const tenantId = tenantSetting ?? tenantFromUrl;
    if (tenantId === undefined && tokenUrlText === undefined && !reader.hasProblem('OAUTH2_TENANT_ID')) {
      reader.report(
        'OAUTH2_TENANT_ID',
        'is missing: the Directory (tenant) ID (or give OAUTH2_TOKEN_URL as https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token)',
      );
    }
    if (clientId !== undefined && !GUID.test(clientId)) {
      reader.report('OAUTH2_CLIENT_ID', `${echoSetting(clientId)} is not an Application (client) ID, which is a GUID`);
    }
    if (clientSecret !== undefined && looksLikeSecretId(clientSecret)) {
      // Set where no secret belongs (federation, Key Vault: reported above), removing it is the fix, not copying its Value.
      const diagnosis = reader.hasProblem('OAUTH2_CLIENT_SECRET') ? undefined : 'client_secret_is_id';
      reader.report(
        'OAUTH2_CLIENT_SECRET',
        "looks like the secret's ID (a GUID); copy the secret's Value instead (shown only once, when it is created)",
        diagnosis,
      );
    }
    scopes = readMicrosoftScopes(reader, scopesText);
    const authorityHost = fromTokenUrl?.authorityHost ?? authoritySetting ?? SETTINGS.OAUTH2_AUTHORITY_HOST.default;
    if (tenantId !== undefined) {
      endpoint = {
        provider: 'microsoft',
        tenantId,
        authorityHost,
        tokenUrl: SETTINGS.OAUTH2_TOKEN_URL.default.rule({ authorityHost, tenantId }),
        disableInstanceDiscovery: !MICROSOFT_AUTHORITY_HOSTS.has(new URL(authorityHost).host),
      };
    }
  } else {
    if (tokenUrlText === undefined && !reader.hasProblem('OAUTH2_TOKEN_URL')) {
      reader.report('OAUTH2_TOKEN_URL', 'is missing: the token endpoint of the provider (or set OAUTH2_TENANT_ID for Microsoft Entra ID)');
    }
    // Generic providers get no default scope: OAUTH2_SCOPES' default is Microsoft's.
    scopes = scopesText === undefined ? [] : splitList(scopesText);
    if (tokenUrl !== undefined) endpoint = { provider: 'generic', tokenUrl: tokenUrl.href };
  }

  if ((authMode === 'managed-identity-federation' || authMode === 'certificate') && !isMicrosoft) {
    reader.report('OAUTH2_AUTH_MODE', `${authMode} works only with Microsoft Entra ID (set OAUTH2_TENANT_ID)`);
  }
  const sendCertificateChain = reader.boolean('OAUTH2_SEND_CERTIFICATE_CHAIN');
  if (reader.problems.length > problemsBefore || endpoint === undefined || clientId === undefined) return undefined;
  const client: OAuthClientSettings = { clientId, scopes, refreshMarginMs: refreshMarginSeconds * 1000 };
  if (authMode === 'managed-identity-federation') {
    if (endpoint.provider !== 'microsoft') return undefined;
    const federation = managedIdentityClientId ? { managedIdentityClientId } : {};
    return keyVault === undefined
      ? { kind: 'federation', ...endpoint, ...client, federation }
      : { kind: 'federation', ...endpoint, ...client, federation, keyVault };
  }
  if (authMode === 'certificate') {
    if (endpoint.provider !== 'microsoft') return undefined;
    const source: ClientCertificateSource | undefined =
      keyVault !== undefined ? { kind: 'keyVault', keyVault } : certificatePath !== undefined ? { kind: 'file', path: certificatePath } : undefined;
    return source === undefined ? undefined : { kind: 'certificate', ...endpoint, ...client, source, sendCertificateChain };
  }
  if (keyVault !== undefined) return { kind: 'clientSecret', ...endpoint, ...client, source: { kind: 'keyVault', keyVault } };
  if (clientSecret !== undefined) return { kind: 'clientSecret', ...endpoint, ...client, source: { kind: 'setting', clientSecret } };
  return undefined;
}

type AuthMode = 'secret' | 'managed-identity-federation' | 'certificate';

/** OAUTH2_CLIENT_SECRET, required only when neither Key Vault, federation nor a certificate supplies the credential. */
function readClientSecretSetting(reader: SettingsReader, authMode: AuthMode, keyVault: KeyVaultSecretSettings | undefined): string | undefined {
  const fromElsewhere = authMode !== 'secret' || keyVault !== undefined || reader.hasProblem('KEYVAULT_URL') || reader.hasProblem('OAUTH2_CLIENT_SECRET_NAME');
  const secret = fromElsewhere
    ? reader.get('OAUTH2_CLIENT_SECRET')
    : reader.required('OAUTH2_CLIENT_SECRET', "the client secret's Value from the app registration (or KEYVAULT_URL and OAUTH2_CLIENT_SECRET_NAME)");
  if (secret !== undefined && authMode !== 'secret') {
    reader.report('OAUTH2_CLIENT_SECRET', `is set although OAUTH2_AUTH_MODE=${authMode} uses no secret: remove it`);
  } else if (secret !== undefined && keyVault !== undefined) {
    reader.report('OAUTH2_CLIENT_SECRET', 'is set although the secret is read from Key Vault (KEYVAULT_URL): remove it, so the secret lives in one place only');
  }
  return secret;
}

function readManagedIdentityClientId(reader: SettingsReader): string | undefined {
  const clientId = reader.get('MANAGED_IDENTITY_CLIENT_ID');
  if (clientId !== undefined && !GUID.test(clientId)) {
    reader.report('MANAGED_IDENTITY_CLIENT_ID', `${echoSetting(clientId)} is not a managed identity client ID (a GUID)`);
    return undefined;
  }
  return clientId;
}

/** The setting that names the Key Vault item, and what it holds, for the texts. */
export interface VaultItemName {
  setting: 'OAUTH2_CLIENT_SECRET_NAME' | 'OAUTH2_CLIENT_CERTIFICATE_NAME' | 'OAUTH2_SERVICE_ACCOUNT_KEY_NAME';
  other: 'OAUTH2_CLIENT_SECRET_NAME' | 'OAUTH2_CLIENT_CERTIFICATE_NAME';
  holds: string;
  kind: string;
}
const SECRET_NAME: VaultItemName = {
  setting: 'OAUTH2_CLIENT_SECRET_NAME',
  other: 'OAUTH2_CLIENT_CERTIFICATE_NAME',
  holds: 'the Key Vault secret that holds the client secret Value',
  kind: 'secret',
};
const CERTIFICATE_NAME: VaultItemName = {
  setting: 'OAUTH2_CLIENT_CERTIFICATE_NAME',
  other: 'OAUTH2_CLIENT_SECRET_NAME',
  holds: 'the Key Vault certificate the relay signs in with',
  kind: 'certificate',
};

/**
 * KEYVAULT_URL + the item's name (OAUTH2_CLIENT_SECRET_NAME, or OAUTH2_CLIENT_CERTIFICATE_NAME in
 * certificate mode: a Key Vault certificate's private key is read through the secret of the same
 * name), or undefined when Key Vault is not used.
 */
export function readKeyVaultSecret(
  reader: SettingsReader,
  managedIdentityClientId: string | undefined,
  item: VaultItemName,
): KeyVaultSecretSettings | undefined {
  const urlText = reader.get('KEYVAULT_URL');
  const name = reader.get(item.setting);
  const cacheSeconds = reader.integer('OAUTH2_CLIENT_SECRET_CACHE_SECONDS');
  if (reader.get(item.other) !== undefined) {
    const mode =
      item.setting === 'OAUTH2_SERVICE_ACCOUNT_KEY_NAME'
        ? 'is set although OAUTH2_PROVIDER=google reads no client secret'
        : item.kind === 'certificate'
          ? 'is set although OAUTH2_AUTH_MODE=certificate reads no client secret'
          : 'is set although OAUTH2_AUTH_MODE is not certificate';
    reader.report(item.other, `${mode}: remove it`);
  }
  if (urlText === undefined) {
    if (name !== undefined) reader.report('KEYVAULT_URL', `is missing: ${item.setting} is set, so the vault URI (https://<vault>.vault.azure.net) is needed`);
    return undefined;
  }
  const url = parseUrl(urlText);
  let vaultUrl: string | undefined;
  if (url === undefined || url.protocol !== 'https:' || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    reader.report('KEYVAULT_URL', `${echoSetting(urlText)} must be a vault URI such as https://<vault>.vault.azure.net (https, no path)`);
  } else {
    vaultUrl = url.origin;
  }
  if (name === undefined) {
    reader.report(item.setting, `is missing: the name of ${item.holds}`);
  } else if (!/^[0-9A-Za-z-]{1,127}$/.test(name)) {
    reader.report(item.setting, `${echoSetting(name)} is not a Key Vault ${item.kind} name (1 to 127 letters, digits and hyphens)`);
    return undefined;
  }
  if (vaultUrl === undefined || name === undefined) return undefined;
  const settings: KeyVaultSecretSettings = { vaultUrl, secretName: name, cacheMs: cacheSeconds * 1000 };
  if (managedIdentityClientId !== undefined) settings.managedIdentityClientId = managedIdentityClientId;
  return settings;
}

/** OAUTH2_CLIENT_CERTIFICATE_PATH: the PEM file of certificate mode when Key Vault does not hold the certificate. */
function readCertificatePath(reader: SettingsReader, authMode: AuthMode, keyVault: KeyVaultSecretSettings | undefined): string | undefined {
  const path = reader.get('OAUTH2_CLIENT_CERTIFICATE_PATH');
  if (authMode !== 'certificate') {
    if (path !== undefined) reader.report('OAUTH2_CLIENT_CERTIFICATE_PATH', 'is set although OAUTH2_AUTH_MODE is not certificate: remove it');
    return undefined;
  }
  const inVault = keyVault !== undefined || reader.hasProblem('KEYVAULT_URL') || reader.hasProblem('OAUTH2_CLIENT_CERTIFICATE_NAME');
  if (path !== undefined && inVault) {
    reader.report(
      'OAUTH2_CLIENT_CERTIFICATE_PATH',
      'is set although the certificate is read from Key Vault (KEYVAULT_URL): remove it, so the key lives in one place only',
    );
    return undefined;
  }
  if (path === undefined && !inVault) {
    reader.report(
      'OAUTH2_CLIENT_CERTIFICATE_PATH',
      'is missing: OAUTH2_AUTH_MODE=certificate needs the PEM file of the private key and certificate (or KEYVAULT_URL and OAUTH2_CLIENT_CERTIFICATE_NAME)',
    );
  }
  return path;
}

function readTenant(reader: SettingsReader, setting: SettingName, tenant: string | undefined): string | undefined {
  if (tenant === undefined) return undefined;
  if (['common', 'organizations', 'consumers'].includes(tenant.toLowerCase())) {
    reader.report(setting, `tenant ${echoSetting(tenant)} cannot be used: client-credentials tokens need your own tenant's Directory (tenant) ID`);
    return undefined;
  }
  const isDomain = tenant.includes('.') && tenant.split('.').every((label) => HOST_LABEL.test(label));
  if (!GUID.test(tenant) && !isDomain) {
    reader.report(setting, `tenant ${echoSetting(tenant)} is neither a Directory (tenant) ID (GUID) nor a domain name`);
    return undefined;
  }
  return tenant;
}

function readAuthorityHost(reader: SettingsReader): string | undefined {
  const text = reader.get('OAUTH2_AUTHORITY_HOST');
  if (text === undefined) return undefined;
  const url = parseUrl(text);
  if (url === undefined || url.protocol !== 'https:') {
    reader.report('OAUTH2_AUTHORITY_HOST', `${echoSetting(text)} must be an https:// URL such as ${SETTINGS.OAUTH2_AUTHORITY_HOST.default}`);
    return undefined;
  }
  if (url.pathname !== '/' || url.search || url.hash) {
    reader.report('OAUTH2_AUTHORITY_HOST', `${echoSetting(text)} must be a host only, without a path (the tenant goes in OAUTH2_TENANT_ID)`);
    return undefined;
  }
  return url.origin;
}

function readTokenUrl(reader: SettingsReader, text: string): URL | undefined {
  const url = parseUrl(text);
  if (url === undefined) {
    reader.report('OAUTH2_TOKEN_URL', `${echoSetting(text)} is not an absolute URL`);
    return undefined;
  }
  if (url.protocol !== 'https:') {
    reader.report('OAUTH2_TOKEN_URL', `${echoSetting(text)} must use https: the client secret is sent to it`);
    return undefined;
  }
  if (MICROSOFT_AUTHORITY_HOSTS.has(url.host) && /^\/[^/]+\/oauth2\/token\/?$/.test(url.pathname)) {
    reader.report('OAUTH2_TOKEN_URL', 'is the Entra ID v1 endpoint, which takes no scopes: use https://<host>/<tenant>/oauth2/v2.0/token');
    return undefined;
  }
  return url;
}

/** Splits a token URL of the form https://<host>/<tenant>/oauth2/v2.0/token. */
function microsoftTokenUrlParts(url: URL): { authorityHost: string; tenantId: string } | undefined {
  const tenant = /^\/([^/]+)\/oauth2\/v2\.0\/token\/?$/.exec(url.pathname)?.[1];
  if (tenant === undefined || url.search || url.hash) return undefined;
  return { authorityHost: url.origin, tenantId: decodeURIComponent(tenant) };
}

function readMicrosoftScopes(reader: SettingsReader, text: string | undefined): string[] {
  const preset = SETTINGS.OAUTH2_SCOPES.default;
  if (text === undefined) return [preset];
  const scopes = splitList(text);
  const wrong = scopes.filter((scope) => parseUrl(scope) === undefined || !scope.endsWith('/.default'));
  if (wrong.length > 0) {
    reader.report(
      'OAUTH2_SCOPES',
      `${wrong.map(echoSetting).join(', ')} must be an absolute URL ending in /.default (e.g. ${preset}): the Microsoft client-credentials flow only grants <resource>/.default scopes`,
      'invalid_scope',
    );
  } else if (scopes.length !== 1) {
    reader.report('OAUTH2_SCOPES', `lists ${scopes.length} scopes; the Microsoft client-credentials flow takes exactly one (${preset})`, 'invalid_scope');
  }
  return scopes;
}
