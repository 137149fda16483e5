/**
 * RELAY_SENDERS: more senders beside the default one, as one JSON app setting (an array).
 * Each entry names a mailbox, the From addresses it may send as, its app registration
 * (provider, tenant, client id and a credential BY REFERENCE: an app setting's name, a Key
 * Vault secret's name, or managed-identity federation), its SMTP server and its limits.
 * Every problem of every entry is reported at once with its path
 * (`RELAY_SENDERS[1].credential.keyVaultSecret: …`). Secrets are never written inline: a key
 * or a value that looks like one is refused without being echoed.
 *
 * Fields an entry leaves out come from the single-sender settings (timeouts, extra CA,
 * token refresh margin, Key Vault URL and cache): the operator writes only what differs.
 */
import { echoSetting } from '../core/echo';
import { registerSecret } from '../core/redact';
import { addressKey, isEmailAddress } from '../message/address';
import { GUID, HOST_LABEL, parseUrl } from './formats';
import { EXCHANGE_MESSAGES_PER_MINUTE, EXCHANGE_POOL_LIMIT, EXCHANGE_RECIPIENT_LIMIT, MICROSOFT_AUTHORITY_HOSTS, isMicrosoftSmtpHost } from './microsoft';
import type { SettingsReader } from './reader';
import { graphAuthProblem, graphSettings, SENT_ITEMS_PROBLEM, TRANSPORT_KINDS } from './transport';
import { SETTINGS } from './spec';
import type {
  AuthSettings,
  ClientSecretSource,
  KeyVaultSecretSettings,
  MailSettings,
  OAuthClientSettings,
  OAuthSettings,
  SenderSettings,
  SmtpSecurity,
  SmtpSettings,
  TransportKind,
  TransportSettings,
} from './types';

/** The id of the sender today's single-sender settings (SMTP_USER, OAUTH2_*, SMTP_*) define. */
export const DEFAULT_SENDER_ID = 'default';
/** Sender ids: what a message's `sender` field may hold (the queue-message schema repeats it). */
export const SENDER_ID = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
/** At most this many senders in RELAY_SENDERS: each one may hold pools and caches in every instance. */
export const MAX_SENDERS = 50;
/** Exchange Online's recipients per rolling 24 hours per mailbox. */
export const EXCHANGE_RECIPIENTS_PER_DAY = 10_000;

const SETTING = 'RELAY_SENDERS';
const APP_SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const KEY_VAULT_SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;
/** Keys that would hold a secret inline. */
const SECRET_KEYS = /secret$|password|^key$|token$|assertion/i;
const KNOWN = {
  sender: [
    'id',
    'mailbox',
    'from',
    'allowedFrom',
    'provider',
    'tenant',
    'authorityHost',
    'tokenUrl',
    'scopes',
    'clientId',
    'credential',
    'smtp',
    'limits',
    'maxRecipients',
    'transport',
    'saveToSentItems',
  ],
  credential: ['secretSetting', 'keyVaultSecret', 'vaultUrl', 'federation', 'managedIdentityClientId'],
  smtp: ['host', 'port', 'security'],
  limits: ['connections', 'messagesPerMinute', 'recipientsPerDay'],
};

/** What the entries inherit: the default sender's settings, as the single-sender settings define them. */
export interface SenderDefaults {
  smtp: SmtpSettings;
  auth?: AuthSettings;
  mail?: MailSettings;
  /** RELAY_TRANSPORT, GRAPH_URL and GRAPH_SAVE_TO_SENT_ITEMS: an entry's transport unless it gives its own. */
  transport?: TransportSettings;
  /** KEYVAULT_URL and its cache, for entries whose credential names a Key Vault secret without a vault. */
  keyVault?: { vaultUrl?: string; cacheMs: number; managedIdentityClientId?: string };
}

/** The default sender and the senders of RELAY_SENDERS, in that order. */
export function sendersOf(config: {
  smtp: SmtpSettings;
  auth: AuthSettings;
  mail: MailSettings;
  transport?: TransportSettings;
  senders?: SenderSettings[];
}): SenderSettings[] {
  const own = { id: DEFAULT_SENDER_ID, smtp: config.smtp, auth: config.auth, mail: config.mail };
  return [config.transport ? { ...own, transport: config.transport } : own, ...(config.senders ?? [])];
}

/** The sender's transport kind: smtp when its settings name none. */
export function transportOf(sender: { transport?: TransportSettings }): TransportKind {
  return sender.transport?.kind ?? 'smtp';
}

/** The senders of RELAY_SENDERS ([] when absent); every problem is reported with its path. */
export function readSenders(reader: SettingsReader, defaults: SenderDefaults): SenderSettings[] {
  const text = reader.get(SETTING);
  if (text === undefined) return [];
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    reader.report(SETTING, `is not JSON (${error instanceof Error ? error.message.slice(0, 120) : 'unreadable'}): write a JSON array of senders`);
    return [];
  }
  if (!Array.isArray(data)) {
    reader.report(SETTING, 'must be a JSON array of senders ([{ "id": …, "mailbox": …, … }])');
    return [];
  }
  if (data.length > MAX_SENDERS) {
    reader.report(SETTING, `lists ${data.length} senders; at most ${MAX_SENDERS} are allowed`);
    return [];
  }
  const senders: SenderSettings[] = [];
  const ids = new Map<string, string>([[DEFAULT_SENDER_ID, 'the single-sender settings']]);
  /** Address key → the sender claiming it (its id, and its index: -1 the default sender). */
  const claims = new Map<string, { id: string; index: number }>();
  if (defaults.mail) {
    for (const address of [defaults.mail.user, defaults.mail.from, ...defaults.mail.allowedFrom])
      claims.set(addressKey(address), { id: DEFAULT_SENDER_ID, index: -1 });
  }
  data.forEach((entry: unknown, index) => {
    const path = `${SETTING}[${index}]`;
    const problem = (where: string, text: string) => reader.reportAt(SETTING, `${path}${where}`, text);
    const read = readEntry(entry, problem, defaults, reader);
    if (read === undefined) return;
    const { sender, claimed } = read;
    const taken = ids.get(sender.id);
    if (taken !== undefined) problem('.id', `${JSON.stringify(sender.id)} is already the id of ${taken}: every sender needs its own id`);
    else ids.set(sender.id, `${path}`);
    // A From address two senders may use could not choose its sender.
    const own = new Set<string>();
    for (const [where, address] of claimed) {
      const key = addressKey(address);
      if (own.has(key)) continue;
      own.add(key);
      const owner = claims.get(key);
      if (owner !== undefined) {
        problem(where, `${JSON.stringify(address)} is also claimed by sender ${JSON.stringify(owner.id)}: a message from it could not choose its sender`);
      } else claims.set(key, { id: sender.id, index });
    }
    senders.push(sender);
  });
  return senders;
}

type Problem = (where: string, text: string) => void;

/** One entry, or undefined when it has a problem (all of them reported). */
/** The addresses a sender may send as, each with where it is written. */
type Claimed = Array<[string, string]>;

function readEntry(
  entry: unknown,
  problem: Problem,
  defaults: SenderDefaults,
  reader: SettingsReader,
): { sender: SenderSettings; claimed: Claimed } | undefined {
  if (!isObject(entry)) {
    problem('', 'must be an object ({ "id": …, "mailbox": …, "clientId": …, "credential": … })');
    return undefined;
  }
  let broken = checkKeys(entry, KNOWN.sender, '', problem);
  const fail = (where: string, text: string) => {
    broken = true;
    problem(where, text);
  };
  const id = readString(entry, 'id', fail, true);
  if (id !== undefined && !SENDER_ID.test(id)) fail('.id', `${echoSetting(id)} is not a sender id (1 to 32 lower-case letters, digits and inner hyphens)`);
  else if (id === DEFAULT_SENDER_ID) fail('.id', `"${DEFAULT_SENDER_ID}" is the sender of the single-sender settings (SMTP_USER, OAUTH2_*): choose another id`);
  const mailbox = readAddress(entry, 'mailbox', fail, true);
  const from = readAddress(entry, 'from', fail, false) ?? mailbox;
  const allowedFrom = readAddressList(entry, 'allowedFrom', fail);
  const smtp = readSmtpPart(entry, defaults.smtp, fail);
  const maxRecipients = readInteger(entry, 'maxRecipients', '', 1, 1000, fail) ?? defaults.mail?.maxRecipients ?? SETTINGS.MAIL_MAX_RECIPIENTS.default;
  if (isMicrosoftSmtpHost(smtp.host) && maxRecipients > EXCHANGE_RECIPIENT_LIMIT) {
    fail('.maxRecipients', `${maxRecipients} exceeds the ${EXCHANGE_RECIPIENT_LIMIT} recipients per message Exchange Online accepts`);
  }
  readLimits(entry, smtp, fail);
  const auth = readAuthPart(entry, defaults, fail, reader);
  const transport = readTransportPart(entry, defaults.transport, auth, fail);
  if (broken || id === undefined || mailbox === undefined || from === undefined || auth === undefined) return undefined;
  // The mailbox itself is always a From address of its sender.
  const allowed = [...new Set([mailbox.toLowerCase(), ...allowedFrom])];
  const claimed: Claimed = [['.mailbox', mailbox], ['.from', from], ...allowedFrom.map((address, i): [string, string] => [`.allowedFrom[${i}]`, address])];
  const sender: SenderSettings = { id, smtp, auth, mail: { user: mailbox, from, allowedFrom: allowed, maxRecipients } };
  if (transport) sender.transport = transport;
  return { sender, claimed };
}

/** transport and saveToSentItems; the single-sender settings' where the entry gives none. */
function readTransportPart(
  entry: Record<string, unknown>,
  base: TransportSettings | undefined,
  auth: AuthSettings | undefined,
  fail: Problem,
): TransportSettings | undefined {
  const kindText = readString(entry, 'transport', fail, false);
  let kind: TransportKind = base?.kind ?? 'smtp';
  if (kindText !== undefined) {
    const known = TRANSPORT_KINDS.find((option) => option === kindText);
    if (known) kind = known;
    else fail('.transport', `${echoSetting(kindText)} is not one of ${TRANSPORT_KINDS.join(', ')}`);
  }
  let saveToSentItems = base?.graph.saveToSentItems ?? SETTINGS.GRAPH_SAVE_TO_SENT_ITEMS.default;
  if (entry.saveToSentItems !== undefined) {
    if (entry.saveToSentItems === true) saveToSentItems = true;
    else fail('.saveToSentItems', entry.saveToSentItems === false ? SENT_ITEMS_PROBLEM : 'must be true or false');
  }
  // An inherited RELAY_TRANSPORT too: this entry signs in with its own registration.
  const problem = graphAuthProblem(kind, auth);
  if (problem) fail('.transport', problem);
  if (base === undefined && kindText === undefined && entry.saveToSentItems === undefined) return undefined;
  return { kind, graph: base ? { ...base.graph, saveToSentItems } : graphSettings(SETTINGS.GRAPH_URL.default, saveToSentItems) };
}

function readSmtpPart(entry: Record<string, unknown>, base: SmtpSettings, fail: Problem): SmtpSettings {
  const part = entry.smtp;
  if (part === undefined) return { ...base };
  if (!isObject(part)) {
    fail('.smtp', 'must be an object ({ "host": …, "port": …, "security": … })');
    return { ...base };
  }
  checkKeys(part, KNOWN.smtp, '.smtp', fail);
  const host = readString(part, 'host', fail, false, '.smtp') ?? base.host;
  if (isNotHost(host)) fail('.smtp.host', `${echoSetting(host)} is not a host name (no scheme, no port)`);
  const port = readInteger(part, 'port', '.smtp', 1, 65535, fail) ?? (part.host === undefined ? base.port : SETTINGS.SMTP_PORT.default);
  const securityText = readString(part, 'security', fail, false, '.smtp');
  let security: SmtpSecurity = port === 465 ? 'implicit' : 'starttls';
  if (securityText !== undefined) {
    if (securityText === 'starttls' || securityText === 'implicit') security = securityText;
    else fail('.smtp.security', `${echoSetting(securityText)} is not one of starttls, implicit`);
  } else if (part.port === undefined && part.host === undefined) security = base.security;
  if (security === 'implicit' && port === 587) fail('.smtp.security', 'implicit contradicts port 587, the STARTTLS submission port');
  if (security === 'starttls' && port === 465) fail('.smtp.security', 'starttls contradicts port 465, which expects TLS from the first byte');
  return { ...base, host, port, security };
}

/** Connections, messages a minute and recipients a day go into the sender's SMTP settings (the limits the throttle holds). */
function readLimits(entry: Record<string, unknown>, smtp: SmtpSettings, fail: Problem): void {
  const exchange = isMicrosoftSmtpHost(smtp.host);
  const part = entry.limits;
  const fallbackPerDay = exchange ? EXCHANGE_RECIPIENTS_PER_DAY : 0;
  if (part !== undefined && !isObject(part)) fail('.limits', 'must be an object ({ "connections": …, "messagesPerMinute": …, "recipientsPerDay": … })');
  const limits = isObject(part) ? part : {};
  checkKeys(limits, KNOWN.limits, '.limits', fail);
  const connections = readInteger(limits, 'connections', '.limits', 1, 20, fail);
  const perMinute = readInteger(limits, 'messagesPerMinute', '.limits', 0, 10000, fail);
  const perDay = readInteger(limits, 'recipientsPerDay', '.limits', 0, 1_000_000, fail) ?? fallbackPerDay;
  if (exchange && connections !== undefined && connections > EXCHANGE_POOL_LIMIT) {
    fail('.limits.connections', `${connections} exceeds the ${EXCHANGE_POOL_LIMIT} concurrent connections Exchange Online allows per mailbox`);
  }
  if (exchange && perMinute !== undefined && perMinute > EXCHANGE_MESSAGES_PER_MINUTE) {
    fail('.limits.messagesPerMinute', `${perMinute} exceeds the ${EXCHANGE_MESSAGES_PER_MINUTE} messages a minute Exchange Online allows per mailbox`);
  }
  if (exchange && perDay > EXCHANGE_RECIPIENTS_PER_DAY) {
    fail('.limits.recipientsPerDay', `${perDay} exceeds the ${EXCHANGE_RECIPIENTS_PER_DAY} recipients a day Exchange Online allows per mailbox`);
  }
  if (connections !== undefined) smtp.poolSize = connections;
  if (perMinute !== undefined) smtp.rateLimitPerMinute = perMinute;
  else if (entry.smtp !== undefined) smtp.rateLimitPerMinute = SETTINGS.SMTP_RATE_LIMIT_PER_MINUTE.default.rule({ host: smtp.host });
  smtp.dailyRecipientLimit = perDay;
}

/** Provider, tenant, client id and credential; undefined after a problem. */
function readAuthPart(entry: Record<string, unknown>, defaults: SenderDefaults, fail: Problem, reader: SettingsReader): OAuthSettings | undefined {
  const base = defaults.auth?.kind === 'password' ? undefined : defaults.auth;
  const providerText = readString(entry, 'provider', fail, false) ?? 'microsoft';
  if (providerText !== 'microsoft' && providerText !== 'generic') {
    fail('.provider', `${echoSetting(providerText)} is not one of microsoft, generic`);
    return undefined;
  }
  const clientId = readString(entry, 'clientId', fail, true);
  if (clientId !== undefined && providerText === 'microsoft' && !GUID.test(clientId)) {
    fail('.clientId', `${echoSetting(clientId)} is not an Application (client) ID (a GUID)`);
  }
  const scopes = readScopes(entry, providerText, fail);
  const credential = readCredential(entry, providerText, defaults, fail, reader);
  const client: OAuthClientSettings | undefined =
    clientId === undefined || scopes === undefined
      ? undefined
      : { clientId, scopes, refreshMarginMs: base?.refreshMarginMs ?? SETTINGS.OAUTH2_REFRESH_MARGIN_SECONDS.default * 1000 };

  if (providerText === 'generic') {
    const tokenUrl = readHttpsUrl(entry, 'tokenUrl', fail, true);
    if (entry.tenant !== undefined) fail('.tenant', 'is for the microsoft provider; a generic provider needs tokenUrl only');
    if (!client || !credential || tokenUrl === undefined) return undefined;
    if (credential.kind !== 'clientSecret') {
      fail('.credential.federation', 'managed-identity federation works only with the microsoft provider');
      return undefined;
    }
    return { kind: 'clientSecret', provider: 'generic', tokenUrl, ...client, source: credential.source };
  }
  const tenant = readString(entry, 'tenant', fail, true);
  if (tenant !== undefined && !isTenant(tenant))
    fail('.tenant', `${echoSetting(tenant)} is neither a Directory (tenant) ID (GUID) nor a domain name of your own tenant`);
  if (entry.tokenUrl !== undefined) fail('.tokenUrl', 'is for the generic provider; for microsoft give tenant (and authorityHost for sovereign clouds)');
  let authorityHost = base?.provider === 'microsoft' ? base.authorityHost : SETTINGS.OAUTH2_AUTHORITY_HOST.default;
  const authorityText = readHttpsUrl(entry, 'authorityHost', fail, false);
  if (authorityText !== undefined) {
    const url = new URL(authorityText);
    if (url.pathname !== '/' || url.search || url.hash) fail('.authorityHost', `${echoSetting(authorityText)} must be a host only, without a path`);
    authorityHost = url.origin;
  }
  if (!client || !credential || tenant === undefined || !isTenant(tenant)) return undefined;
  const endpoint = {
    provider: 'microsoft' as const,
    tenantId: tenant,
    authorityHost,
    tokenUrl: SETTINGS.OAUTH2_TOKEN_URL.default.rule({ authorityHost, tenantId: tenant }),
    disableInstanceDiscovery: !MICROSOFT_AUTHORITY_HOSTS.has(new URL(authorityHost).host),
  };
  if (credential.kind === 'federation') return { kind: 'federation', ...endpoint, ...client, federation: credential.federation };
  return { kind: 'clientSecret', ...endpoint, ...client, source: credential.source };
}

type Credential = { kind: 'clientSecret'; source: ClientSecretSource } | { kind: 'federation'; federation: { managedIdentityClientId?: string } };

/** Exactly one of secretSetting, keyVaultSecret, federation. */
function readCredential(
  entry: Record<string, unknown>,
  provider: string,
  defaults: SenderDefaults,
  fail: Problem,
  reader: SettingsReader,
): Credential | undefined {
  const part = entry.credential;
  if (part === undefined) {
    fail('.credential', 'is missing: { "secretSetting": "<app setting name>" }, { "keyVaultSecret": "<secret name>" } or { "federation": true }');
    return undefined;
  }
  if (!isObject(part)) {
    fail('.credential', 'must be an object naming where the credential is: secretSetting, keyVaultSecret or federation');
    return undefined;
  }
  if (checkKeys(part, KNOWN.credential, '.credential', fail)) return undefined;
  const chosen = ['secretSetting', 'keyVaultSecret', 'federation'].filter((key) => part[key] !== undefined);
  if (chosen.length !== 1) {
    fail(
      '.credential',
      chosen.length === 0 ? 'names no credential: give secretSetting, keyVaultSecret or federation' : `gives ${chosen.join(' and ')}: give exactly one`,
    );
    return undefined;
  }
  const identityText = readString(part, 'managedIdentityClientId', fail, false, '.credential');
  if (identityText !== undefined && !GUID.test(identityText))
    fail('.credential.managedIdentityClientId', `${echoSetting(identityText)} is not a managed identity client ID (a GUID)`);
  const identity = identityText !== undefined && GUID.test(identityText) ? identityText : defaults.keyVault?.managedIdentityClientId;
  const secretSetting = part.secretSetting;
  if (secretSetting !== undefined) {
    if (typeof secretSetting !== 'string' || !APP_SETTING_NAME.test(secretSetting)) {
      // Never echoed: a pasted secret Value is the likeliest wrong value here.
      fail(
        '.credential.secretSetting',
        'must be the NAME of an app setting that holds the client secret (letters, digits, underscores), never the secret itself',
      );
      if (typeof secretSetting === 'string') registerSecret(secretSetting);
      return undefined;
    }
    return readSecretSetting(secretSetting, fail, reader);
  }
  const secretName = part.keyVaultSecret;
  if (secretName !== undefined) {
    if (typeof secretName !== 'string' || !KEY_VAULT_SECRET_NAME.test(secretName)) {
      fail('.credential.keyVaultSecret', 'is not a Key Vault secret name (1 to 127 letters, digits and hyphens)');
      return undefined;
    }
    const vaultUrl = readVaultUrl(part, defaults, fail);
    if (vaultUrl === undefined) return undefined;
    const keyVault: KeyVaultSecretSettings = {
      vaultUrl,
      secretName,
      cacheMs: defaults.keyVault?.cacheMs ?? SETTINGS.OAUTH2_CLIENT_SECRET_CACHE_SECONDS.default * 1000,
    };
    if (identity !== undefined) keyVault.managedIdentityClientId = identity;
    return { kind: 'clientSecret', source: { kind: 'keyVault', keyVault } };
  }
  if (part.federation !== true) {
    fail('.credential.federation', 'must be true (managed-identity federation)');
    return undefined;
  }
  if (provider !== 'microsoft') return { kind: 'federation', federation: {} };
  return { kind: 'federation', federation: identity === undefined ? {} : { managedIdentityClientId: identity } };
}

function readSecretSetting(name: string, fail: Problem, reader: SettingsReader): Credential | undefined {
  const where = '.credential.secretSetting';
  const reserved: readonly string[] = ['RELAY_SENDERS', 'AzureWebJobsStorage'];
  if (reserved.includes(name)) {
    fail(where, `${name} does not hold a client secret`);
    return undefined;
  }
  const { value, unresolved } = reader.referencedSecret(name);
  if (unresolved) {
    fail(where, `app setting ${name} is an unresolved Key Vault reference: the app's managed identity cannot read the secret`);
    return undefined;
  }
  if (value === undefined) {
    fail(where, `app setting ${name} is missing or empty: put the client secret's Value in it`);
    return undefined;
  }
  if (GUID.test(value)) {
    fail(where, `app setting ${name} looks like the secret's ID (a GUID); copy the secret's Value instead`);
    return undefined;
  }
  return { kind: 'clientSecret', source: { kind: 'setting', clientSecret: value } };
}

function readVaultUrl(part: Record<string, unknown>, defaults: SenderDefaults, fail: Problem): string | undefined {
  const text = readString(part, 'vaultUrl', fail, false, '.credential');
  if (text === undefined) {
    if (defaults.keyVault?.vaultUrl !== undefined) return defaults.keyVault.vaultUrl;
    fail('.credential.vaultUrl', 'is missing: give the vault URI (https://<vault>.vault.azure.net) here or in KEYVAULT_URL');
    return undefined;
  }
  const url = parseUrl(text);
  if (url === undefined || url.protocol !== 'https:' || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    fail('.credential.vaultUrl', `${echoSetting(text)} must be a vault URI such as https://<vault>.vault.azure.net (https, no path)`);
    return undefined;
  }
  return url.origin;
}

function readScopes(entry: Record<string, unknown>, provider: string, fail: Problem): string[] | undefined {
  const value = entry.scopes;
  const preset = SETTINGS.OAUTH2_SCOPES.default;
  if (value === undefined) return provider === 'microsoft' ? [preset] : [];
  if (!Array.isArray(value) || value.some((scope) => typeof scope !== 'string' || scope.length > 300)) {
    fail('.scopes', 'must be an array of scope strings');
    return undefined;
  }
  const scopes = value as string[];
  if (provider === 'microsoft' && (scopes.length !== 1 || !scopes[0]!.endsWith('/.default') || parseUrl(scopes[0]!) === undefined)) {
    fail('.scopes', `the Microsoft client-credentials flow takes exactly one <resource>/.default scope (e.g. ${preset})`);
    return undefined;
  }
  return scopes;
}

/** Unknown keys (typos) and keys that would hold a secret inline; true when any was found. */
function checkKeys(part: Record<string, unknown>, known: readonly string[], where: string, fail: Problem): boolean {
  let found = false;
  for (const [key, value] of Object.entries(part)) {
    if (known.includes(key)) {
      if (typeof value === 'string' && looksLikeInlineSecret(value) && key !== 'secretSetting') {
        registerSecret(value);
        fail(
          `${where}.${key}`,
          'looks like a secret value, which RELAY_SENDERS must never hold: put it in an app setting (or Key Vault) and name it in credential',
        );
        found = true;
      }
      continue;
    }
    found = true;
    const path = `${where}.${/^[A-Za-z0-9_]{1,40}$/.test(key) ? key : '<key>'}`;
    if (SECRET_KEYS.test(key)) {
      if (typeof value === 'string') registerSecret(value);
      fail(
        path,
        'secrets are never written inline: put the value in an app setting or Key Vault and name it in credential.secretSetting or credential.keyVaultSecret',
      );
    } else fail(path, `is not a sender field (known: ${known.join(', ')})`);
  }
  return found;
}

/** An Entra client secret Value (about 40 characters with a `~`), or any long random-looking text. */
function looksLikeInlineSecret(value: string): boolean {
  return (/~/.test(value) && value.length >= 30) || /^[A-Za-z0-9+/_-]{40,}={0,2}$/.test(value);
}

function readString(part: Record<string, unknown>, key: string, fail: Problem, required: boolean, where = ''): string | undefined {
  const value = part[key];
  if (value === undefined) {
    if (required) fail(`${where}.${key}`, 'is missing');
    return undefined;
  }
  if (typeof value !== 'string' || value.trim() === '' || value.length > 400) {
    fail(`${where}.${key}`, 'must be a non-empty string');
    return undefined;
  }
  // Already refused by checkKeys, without echo: nothing more is said about it.
  if (looksLikeInlineSecret(value)) return undefined;
  return value.trim();
}

function readInteger(part: Record<string, unknown>, key: string, where: string, min: number, max: number, fail: Problem): number | undefined {
  const value = part[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`${where}.${key}`, `must be a whole number from ${min} to ${max}`);
    return undefined;
  }
  return value;
}

function readAddress(part: Record<string, unknown>, key: string, fail: Problem, required: boolean): string | undefined {
  const value = readString(part, key, fail, required);
  if (value === undefined) return undefined;
  if (!isEmailAddress(value)) {
    fail(`.${key}`, `${echoSetting(value)} is not an e-mail address (local@domain, without a display name)`);
    return undefined;
  }
  return value;
}

function readAddressList(part: Record<string, unknown>, key: string, fail: Problem): string[] {
  const value = part[key];
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > 100) {
    fail(`.${key}`, 'must be an array of at most 100 e-mail addresses');
    return [];
  }
  const addresses: string[] = [];
  value.forEach((item: unknown, index) => {
    if (typeof item === 'string' && isEmailAddress(item)) addresses.push(item.toLowerCase());
    else fail(`.${key}[${index}]`, `${typeof item === 'string' ? echoSetting(item) : 'the value'} is not an e-mail address (local@domain)`);
  });
  return addresses;
}

function readHttpsUrl(part: Record<string, unknown>, key: string, fail: Problem, required: boolean): string | undefined {
  const text = readString(part, key, fail, required);
  if (text === undefined) return undefined;
  const url = parseUrl(text);
  if (url === undefined || url.protocol !== 'https:') {
    fail(`.${key}`, `${echoSetting(text)} must be an https:// URL`);
    return undefined;
  }
  return url.href;
}

function isTenant(tenant: string): boolean {
  if (['common', 'organizations', 'consumers'].includes(tenant.toLowerCase())) return false;
  return GUID.test(tenant) || (tenant.includes('.') && tenant.split('.').every((label) => HOST_LABEL.test(label)));
}

function isNotHost(host: string): boolean {
  return !(host.length <= 253 && host.split('.').every((label) => HOST_LABEL.test(label)));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
