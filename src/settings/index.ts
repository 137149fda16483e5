/**
 * The relay's configuration, read once at start from app settings
 * (process.env in Azure and under Core Tools; local.settings.json "Values").
 *
 * `loadConfig` reads every setting once, checks all of them and reports every
 * problem in one ConfigError, so an operator fixes the whole setup in one go
 * instead of one restart per mistake. `describeSettings` is the single list of
 * settings the example settings file and the README are generated from.
 */
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import { echoSetting } from '../core/echo';
import { isEmailAddress } from '../message/address';
import { registerSecret } from '../core/redact';

/** How the SMTP connection is secured: STARTTLS upgrade (587) or TLS from the first byte (465). */
export type SmtpSecurity = 'starttls' | 'implicit';

export interface SmtpSettings {
  host: string;
  port: number;
  security: SmtpSecurity;
  /** Extra CA certificates (PEM) to trust besides the system store; certificate checks are never disabled. */
  extraCa?: string;
  /** Pooled connections per mailbox (Exchange Online allows 3). */
  poolSize: number;
  /** Messages this instance may start per minute for the mailbox; 0 = no limit. */
  rateLimitPerMinute: number;
  /** Longest a message waits in an invocation for a sending slot before it goes back to the queue, in ms. */
  rateLimitMaxWaitMs: number;
  /** First pause after a throttling reply (doubled on each consecutive one), in ms. */
  throttleBackoffMs: number;
  /** Connection, greeting and socket timeouts in ms. */
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
}

/** Microsoft identity platform (Entra ID) client-credentials settings. */
export interface MicrosoftOAuthSettings {
  provider: 'microsoft';
  tenantId: string;
  /** e.g. https://login.microsoftonline.com (public cloud), .us / .cn for sovereign clouds, or a local test authority. */
  authorityHost: string;
  /** Token URL as the setup guide writes it: `${authorityHost}/${tenantId}/oauth2/v2.0/token`. */
  tokenUrl: string;
  /** True for authority hosts that are not Microsoft clouds (local stack, tests): skips online instance discovery. */
  disableInstanceDiscovery: boolean;
}

/** Any other OAuth2 provider: a plain RFC 6749 client-credentials POST to the token URL. */
export interface GenericOAuthSettings {
  provider: 'generic';
  tokenUrl: string;
}

export type OAuthSettings = (MicrosoftOAuthSettings | GenericOAuthSettings) & {
  clientId: string;
  /** From OAUTH2_CLIENT_SECRET; absent when the secret is read from Key Vault or no secret is used (federation). */
  clientSecret?: string;
  /** Read the client secret from Key Vault with the app's managed identity instead of a setting. */
  keyVault?: KeyVaultSecretSettings;
  /** Secretless: a client assertion from the app's managed identity (workload identity federation). */
  federation?: FederatedCredentialSettings;
  scopes: string[];
  /** A cached token is replaced this long before it expires (at least 10 minutes). */
  refreshMarginMs: number;
};

export interface KeyVaultSecretSettings {
  /** https://<vault>.vault.azure.net */
  vaultUrl: string;
  secretName: string;
  /** How long the secret value is kept in memory before Key Vault is asked again. */
  cacheMs: number;
  /** User-assigned managed identity; absent: the system-assigned one (or the developer's sign-in locally). */
  managedIdentityClientId?: string;
}

export interface FederatedCredentialSettings {
  /** User-assigned managed identity trusted by the app registration; absent: the system-assigned one. */
  managedIdentityClientId?: string;
}

/** The timer that pre-warms the relay and watches the client secret (src/monitor). */
export interface MonitorSettings {
  /** NCRONTAB schedule of the timer (six fields, UTC). */
  schedule: string;
  warningDays: number;
  criticalDays: number;
  alertEmailTo?: string;
  /** Teams/Slack-style incoming webhook (its URL is a secret). */
  alertWebhookUrl?: string;
  /** Blob container for the alert state and the rotation lease. */
  stateContainer: string;
  rotation: RotationSettings;
}

export interface RotationSettings {
  enabled: boolean;
  /** Rotate when the secret expires within this many days. */
  windowDays: number;
  /** Lifetime of a new client secret. */
  lifetimeDays: number;
  /** The old client secret is removed this long after the new one was proven to work. */
  graceMs: number;
  /** Microsoft Graph base URL (sovereign clouds, tests). */
  graphUrl: string;
}

export interface MailSettings {
  /** The authorized mailbox: SMTP user name and XOAUTH2 `user=`. */
  user: string;
  /** Default From address (the setup guide's "From Address"). */
  from: string;
  /** Other senders a message may use in `from` (lower-cased addresses). */
  allowedFrom: string[];
  /** Maximum recipients (to + cc + bcc) in one message; Exchange Online allows 500. */
  maxRecipients: number;
}

/** Password authentication, only when OAuth2 is switched off (providers that still allow it). */
export interface PasswordAuthSettings {
  user: string;
  password: string;
}

export type StorageConnection =
  | { kind: 'connectionString'; connectionString: string }
  /** Identity-based connection (`AzureWebJobsStorage__queueServiceUri`, managed identity). */
  | { kind: 'identity'; queueServiceUri: string; blobServiceUri: string; clientId?: string };

export interface QueueSettings {
  /** Name of the app setting holding the storage connection (for the trigger binding). */
  connectionSetting: string;
  connection: StorageConnection;
  queueName: string;
  deadLetterQueueName: string;
  /** Blob container for dead-letter records too large for a queue message. */
  deadLetterContainerName: string;
  /** Must equal host.json extensions.queues.maxDequeueCount: the last attempt dead-letters with a reason. */
  maxDequeueCount: number;
  /** Blob container of attachments sent by reference (claim check), read just before sending. */
  attachmentContainerName: string;
  /** Largest total size of a message's attachments, in bytes. */
  maxAttachmentBytes: number;
  /** Blob container of the delivery ledger (one entry per message key: sent once). */
  ledgerContainerName: string;
  /** How long a ledger claim holds without renewal (renewed every third of it while the send runs). */
  ledgerLeaseSeconds: number;
  /** Backoff of retry copies and the age after which a failing message is dead-lettered. */
  retry: { firstDelaySeconds: number; maxDelaySeconds: number; maxAgeSeconds: number };
}

export interface RelayConfig {
  smtp: SmtpSettings;
  /** Undefined when OAuth2 is switched off (then `password` is set). */
  oauth?: OAuthSettings;
  password?: PasswordAuthSettings;
  mail: MailSettings;
  queue: QueueSettings;
  /** Always set by loadConfig. */
  monitor?: MonitorSettings;
}

/* ------------------------------------------------------------------------ */
/* The settings                                                              */
/* ------------------------------------------------------------------------ */

export interface SettingDescription {
  name: string;
  /** The value used when the setting is absent or empty. */
  default?: string;
  description: string;
  /** When the setting must be given (absent: optional). */
  required?: string;
}

export const DEFAULT_SMTP_HOST = 'smtp.office365.com';
export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
export const DEFAULT_SCOPE = 'https://outlook.office365.com/.default';
export const STORAGE_CONNECTION_SETTING = 'AzureWebJobsStorage';
export const DEFAULT_MONITOR_SCHEDULE = '0 */15 * * * *';
export const DEFAULT_GRAPH_URL = 'https://graph.microsoft.com';

const SETTINGS: readonly SettingDescription[] = [
  { name: 'SMTP_HOST', default: DEFAULT_SMTP_HOST, description: 'SMTP server host name (no scheme, no port).' },
  { name: 'SMTP_PORT', default: '587', description: 'SMTP server port: 587 for STARTTLS, 465 for implicit TLS.' },
  {
    name: 'SMTP_SECURITY',
    default: 'implicit for port 465, otherwise starttls',
    description: 'starttls (plain connection upgraded with STARTTLS, required) or implicit (TLS from the first byte).',
  },
  { name: 'SMTP_POOL_SIZE', default: '3', description: 'Concurrent SMTP connections; Exchange Online allows at most 3 per mailbox.' },
  {
    name: 'SMTP_RATE_LIMIT_PER_MINUTE',
    default: '30 for Microsoft 365 hosts, otherwise 0 (no limit)',
    description: 'Messages one instance starts per minute for the mailbox (Exchange Online allows 30 per mailbox; divide by the instance cap).',
  },
  {
    name: 'SMTP_RATE_LIMIT_MAX_WAIT_SECONDS',
    default: '30',
    description: 'Longest a message waits in an invocation for a sending slot; longer waits hand it back to the queue for later.',
  },
  {
    name: 'SMTP_THROTTLE_BACKOFF_SECONDS',
    default: '60',
    description: 'Pause after a throttling reply (432 4.3.2, 421 4.7.x, 451 4.7.x, 452), doubled on each consecutive one up to 15 minutes.',
  },
  { name: 'SMTP_CONNECTION_TIMEOUT_MS', default: '20000', description: 'How long to wait for the TCP connection, in milliseconds.' },
  { name: 'SMTP_GREETING_TIMEOUT_MS', default: '20000', description: "How long to wait for the server's greeting, in milliseconds." },
  { name: 'SMTP_SOCKET_TIMEOUT_MS', default: '60000', description: 'How long an idle SMTP connection may stay silent, in milliseconds.' },
  {
    name: 'TLS_EXTRA_CA_FILE',
    description: 'Path of a PEM file with extra CA certificates to trust for every outbound TLS connection: SMTP, the token endpoint, Key Vault, Microsoft Graph, the alert webhook (certificate checks stay on; TLS 1.2 at least).',
  },
  { name: 'OAUTH2_ENABLED', default: 'true', description: 'true: authenticate with an OAuth2 access token (XOAUTH2); false: with SMTP_PASSWORD.' },
  {
    name: 'OAUTH2_PROVIDER',
    default: 'auto',
    description: 'microsoft (Entra ID client credentials), generic (plain OAuth2 client-credentials POST) or auto (microsoft when a tenant is known).',
  },
  {
    name: 'OAUTH2_TENANT_ID',
    description: 'Directory (tenant) ID of the Microsoft Entra tenant (a GUID or a verified domain).',
    required: 'for Microsoft, unless OAUTH2_TOKEN_URL contains it',
  },
  {
    name: 'OAUTH2_AUTHORITY_HOST',
    default: DEFAULT_AUTHORITY_HOST,
    description: 'Microsoft sign-in host; change it only for sovereign clouds (e.g. https://login.microsoftonline.us).',
  },
  {
    name: 'OAUTH2_TOKEN_URL',
    default: 'for Microsoft: <authority host>/<tenant>/oauth2/v2.0/token',
    description: 'Token endpoint. For Microsoft it may replace OAUTH2_TENANT_ID; for other providers it is required.',
    required: 'for generic providers',
  },
  {
    name: 'OAUTH2_CLIENT_ID',
    description: 'Application (client) ID of the app registration allowed to send (SMTP.SendAsApp).',
    required: 'when OAUTH2_ENABLED=true',
  },
  {
    name: 'OAUTH2_CLIENT_SECRET',
    description: "The client secret's Value (not its Secret ID); in Azure read it from Key Vault instead (KEYVAULT_URL + OAUTH2_CLIENT_SECRET_NAME).",
    required: 'when OAUTH2_ENABLED=true, unless read from Key Vault or OAUTH2_AUTH_MODE=managed-identity-federation',
  },
  {
    name: 'OAUTH2_AUTH_MODE',
    default: 'secret',
    description: "secret (client secret from a setting or Key Vault) or managed-identity-federation (no secret: the app's managed identity signs in for the app registration).",
  },
  {
    name: 'KEYVAULT_URL',
    description: 'Key Vault URI (https://<vault>.vault.azure.net) to read the client secret from with the managed identity.',
  },
  {
    name: 'OAUTH2_CLIENT_SECRET_NAME',
    description: 'Name of the Key Vault secret holding the client secret Value.',
    required: 'with KEYVAULT_URL',
  },
  {
    name: 'OAUTH2_CLIENT_SECRET_CACHE_SECONDS',
    default: '3600',
    description: 'How long the client secret read from Key Vault is kept in memory (60 to 86400); a rejected secret is re-read at once.',
  },
  {
    name: 'MANAGED_IDENTITY_CLIENT_ID',
    description: "Client ID of the user-assigned managed identity for Key Vault and federation (absent: the system-assigned identity; locally your own sign-in).",
  },
  {
    name: 'MONITOR_SCHEDULE',
    default: DEFAULT_MONITOR_SCHEDULE,
    description: 'NCRONTAB schedule (six fields, UTC) of the timer that pre-warms the relay and checks the client secret.',
  },
  { name: 'ALERT_WARNING_DAYS', default: '30', description: 'Warn when the client secret expires within this many days (1 to 365).' },
  { name: 'ALERT_CRITICAL_DAYS', default: '7', description: 'Critical alert when the client secret expires within this many days (1 to ALERT_WARNING_DAYS).' },
  { name: 'ALERT_EMAIL_TO', description: 'Also send alerts by e-mail, through the relay itself, to this address.' },
  { name: 'ALERT_WEBHOOK_URL', description: 'Also POST alerts as JSON {"text": ...} to this https incoming webhook (Teams, Slack); treated as a secret.' },
  {
    name: 'MONITOR_STATE_CONTAINER',
    default: 'relay-monitor',
    description: 'Blob container (in AzureWebJobsStorage) for the alert state and the rotation lease.',
  },
  {
    name: 'ROTATION_ENABLED',
    default: 'false',
    description: 'true: the timer rotates the client secret itself through Microsoft Graph (the app must own itself, Application.ReadWrite.OwnedBy).',
  },
  { name: 'ROTATION_WINDOW_DAYS', default: '30', description: 'Rotate when the client secret expires within this many days (1 to 365).' },
  { name: 'ROTATION_SECRET_LIFETIME_DAYS', default: '180', description: 'Lifetime of a client secret created by rotation (30 to 730).' },
  {
    name: 'ROTATION_GRACE_HOURS',
    default: '24',
    description: 'Hours the old client secret stays valid after rotation, so every instance picks up the new one (1 to 720).',
  },
  { name: 'GRAPH_URL', default: DEFAULT_GRAPH_URL, description: 'Microsoft Graph endpoint used by rotation (change only for sovereign clouds).' },
  {
    name: 'OAUTH2_SCOPES',
    default: DEFAULT_SCOPE,
    description: 'Scope to request. Microsoft needs exactly one <resource>/.default scope (https://outlook.office.com/.default works as well).',
  },
  {
    name: 'OAUTH2_REFRESH_MARGIN_SECONDS',
    default: '600',
    description: 'Replace a cached access token this many seconds before it expires (600 to 3000).',
  },
  { name: 'SMTP_USER', description: 'The authorized mailbox: SMTP user name and the account mail is sent from.', required: 'always' },
  { name: 'SMTP_PASSWORD', description: 'Password of SMTP_USER, used only when OAUTH2_ENABLED=false.', required: 'when OAUTH2_ENABLED=false' },
  { name: 'MAIL_FROM', default: 'SMTP_USER', description: 'Sender address used when a message has no "from".' },
  {
    name: 'MAIL_ALLOWED_FROM',
    description: 'Comma-separated other addresses a message may send from (the mailbox needs SendAs rights for each).',
  },
  {
    name: 'MAIL_MAX_RECIPIENTS',
    default: '500',
    description: 'Most recipients (to + cc + bcc) one message may have (1 to 1000; Exchange Online accepts 500).',
  },
  { name: 'RELAY_QUEUE_NAME', default: 'outbound-mail', description: 'Storage queue the relay reads messages from.' },
  {
    name: 'RELAY_DEADLETTER_QUEUE_NAME',
    default: 'outbound-mail-deadletter',
    description: 'Storage queue that receives messages which cannot be sent, with the reason.',
  },
  {
    name: 'RELAY_DEADLETTER_CONTAINER',
    default: 'outbound-mail-deadletter',
    description: 'Blob container for dead-letter records too large for a queue message.',
  },
  {
    name: 'RELAY_ATTACHMENT_CONTAINER',
    default: 'outbound-mail-attachments',
    description: 'Blob container holding attachments that messages name with "blob" (files too large for a 64 KiB queue message).',
  },
  {
    name: 'MAIL_MAX_ATTACHMENTS_MB',
    default: '25',
    description: 'Largest total size of one message\'s attachments in MiB (base64 adds a third: 25 MiB stays within Exchange Online\'s 35 MB).',
  },
  {
    name: 'RELAY_MAX_DEQUEUE_COUNT',
    default: '5',
    description: 'Delivery attempts per message; must equal extensions.queues.maxDequeueCount in host.json.',
  },
  {
    name: 'RELAY_RETRY_FIRST_DELAY_SECONDS',
    default: '30',
    description: 'Wait after the first transient failure; doubled after each further one (with ±20% jitter), up to RELAY_RETRY_MAX_DELAY_SECONDS.',
  },
  {
    name: 'RELAY_RETRY_MAX_DELAY_SECONDS',
    default: '900',
    description: "Longest wait between attempts (a provider's Retry-After may ask for more, up to an hour).",
  },
  {
    name: 'RELAY_RETRY_MAX_AGE_SECONDS',
    default: '86400',
    description: 'A message still failing this long after it was first queued is dead-lettered with its last reason (0 to 604800).',
  },
  {
    name: 'RELAY_LEDGER_CONTAINER',
    default: 'outbound-mail-ledger',
    description: 'Blob container of the delivery ledger, which keeps a redelivered message from being sent twice.',
  },
  {
    name: 'RELAY_LEDGER_LEASE_SECONDS',
    default: '60',
    description: "How long a message's ledger claim holds without renewal; renewed every third of it while the send runs, so a crashed send's message moves on this long after the queue redelivers it.",
  },
  {
    name: STORAGE_CONNECTION_SETTING,
    description: 'Storage account connection string (UseDevelopmentStorage=true for Azurite).',
    required: 'unless the identity-based settings below are used',
  },
  {
    name: `${STORAGE_CONNECTION_SETTING}__queueServiceUri`,
    description: 'Identity-based storage: queue service URI, e.g. https://<account>.queue.core.windows.net.',
  },
  {
    name: `${STORAGE_CONNECTION_SETTING}__blobServiceUri`,
    default: 'the queue URI with .queue. replaced by .blob.',
    description: 'Identity-based storage: blob service URI.',
  },
  {
    name: `${STORAGE_CONNECTION_SETTING}__accountName`,
    description: 'Identity-based storage: account name, instead of the two URIs (public Azure cloud).',
  },
  {
    name: `${STORAGE_CONNECTION_SETTING}__clientId`,
    description: "Identity-based storage: client ID of a user-assigned managed identity (absent: the app's system-assigned identity).",
  },
];

/** Every setting the relay reads, with its default and a one-line explanation. */
export function describeSettings(): SettingDescription[] {
  return SETTINGS.map((setting) => ({ ...setting }));
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

export interface ConfigProblem {
  setting: string;
  problem: string;
}

/** The configuration cannot work; `problems` names every bad setting. Secret values never appear in it. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    const lines = problems.map((item) => `- ${item.setting}: ${item.problem}`);
    super([`Invalid relay configuration (${count}):`, ...lines].join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */
/* ------------------------------------------------------------------------ */

export type Environment = Record<string, string | undefined>;
export type ReadTextFile = (path: string, encoding: 'utf8') => string;

const SECRET_SETTINGS = new Set(['OAUTH2_CLIENT_SECRET', 'SMTP_PASSWORD', STORAGE_CONNECTION_SETTING, 'ALERT_WEBHOOK_URL']);
const KEY_VAULT_REFERENCE = '@Microsoft.KeyVault(';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A client secret that is a GUID is the secret's ID, copied instead of its Value (Values are
 * 40 characters with `~`). Checked wherever the secret comes from: this setting, or Key Vault.
 */
export function looksLikeSecretId(secret: string): boolean {
  return GUID.test(secret.trim());
}
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const STORAGE_NAME = /^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$/;
const MICROSOFT_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);
const MICROSOFT_SMTP_HOSTS = new Set(['smtp.office365.com', 'smtp-mail.outlook.com', 'smtp.office365.us', 'smtp.partner.outlook.cn']);
const EXCHANGE_POOL_LIMIT = 3;
/** Exchange Online's sending rate per mailbox. */
const EXCHANGE_MESSAGES_PER_MINUTE = 30;
const EXCHANGE_RECIPIENT_LIMIT = 500;
/** The well-known Azurite account (public, documented; not a secret). */
const AZURITE_CONNECTION_STRING =
  'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;' +
  'AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;' +
  'BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;' +
  'TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;';

/** Reads settings, collecting problems instead of stopping at the first one. */
class SettingsReader {
  readonly problems: ConfigProblem[] = [];
  /** Settings already reported, so that checks depending on them stay quiet instead of adding follow-on noise. */
  private readonly reported = new Set<string>();

  constructor(private readonly env: Environment) {
    // Registered before any problem is written, so the same secret pasted into another setting too is told as one (echoSetting).
    for (const name of ['OAUTH2_CLIENT_SECRET', 'SMTP_PASSWORD', 'ALERT_WEBHOOK_URL']) {
      const value = env[name]?.trim();
      if (value && !value.startsWith(KEY_VAULT_REFERENCE)) registerSecret(value);
    }
  }

  report(setting: string, problem: string): void {
    this.reported.add(setting);
    this.problems.push({ setting, problem: this.withoutSecrets(problem) });
  }

  /** Defence in depth: echoSetting() shows only values safe by shape, but a short password can look like a host name. */
  private withoutSecrets(text: string): string {
    let out = text;
    for (const name of SECRET_SETTINGS) {
      const secret = this.env[name]?.trim();
      if (secret && secret.length >= 4 && out.includes(secret)) out = out.split(secret).join('[redacted]');
    }
    return out;
  }

  /** Whether a problem was already reported for the setting. */
  hasProblem(name: string): boolean {
    return this.reported.has(name);
  }

  /** The trimmed value; undefined when absent, empty, or an unresolved Key Vault reference (reported once). */
  get(name: string): string | undefined {
    const value = this.env[name]?.trim();
    if (!value) return undefined;
    if (value.startsWith(KEY_VAULT_REFERENCE)) {
      if (!this.reported.has(name)) {
        this.report(
          name,
          'is an unresolved Key Vault reference: the app\'s managed identity cannot read the secret (grant it the "Key Vault Secrets User" role or an access policy) or the reference is malformed (@Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<name>/))',
        );
      }
      return undefined;
    }
    return value;
  }

  /** Like get(), reporting a missing value (unless a problem with it was already reported). */
  required(name: string, what: string): string | undefined {
    const value = this.get(name);
    if (value === undefined && !this.reported.has(name)) this.report(name, `is missing: ${what}`);
    return value;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const text = this.get(name);
    if (text === undefined) return fallback;
    if (!/^[0-9]+$/.test(text)) {
      this.report(name, `${echoSetting(text)} is not a whole number`);
      return fallback;
    }
    const value = Number(text);
    if (value < min || value > max) {
      this.report(name, `${value} is out of range (${min} to ${max})`);
      return fallback;
    }
    return value;
  }

  choice<T extends string>(name: string, options: readonly T[], fallback: T | undefined): T | undefined {
    const text = this.get(name);
    if (text === undefined) return fallback;
    const value = text.toLowerCase() as T;
    if (!options.includes(value)) {
      this.report(name, `${echoSetting(text)} is not one of ${options.join(', ')}`);
      return fallback;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.choice(name, ['true', 'false'] as const, undefined);
    return value === undefined ? fallback : value === 'true';
  }

  emailAddress(name: string, value: string | undefined): string | undefined {
    if (value === undefined || isEmailAddress(value)) return value;
    this.report(name, `${echoSetting(value)} is not an e-mail address (expected local@domain, without a display name)`);
    return undefined;
  }
}

/* ------------------------------------------------------------------------ */
/* loadConfig                                                                */
/* ------------------------------------------------------------------------ */

/**
 * Reads and checks every setting. Throws one ConfigError listing all problems.
 * Secret values are registered with the redactor so they can never reach a log.
 */
export function loadConfig(env: Environment = process.env, readFile: ReadTextFile = fs.readFileSync): RelayConfig {
  const reader = new SettingsReader(env);
  const smtp = readSmtp(reader, readFile);
  const oauthEnabled = reader.boolean('OAUTH2_ENABLED', true);
  const mail = readMail(reader, smtp);
  const oauth = oauthEnabled ? readOAuth(reader) : undefined;
  const password = oauthEnabled ? undefined : readPassword(reader, mail);
  const queue = readQueue(reader);
  const monitor = readMonitor(reader);
  if (queue) checkAttachmentContainerApart(reader, queue.attachmentContainerName, { MONITOR_STATE_CONTAINER: monitor.stateContainer });
  checkRotationNeeds(reader, monitor.rotation, oauth);

  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  const config: RelayConfig = { smtp, mail: mail as MailSettings, queue: queue!, monitor };
  if (oauth) config.oauth = oauth;
  if (password) config.password = password;
  return config;
}

/**
 * Only the storage settings (AzureWebJobsStorage, the queue and container names, the
 * retry policy): enough to hold or dead-letter messages while other settings are wrong.
 * Throws a ConfigError naming the storage settings' problems only.
 */
export function loadQueueConfig(env: Environment = process.env): QueueSettings {
  const reader = new SettingsReader(env);
  const queue = readQueue(reader);
  if (reader.problems.length > 0 || !queue) throw new ConfigError(reader.problems);
  return queue;
}

function readSmtp(reader: SettingsReader, readFile: ReadTextFile): SmtpSettings {
  const host = readHost(reader);
  const port = reader.integer('SMTP_PORT', 587, 1, 65535);
  const security = reader.choice('SMTP_SECURITY', ['starttls', 'implicit'] as const, undefined);
  const portKnown = !reader.hasProblem('SMTP_PORT');
  if (security === 'implicit' && port === 587 && portKnown) {
    reader.report('SMTP_SECURITY', 'implicit contradicts SMTP_PORT 587, which is the STARTTLS submission port (use starttls, or port 465)');
  }
  if (security === 'starttls' && port === 465 && portKnown) {
    reader.report('SMTP_SECURITY', 'starttls contradicts SMTP_PORT 465, which expects TLS from the first byte (use implicit, or port 587)');
  }
  const isExchange = MICROSOFT_SMTP_HOSTS.has(host.toLowerCase());
  const rateLimitPerMinute = reader.integer('SMTP_RATE_LIMIT_PER_MINUTE', isExchange ? EXCHANGE_MESSAGES_PER_MINUTE : 0, 0, 100000);
  if (isExchange && rateLimitPerMinute > EXCHANGE_MESSAGES_PER_MINUTE) {
    reader.report('SMTP_RATE_LIMIT_PER_MINUTE', `${rateLimitPerMinute} exceeds the ${EXCHANGE_MESSAGES_PER_MINUTE} messages a minute Exchange Online allows per mailbox`);
  }
  const poolSize = reader.integer('SMTP_POOL_SIZE', 3, 1, 20);
  if (isExchange && poolSize > EXCHANGE_POOL_LIMIT) {
    reader.report('SMTP_POOL_SIZE', `${poolSize} exceeds the ${EXCHANGE_POOL_LIMIT} concurrent connections Exchange Online allows per mailbox`);
  }
  const settings: SmtpSettings = {
    host,
    port,
    security: security ?? (port === 465 ? 'implicit' : 'starttls'),
    poolSize,
    rateLimitPerMinute,
    rateLimitMaxWaitMs: reader.integer('SMTP_RATE_LIMIT_MAX_WAIT_SECONDS', 30, 0, 240) * 1000,
    throttleBackoffMs: reader.integer('SMTP_THROTTLE_BACKOFF_SECONDS', 60, 1, 3600) * 1000,
    connectionTimeoutMs: reader.integer('SMTP_CONNECTION_TIMEOUT_MS', 20000, 1000, 600000),
    greetingTimeoutMs: reader.integer('SMTP_GREETING_TIMEOUT_MS', 20000, 1000, 600000),
    socketTimeoutMs: reader.integer('SMTP_SOCKET_TIMEOUT_MS', 60000, 1000, 600000),
  };
  const extraCa = readExtraCa(reader, readFile);
  if (extraCa !== undefined) settings.extraCa = extraCa;
  return settings;
}

function readHost(reader: SettingsReader): string {
  const host = reader.get('SMTP_HOST');
  if (host === undefined) return DEFAULT_SMTP_HOST;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) {
    reader.report('SMTP_HOST', `${echoSetting(host)} is a URL; give the host name only (e.g. ${DEFAULT_SMTP_HOST})`);
  } else if (/^[^:]+:[0-9]+$/.test(host)) {
    reader.report('SMTP_HOST', `${echoSetting(host)} includes a port; give the host name only and the port in SMTP_PORT`);
  } else if (isIP(host) === 0 && !(host.length <= 253 && host.split('.').every((label) => HOST_LABEL.test(label)))) {
    reader.report('SMTP_HOST', `${echoSetting(host)} is not a host name`);
  }
  return host;
}

function readExtraCa(reader: SettingsReader, readFile: ReadTextFile): string | undefined {
  const path = reader.get('TLS_EXTRA_CA_FILE');
  if (path === undefined) return undefined;
  let pem: string;
  try {
    pem = readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    reader.report('TLS_EXTRA_CA_FILE', `cannot read ${echoSetting(path)} (${code})`);
    return undefined;
  }
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(pem)) {
    reader.report('TLS_EXTRA_CA_FILE', `${echoSetting(path)} holds no PEM certificate (no -----BEGIN CERTIFICATE----- block)`);
    return undefined;
  }
  return pem;
}

function readOAuth(reader: SettingsReader): OAuthSettings | undefined {
  const problemsBefore = reader.problems.length;
  const provider = reader.choice('OAUTH2_PROVIDER', ['auto', 'microsoft', 'generic'] as const, 'auto');
  const tenantSetting = readTenant(reader, 'OAUTH2_TENANT_ID', reader.get('OAUTH2_TENANT_ID'));
  const authoritySetting = readAuthorityHost(reader);
  const tokenUrlText = reader.get('OAUTH2_TOKEN_URL');
  const tokenUrl = tokenUrlText === undefined ? undefined : readTokenUrl(reader, tokenUrlText);
  const fromTokenUrl = tokenUrl === undefined ? undefined : microsoftTokenUrlParts(tokenUrl);
  const clientId = reader.required('OAUTH2_CLIENT_ID', 'the Application (client) ID of the app registration');
  const authMode = reader.choice('OAUTH2_AUTH_MODE', ['secret', 'managed-identity-federation'] as const, 'secret');
  const managedIdentityClientId = readManagedIdentityClientId(reader);
  const keyVault = readKeyVaultSecret(reader, managedIdentityClientId);
  const clientSecret = readClientSecretSetting(reader, authMode, keyVault);
  registerSecret(clientSecret);
  const scopesText = reader.get('OAUTH2_SCOPES');
  const refreshMarginSeconds = reader.integer('OAUTH2_REFRESH_MARGIN_SECONDS', 600, 600, 3000);

  const isMicrosoft =
    provider === 'microsoft' ||
    (provider === 'auto' && (tenantSetting !== undefined || fromTokenUrl !== undefined || reader.hasProblem('OAUTH2_TENANT_ID')));
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
      reader.report('OAUTH2_AUTHORITY_HOST', `${echoSetting(authoritySetting)} contradicts the host ${echoSetting(fromTokenUrl.authorityHost)} of OAUTH2_TOKEN_URL`);
    }
    const tenantId = tenantSetting ?? tenantFromUrl;
    if (tenantId === undefined && tokenUrlText === undefined && !reader.hasProblem('OAUTH2_TENANT_ID')) {
      reader.report('OAUTH2_TENANT_ID', 'is missing: the Directory (tenant) ID (or give OAUTH2_TOKEN_URL as https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token)');
    }
    if (clientId !== undefined && !GUID.test(clientId)) {
      reader.report('OAUTH2_CLIENT_ID', `${echoSetting(clientId)} is not an Application (client) ID, which is a GUID`);
    }
    if (clientSecret !== undefined && looksLikeSecretId(clientSecret)) {
      reader.report('OAUTH2_CLIENT_SECRET', "looks like the secret's ID (a GUID); copy the secret's Value instead (shown only once, when it is created)");
    }
    scopes = readMicrosoftScopes(reader, scopesText);
    const authorityHost = fromTokenUrl?.authorityHost ?? authoritySetting ?? DEFAULT_AUTHORITY_HOST;
    if (tenantId !== undefined) {
      endpoint = {
        provider: 'microsoft',
        tenantId,
        authorityHost,
        tokenUrl: `${authorityHost}/${tenantId}/oauth2/v2.0/token`,
        disableInstanceDiscovery: !MICROSOFT_AUTHORITY_HOSTS.has(new URL(authorityHost).host),
      };
    }
  } else {
    if (tokenUrlText === undefined && !reader.hasProblem('OAUTH2_TOKEN_URL')) {
      reader.report('OAUTH2_TOKEN_URL', "is missing: the token endpoint of the provider (or set OAUTH2_TENANT_ID for Microsoft Entra ID)");
    }
    scopes = scopesText === undefined ? [] : splitList(scopesText);
    if (tokenUrl !== undefined) endpoint = { provider: 'generic', tokenUrl: tokenUrl.href };
  }

  if (authMode === 'managed-identity-federation' && !isMicrosoft) {
    reader.report('OAUTH2_AUTH_MODE', 'managed-identity-federation works only with Microsoft Entra ID (set OAUTH2_TENANT_ID)');
  }
  const hasSecretSource = clientSecret !== undefined || keyVault !== undefined || authMode === 'managed-identity-federation';
  if (reader.problems.length > problemsBefore || !endpoint || clientId === undefined || !hasSecretSource) return undefined;
  const settings: OAuthSettings = { ...endpoint, clientId, scopes, refreshMarginMs: refreshMarginSeconds * 1000 };
  if (clientSecret !== undefined) settings.clientSecret = clientSecret;
  if (keyVault !== undefined) settings.keyVault = keyVault;
  if (authMode === 'managed-identity-federation') settings.federation = managedIdentityClientId ? { managedIdentityClientId } : {};
  return settings;
}

/** OAUTH2_CLIENT_SECRET, required only when neither Key Vault nor federation supplies the credential. */
function readClientSecretSetting(
  reader: SettingsReader,
  authMode: 'secret' | 'managed-identity-federation' | undefined,
  keyVault: KeyVaultSecretSettings | undefined,
): string | undefined {
  const fromElsewhere =
    authMode === 'managed-identity-federation' ||
    keyVault !== undefined ||
    reader.hasProblem('KEYVAULT_URL') ||
    reader.hasProblem('OAUTH2_CLIENT_SECRET_NAME');
  const secret = fromElsewhere
    ? reader.get('OAUTH2_CLIENT_SECRET')
    : reader.required('OAUTH2_CLIENT_SECRET', "the client secret's Value from the app registration (or KEYVAULT_URL and OAUTH2_CLIENT_SECRET_NAME)");
  if (secret !== undefined && authMode === 'managed-identity-federation') {
    reader.report('OAUTH2_CLIENT_SECRET', 'is set although OAUTH2_AUTH_MODE=managed-identity-federation uses no secret: remove it');
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

/** KEYVAULT_URL + OAUTH2_CLIENT_SECRET_NAME, or undefined when Key Vault is not used. */
function readKeyVaultSecret(reader: SettingsReader, managedIdentityClientId: string | undefined): KeyVaultSecretSettings | undefined {
  const urlText = reader.get('KEYVAULT_URL');
  const name = reader.get('OAUTH2_CLIENT_SECRET_NAME');
  const cacheSeconds = reader.integer('OAUTH2_CLIENT_SECRET_CACHE_SECONDS', 3600, 60, 86400);
  if (urlText === undefined) {
    if (name !== undefined) reader.report('KEYVAULT_URL', 'is missing: OAUTH2_CLIENT_SECRET_NAME is set, so the vault URI (https://<vault>.vault.azure.net) is needed');
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
    reader.report('OAUTH2_CLIENT_SECRET_NAME', 'is missing: the name of the Key Vault secret that holds the client secret Value');
  } else if (!/^[0-9A-Za-z-]{1,127}$/.test(name)) {
    reader.report('OAUTH2_CLIENT_SECRET_NAME', `${echoSetting(name)} is not a Key Vault secret name (1 to 127 letters, digits and hyphens)`);
    return undefined;
  }
  if (vaultUrl === undefined || name === undefined) return undefined;
  const settings: KeyVaultSecretSettings = { vaultUrl, secretName: name, cacheMs: cacheSeconds * 1000 };
  if (managedIdentityClientId !== undefined) settings.managedIdentityClientId = managedIdentityClientId;
  return settings;
}

/** Rotation writes the new secret to Key Vault, and the old one must outlive every instance's cached copy. */
function checkRotationNeeds(reader: SettingsReader, rotation: RotationSettings, oauth: OAuthSettings | undefined): void {
  if (!rotation.enabled || !oauth) return;
  if (!oauth.keyVault || oauth.provider !== 'microsoft') {
    reader.report('ROTATION_ENABLED', 'rotation needs the client secret in Key Vault (KEYVAULT_URL, OAUTH2_CLIENT_SECRET_NAME) and Microsoft Entra ID');
  } else if (rotation.graceMs <= oauth.keyVault.cacheMs) {
    reader.report('ROTATION_GRACE_HOURS', 'must be longer than OAUTH2_CLIENT_SECRET_CACHE_SECONDS, so no instance still uses the old secret when it is removed');
  }
}

/** NCRONTAB as the Functions timer takes it: six fields (seconds first). */
const NCRONTAB = /^\S+( \S+){5}$/;

function readMonitor(reader: SettingsReader): MonitorSettings {
  const schedule = reader.get('MONITOR_SCHEDULE') ?? DEFAULT_MONITOR_SCHEDULE;
  if (!NCRONTAB.test(schedule.replace(/\s+/g, ' '))) {
    reader.report('MONITOR_SCHEDULE', `${echoSetting(schedule)} is not a six-field NCRONTAB expression (second minute hour day month weekday), e.g. ${DEFAULT_MONITOR_SCHEDULE}`);
  }
  const warningDays = reader.integer('ALERT_WARNING_DAYS', 30, 1, 365);
  const criticalDays = reader.integer('ALERT_CRITICAL_DAYS', 7, 1, 365);
  if (criticalDays > warningDays) {
    reader.report('ALERT_CRITICAL_DAYS', `${criticalDays} is more than ALERT_WARNING_DAYS (${warningDays}): the critical window lies inside the warning window`);
  }
  const alertEmailTo = reader.emailAddress('ALERT_EMAIL_TO', reader.get('ALERT_EMAIL_TO'));
  const webhookText = reader.get('ALERT_WEBHOOK_URL');
  registerSecret(webhookText);
  let alertWebhookUrl: string | undefined;
  if (webhookText !== undefined) {
    if (parseUrl(webhookText)?.protocol === 'https:') alertWebhookUrl = webhookText;
    else reader.report('ALERT_WEBHOOK_URL', 'must be an https:// URL (an incoming webhook of Teams, Slack or similar)');
  }
  const stateContainer = readStorageName(reader, 'MONITOR_STATE_CONTAINER', 'relay-monitor', 'container');
  const graphText = reader.get('GRAPH_URL');
  let graphUrl = DEFAULT_GRAPH_URL;
  if (graphText !== undefined) {
    const url = parseUrl(graphText);
    if (url?.protocol === 'https:') graphUrl = url.origin;
    else reader.report('GRAPH_URL', `${echoSetting(graphText)} must be an https:// URL such as ${DEFAULT_GRAPH_URL}`);
  }
  const rotation: RotationSettings = {
    enabled: reader.boolean('ROTATION_ENABLED', false),
    windowDays: reader.integer('ROTATION_WINDOW_DAYS', 30, 1, 365),
    lifetimeDays: reader.integer('ROTATION_SECRET_LIFETIME_DAYS', 180, 30, 730),
    graceMs: reader.integer('ROTATION_GRACE_HOURS', 24, 1, 720) * 3_600_000,
    graphUrl,
  };
  if (rotation.enabled && rotation.lifetimeDays <= rotation.windowDays) {
    reader.report('ROTATION_SECRET_LIFETIME_DAYS', `${rotation.lifetimeDays} must exceed ROTATION_WINDOW_DAYS (${rotation.windowDays}), or every new secret would be rotated at once`);
  }
  const settings: MonitorSettings = { schedule, warningDays, criticalDays, stateContainer, rotation };
  if (alertEmailTo !== undefined) settings.alertEmailTo = alertEmailTo;
  if (alertWebhookUrl !== undefined) settings.alertWebhookUrl = alertWebhookUrl;
  return settings;
}

function readTenant(reader: SettingsReader, setting: string, tenant: string | undefined): string | undefined {
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
    reader.report('OAUTH2_AUTHORITY_HOST', `${echoSetting(text)} must be an https:// URL such as ${DEFAULT_AUTHORITY_HOST}`);
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
  const match = /^\/([^/]+)\/oauth2\/v2\.0\/token\/?$/.exec(url.pathname);
  if (!match || url.search || url.hash) return undefined;
  return { authorityHost: url.origin, tenantId: decodeURIComponent(match[1]!) };
}

function readMicrosoftScopes(reader: SettingsReader, text: string | undefined): string[] {
  if (text === undefined) return [DEFAULT_SCOPE];
  const scopes = splitList(text);
  const wrong = scopes.filter((scope) => parseUrl(scope) === undefined || !scope.endsWith('/.default'));
  if (wrong.length > 0) {
    reader.report(
      'OAUTH2_SCOPES',
      `${wrong.map(echoSetting).join(', ')} must be an absolute URL ending in /.default (e.g. ${DEFAULT_SCOPE}): the Microsoft client-credentials flow only grants <resource>/.default scopes`,
    );
  } else if (scopes.length !== 1) {
    reader.report('OAUTH2_SCOPES', `lists ${scopes.length} scopes; the Microsoft client-credentials flow takes exactly one (${DEFAULT_SCOPE})`);
  }
  return scopes;
}

function readMail(reader: SettingsReader, smtp: SmtpSettings): Partial<MailSettings> {
  const user = reader.emailAddress('SMTP_USER', reader.required('SMTP_USER', 'the authorized mailbox (its user principal name)'));
  const fromSetting = reader.emailAddress('MAIL_FROM', reader.get('MAIL_FROM'));
  const allowedText = reader.get('MAIL_ALLOWED_FROM');
  const allowedFrom: string[] = [];
  for (const address of allowedText === undefined ? [] : splitList(allowedText)) {
    if (reader.emailAddress('MAIL_ALLOWED_FROM', address) !== undefined) allowedFrom.push(address.toLowerCase());
  }
  const maxRecipients = reader.integer('MAIL_MAX_RECIPIENTS', EXCHANGE_RECIPIENT_LIMIT, 1, 1000);
  if (MICROSOFT_SMTP_HOSTS.has(smtp.host.toLowerCase()) && maxRecipients > EXCHANGE_RECIPIENT_LIMIT) {
    reader.report('MAIL_MAX_RECIPIENTS', `${maxRecipients} exceeds the ${EXCHANGE_RECIPIENT_LIMIT} recipients per message Exchange Online accepts`);
  }
  const from = fromSetting ?? user;
  return { user, from, allowedFrom, maxRecipients };
}

function readPassword(reader: SettingsReader, mail: Partial<MailSettings>): PasswordAuthSettings | undefined {
  const password = reader.required('SMTP_PASSWORD', 'OAUTH2_ENABLED is false, so the mailbox password is needed');
  registerSecret(password);
  return password === undefined || mail.user === undefined ? undefined : { user: mail.user, password };
}

function readQueue(reader: SettingsReader): QueueSettings | undefined {
  const queueName = readStorageName(reader, 'RELAY_QUEUE_NAME', 'outbound-mail', 'queue');
  const deadLetterQueueName = readStorageName(reader, 'RELAY_DEADLETTER_QUEUE_NAME', 'outbound-mail-deadletter', 'queue');
  if (queueName === deadLetterQueueName) {
    reader.report('RELAY_DEADLETTER_QUEUE_NAME', `equals RELAY_QUEUE_NAME (${echoSetting(queueName)}): dead letters would be relayed again`);
  }
  const deadLetterContainerName = readStorageName(reader, 'RELAY_DEADLETTER_CONTAINER', 'outbound-mail-deadletter', 'container');
  const maxDequeueCount = reader.integer('RELAY_MAX_DEQUEUE_COUNT', 5, 1, 100);
  const attachmentContainerName = readStorageName(reader, 'RELAY_ATTACHMENT_CONTAINER', 'outbound-mail-attachments', 'container');
  const maxAttachmentBytes = reader.integer('MAIL_MAX_ATTACHMENTS_MB', 25, 1, 112) * 2 ** 20;
  const ledgerContainerName = readStorageName(reader, 'RELAY_LEDGER_CONTAINER', 'outbound-mail-ledger', 'container');
  if (ledgerContainerName === deadLetterContainerName) {
    reader.report('RELAY_LEDGER_CONTAINER', `equals RELAY_DEADLETTER_CONTAINER (${echoSetting(ledgerContainerName)}): keep ledger entries and dead-letter records apart`);
  }
  checkAttachmentContainerApart(reader, attachmentContainerName, {
    RELAY_LEDGER_CONTAINER: ledgerContainerName,
    RELAY_DEADLETTER_CONTAINER: deadLetterContainerName,
  });
  if (HOST_CONTAINER_PREFIXES.some((prefix) => attachmentContainerName.startsWith(prefix))) {
    reader.report('RELAY_ATTACHMENT_CONTAINER', `${echoSetting(attachmentContainerName)} is a container of the Functions host or its deployment: producers can read every blob of the attachment container`);
  }
  const ledgerLeaseSeconds = reader.integer('RELAY_LEDGER_LEASE_SECONDS', 60, 1, 86400);
  const retry = {
    firstDelaySeconds: reader.integer('RELAY_RETRY_FIRST_DELAY_SECONDS', 30, 0, 86400),
    maxDelaySeconds: reader.integer('RELAY_RETRY_MAX_DELAY_SECONDS', 900, 0, 86400),
    // Azure queue messages stay invisible at most 7 days.
    maxAgeSeconds: reader.integer('RELAY_RETRY_MAX_AGE_SECONDS', 86400, 0, 604800),
  };
  if (retry.firstDelaySeconds > retry.maxDelaySeconds && !reader.hasProblem('RELAY_RETRY_MAX_DELAY_SECONDS')) {
    reader.report('RELAY_RETRY_MAX_DELAY_SECONDS', `${retry.maxDelaySeconds} is below RELAY_RETRY_FIRST_DELAY_SECONDS (${retry.firstDelaySeconds})`);
  }
  const connection = readStorageConnection(reader);
  if (connection === undefined) return undefined;
  return {
    connectionSetting: STORAGE_CONNECTION_SETTING,
    connection,
    queueName,
    deadLetterQueueName,
    deadLetterContainerName,
    maxDequeueCount,
    attachmentContainerName,
    maxAttachmentBytes,
    ledgerContainerName,
    ledgerLeaseSeconds,
    retry,
  };
}

/** Containers of the host (keys, leases, timers) and of a Flex Consumption deployment (the app's package). */
const HOST_CONTAINER_PREFIXES = ['azure-webjobs-', 'app-package-'];

/**
 * Producers name any blob of the attachment container, so it must hold nothing but attachments:
 * sharing it with the ledger (and its retry-envelope key), dead letters, the monitor's state or the
 * host's own containers would let a producer mail their contents to itself.
 */
function checkAttachmentContainerApart(reader: SettingsReader, attachments: string, others: Record<string, string>): void {
  for (const [setting, container] of Object.entries(others)) {
    if (container === attachments) {
      reader.report('RELAY_ATTACHMENT_CONTAINER', `equals ${setting} (${echoSetting(container)}): producers can read every blob of the attachment container, so it must hold only attachments`);
    }
  }
}

function readStorageName(reader: SettingsReader, name: string, fallback: string, kind: 'queue' | 'container'): string {
  const value = reader.get(name);
  if (value === undefined) return fallback;
  if (!STORAGE_NAME.test(value)) {
    reader.report(name, `${echoSetting(value)} is not a valid ${kind} name (3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit)`);
  }
  return value;
}

function readStorageConnection(reader: SettingsReader): StorageConnection | undefined {
  const name = STORAGE_CONNECTION_SETTING;
  const connectionString = reader.get(name);
  const queueUriText = reader.get(`${name}__queueServiceUri`);
  const blobUriText = reader.get(`${name}__blobServiceUri`);
  const accountName = reader.get(`${name}__accountName`);
  const clientId = reader.get(`${name}__clientId`);
  const identityBased = queueUriText !== undefined || blobUriText !== undefined || accountName !== undefined;

  if (connectionString !== undefined) {
    if (identityBased) {
      reader.report(name, `contradicts ${name}__queueServiceUri/__blobServiceUri/__accountName: use either a connection string or the identity-based settings`);
      return undefined;
    }
    return readConnectionString(reader, connectionString);
  }
  if (!identityBased) {
    if (!reader.hasProblem(name)) {
      reader.report(name, `is missing: a storage connection string (UseDevelopmentStorage=true for Azurite), or use ${name}__queueServiceUri for a managed identity`);
    }
    return undefined;
  }

  const problemsBefore = reader.problems.length;
  let queueServiceUri: string | undefined;
  if (queueUriText !== undefined) {
    queueServiceUri = readServiceUri(reader, `${name}__queueServiceUri`, queueUriText);
  } else if (accountName !== undefined) {
    if (/^[a-z0-9]{3,24}$/.test(accountName)) queueServiceUri = `https://${accountName}.queue.core.windows.net`;
    else reader.report(`${name}__accountName`, `${echoSetting(accountName)} is not a storage account name (3 to 24 lower-case letters and digits)`);
  } else {
    reader.report(`${name}__queueServiceUri`, `is missing: the queue service URI (https://<account>.queue.core.windows.net)`);
  }
  let blobServiceUri: string | undefined;
  if (blobUriText !== undefined) {
    blobServiceUri = readServiceUri(reader, `${name}__blobServiceUri`, blobUriText);
  } else if (queueServiceUri !== undefined) {
    if (queueServiceUri.includes('.queue.')) blobServiceUri = queueServiceUri.replace('.queue.', '.blob.');
    else reader.report(`${name}__blobServiceUri`, 'is missing and cannot be derived from the queue service URI (no ".queue." in it)');
  }
  if (clientId !== undefined && !GUID.test(clientId)) {
    reader.report(`${name}__clientId`, `${echoSetting(clientId)} is not a managed identity client ID (a GUID)`);
  }
  if (reader.problems.length > problemsBefore || queueServiceUri === undefined || blobServiceUri === undefined) return undefined;
  return clientId === undefined
    ? { kind: 'identity', queueServiceUri, blobServiceUri }
    : { kind: 'identity', queueServiceUri, blobServiceUri, clientId };
}

function readServiceUri(reader: SettingsReader, setting: string, text: string): string | undefined {
  const url = parseUrl(text);
  if (url === undefined || url.protocol !== 'https:') {
    reader.report(setting, `${echoSetting(text)} must be an https:// service URI`);
    return undefined;
  }
  return text.replace(/\/+$/, '');
}

/** Checks the shape of a connection string without ever echoing it (it holds the account key). */
function readConnectionString(reader: SettingsReader, text: string): StorageConnection | undefined {
  const parts = new Map<string, string>();
  for (const pair of text.split(';')) {
    const at = pair.indexOf('=');
    if (at > 0) parts.set(pair.slice(0, at).trim().toLowerCase(), pair.slice(at + 1).trim());
  }
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') {
    return { kind: 'connectionString', connectionString: AZURITE_CONNECTION_STRING };
  }
  registerSecret(parts.get('accountkey'));
  registerSecret(parts.get('sharedaccesssignature'));
  const problems: string[] = [];
  if (!parts.has('accountkey') && !parts.has('sharedaccesssignature')) problems.push('has neither AccountKey nor SharedAccessSignature');
  if (!parts.has('accountname') && !(parts.has('queueendpoint') && parts.has('blobendpoint'))) {
    problems.push('needs AccountName (or both QueueEndpoint and BlobEndpoint)');
  }
  if (problems.length > 0) {
    reader.report(
      STORAGE_CONNECTION_SETTING,
      `is not a usable storage connection string: it ${problems.join(' and ')} (copy it from the storage account's Access keys, or use UseDevelopmentStorage=true locally)`,
    );
    return undefined;
  }
  return { kind: 'connectionString', connectionString: text };
}

function splitList(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
