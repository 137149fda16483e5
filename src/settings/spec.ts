/**
 * Every setting the relay reads, declared once: its type (and so how the reader parses
 * it), its default, its range, whether it is a secret, the line that documents it and
 * the section that reads it. The reader (reader.ts), describeSettings() (the README
 * table and local.settings.json.example) and the secret list below are derived from
 * this table; the order of the entries is the order of the README table.
 *
 * A default that depends on other settings is a `derived` one: the rule and the words
 * that describe it sit together here, and the section that reads the setting applies
 * the rule. Checks that involve several settings live in the section modules.
 */
import { EXCHANGE_MESSAGES_PER_MINUTE, EXCHANGE_POOL_LIMIT, EXCHANGE_RECIPIENT_LIMIT, EXCHANGE_RECIPIENTS_PER_DAY, isMicrosoftSmtpHost } from './microsoft';
import { GMAIL_RECIPIENT_LIMIT, GMAIL_RECIPIENTS_PER_DAY, GMAIL_SMTP_HOST, isGmailSmtpHost } from './gmail';

/** The module that reads the setting (smtp.ts, auth.ts, mail.ts, queue.ts, storage.ts, monitor.ts, transport.ts). */
export type Section = 'smtp' | 'auth' | 'mail' | 'queue' | 'storage' | 'monitor' | 'transport';

/**
 * `value`: the whole value is a secret, registered with the redactor as soon as the
 * reader starts. `contains`: the value holds secrets among harmless parts (a connection
 * string's AccountKey), which its section registers once it has split them out.
 * Problems never repeat either.
 */
export type Secrecy = 'value' | 'contains';

/** A default computed from other settings: the rule, and how the documentation states it. */
export interface Derived<T, C> {
  readonly described: string;
  readonly rule: (context: C) => T;
}

export function derived<T, C>(described: string, rule: (context: C) => T): Derived<T, C> {
  return { described, rule };
}

interface About {
  section: Section;
  /**
   * One line for the README and the example settings file. In an integer setting's
   * line, `{range}` stands for its range ("1 to 365").
   */
  description: string;
  /** When the setting must be given (absent: optional). */
  required?: string;
  secret?: Secrecy;
}

/** A whole number in [min, max]; a bad value is reported and the default used instead. */
export interface IntegerSpec<D extends number | Derived<number, never> = number | Derived<number, never>> extends About {
  type: 'integer';
  default: D;
  min: number;
  max: number;
}

/** true or false, in any case. */
export interface BooleanSpec extends About {
  type: 'boolean';
  default: boolean;
}

/** One of a few words, in any case. */
export interface ChoiceSpec<O extends string = string, D extends O | Derived<O, never> = O | Derived<O, never>> extends About {
  type: 'choice';
  options: readonly O[];
  default: D;
}

/** An Azure queue or blob container name. */
export interface StorageNameSpec extends About {
  type: 'storageName';
  kind: 'queue' | 'container';
  default: string;
}

/** Free text whose shape its section checks (host names, URLs, addresses, secrets). */
export interface TextSpec<D extends string | Derived<unknown, never> | undefined = string | Derived<unknown, never> | undefined> extends About {
  type: 'text';
  default: D;
}

export type SettingSpec = IntegerSpec | BooleanSpec | ChoiceSpec | StorageNameSpec | TextSpec;

function integer<D extends number | Derived<number, never>>(spec: About & { default: D; min: number; max: number }): IntegerSpec<D> {
  return { type: 'integer', ...spec };
}

function boolean(spec: About & { default: boolean }): BooleanSpec {
  return { type: 'boolean', ...spec };
}

function choice<const O extends string, D extends O | Derived<O, never>>(spec: About & { options: readonly O[]; default: D }): ChoiceSpec<O, D> {
  return { type: 'choice', ...spec };
}

function storageName(spec: About & { kind: 'queue' | 'container'; default: string }): StorageNameSpec {
  return { type: 'storageName', ...spec };
}

function text(spec: About): TextSpec<undefined>;
function text<D extends string | Derived<unknown, never>>(spec: About & { default: D }): TextSpec<D>;
function text(spec: About & { default?: string | Derived<unknown, never> }): TextSpec {
  return { type: 'text', default: undefined, ...spec };
}

export const SETTINGS = {
  SMTP_HOST: text({
    section: 'smtp',
    default: 'smtp.office365.com',
    description: 'SMTP server host name (no scheme, no port); smtp.gmail.com when unset and OAUTH2_PROVIDER=google.',
  }),
  SMTP_PORT: integer({ section: 'smtp', default: 587, min: 1, max: 65535, description: 'SMTP server port: 587 for STARTTLS, 465 for implicit TLS.' }),
  SMTP_SECURITY: choice({
    section: 'smtp',
    options: ['starttls', 'implicit'],
    default: derived('implicit for port 465, otherwise starttls', (smtp: { port: number }) => (smtp.port === 465 ? 'implicit' : 'starttls')),
    description: 'starttls (plain connection upgraded with STARTTLS, required) or implicit (TLS from the first byte).',
  }),
  SMTP_POOL_SIZE: integer({
    section: 'smtp',
    default: 3,
    min: 1,
    max: 20,
    description: `Concurrent SMTP connections to the mailbox, for the whole app (or per instance with RELAY_LIMITS_SCOPE=instance); Exchange Online allows at most ${EXCHANGE_POOL_LIMIT}.`,
  }),
  SMTP_RATE_LIMIT_PER_MINUTE: integer({
    section: 'smtp',
    default: derived(`${EXCHANGE_MESSAGES_PER_MINUTE} for Microsoft 365 hosts, otherwise 0 (no limit)`, (smtp: { host: string }) =>
      isMicrosoftSmtpHost(smtp.host) ? EXCHANGE_MESSAGES_PER_MINUTE : 0,
    ),
    min: 0,
    max: 100000,
    description: `Messages the mailbox starts per minute (Exchange Online allows ${EXCHANGE_MESSAGES_PER_MINUTE}); for the whole app, or per instance with RELAY_LIMITS_SCOPE=instance.`,
  }),
  SMTP_RATE_LIMIT_WINDOW_SECONDS: integer({
    section: 'smtp',
    default: 60,
    min: 1,
    max: 3600,
    description: 'The window SMTP_RATE_LIMIT_PER_MINUTE counts over, in seconds ({range}): 60 for every provider we know; shorter only for scaled-down tests.',
  }),
  SMTP_DAILY_RECIPIENT_LIMIT: integer({
    section: 'smtp',
    default: derived(
      `${EXCHANGE_RECIPIENTS_PER_DAY} for Microsoft 365 hosts, ${GMAIL_RECIPIENTS_PER_DAY} for ${GMAIL_SMTP_HOST}, otherwise 0 (not counted)`,
      (smtp: { host: string }) => (isMicrosoftSmtpHost(smtp.host) ? EXCHANGE_RECIPIENTS_PER_DAY : isGmailSmtpHost(smtp.host) ? GMAIL_RECIPIENTS_PER_DAY : 0),
    ),
    min: 0,
    max: 10_000_000,
    description: `Recipients (to + cc + bcc) the mailbox sends to per rolling day, for the whole app ({range}; Exchange Online blocks the mailbox for up to 24 hours past ${EXCHANGE_RECIPIENTS_PER_DAY}); a message that would pass it waits in the queue. Only with RELAY_LIMITS_SCOPE=app.`,
  }),
  SMTP_DAILY_RECIPIENT_WINDOW_SECONDS: integer({
    section: 'smtp',
    default: 86400,
    min: 10,
    max: 604800,
    description:
      'The rolling window SMTP_DAILY_RECIPIENT_LIMIT counts over, in seconds ({range}): 86400 (24 hours) for Exchange Online; shorter only for scaled-down tests.',
  }),
  RELAY_LIMITS_SCOPE: choice({
    section: 'smtp',
    options: ['app', 'instance'],
    default: 'app',
    description:
      "app: the mailbox's connections (SMTP_POOL_SIZE), rate and daily recipients hold for all instances together, coordinated through blobs in RELAY_COORDINATION_CONTAINER; instance: each instance keeps them alone (no storage requests; divide them by the instance cap).",
  }),
  SMTP_RATE_LIMIT_MAX_WAIT_SECONDS: integer({
    section: 'smtp',
    default: 30,
    min: 0,
    max: 240,
    description: 'Longest a message waits in an invocation for a sending slot; longer waits hand it back to the queue for later.',
  }),
  SMTP_THROTTLE_BACKOFF_SECONDS: integer({
    section: 'smtp',
    default: 60,
    min: 1,
    max: 3600,
    description: 'Pause after a throttling reply (432 4.3.2, 421 4.7.x, 451 4.7.x, 452), doubled on each consecutive one up to 15 minutes.',
  }),
  SMTP_CONNECTION_TIMEOUT_MS: integer({
    section: 'smtp',
    default: 20000,
    min: 1000,
    max: 600000,
    description: 'How long to wait for the TCP connection, in milliseconds.',
  }),
  SMTP_GREETING_TIMEOUT_MS: integer({
    section: 'smtp',
    default: 20000,
    min: 1000,
    max: 600000,
    description: "How long to wait for the server's greeting, in milliseconds.",
  }),
  SMTP_SOCKET_TIMEOUT_MS: integer({
    section: 'smtp',
    default: 60000,
    min: 1000,
    max: 600000,
    description: 'How long an idle SMTP connection may stay silent, in milliseconds.',
  }),
  TLS_EXTRA_CA_FILE: text({
    section: 'smtp',
    description:
      'Path of a PEM file with extra CA certificates to trust for every outbound TLS connection: SMTP, the token endpoint, Key Vault, Microsoft Graph, the alert webhook (certificate checks stay on; TLS 1.2 at least).',
  }),
  OAUTH2_ENABLED: boolean({
    section: 'auth',
    default: true,
    description: 'true: authenticate with an OAuth2 access token (XOAUTH2); false: with SMTP_PASSWORD.',
  }),
  OAUTH2_PROVIDER: choice({
    section: 'auth',
    options: ['auto', 'microsoft', 'generic', 'google'],
    default: 'auto',
    description:
      'microsoft (Entra ID client credentials), generic (plain OAuth2 client-credentials POST), google (a Google Workspace service account with domain-wide delegation, see "Google Workspace") or auto (microsoft when a tenant is known).',
  }),
  OAUTH2_TENANT_ID: text({
    section: 'auth',
    description: 'Directory (tenant) ID of the Microsoft Entra tenant (a GUID or a verified domain).',
    required: 'for Microsoft, unless OAUTH2_TOKEN_URL contains it',
  }),
  OAUTH2_AUTHORITY_HOST: text({
    section: 'auth',
    default: 'https://login.microsoftonline.com',
    description: 'Microsoft sign-in host; change it only for sovereign clouds (e.g. https://login.microsoftonline.us).',
  }),
  OAUTH2_TOKEN_URL: text({
    section: 'auth',
    default: derived(
      'for Microsoft: <authority host>/<tenant>/oauth2/v2.0/token',
      (microsoft: { authorityHost: string; tenantId: string }) => `${microsoft.authorityHost}/${microsoft.tenantId}/oauth2/v2.0/token`,
    ),
    description: 'Token endpoint. For Microsoft it may replace OAUTH2_TENANT_ID; for other providers it is required.',
    required: 'for generic providers',
  }),
  OAUTH2_CLIENT_ID: text({
    section: 'auth',
    description: 'Application (client) ID of the app registration allowed to send (SMTP.SendAsApp).',
    required: 'when OAUTH2_ENABLED=true',
  }),
  OAUTH2_CLIENT_SECRET: text({
    section: 'auth',
    secret: 'value',
    description: "The client secret's Value (not its Secret ID); in Azure read it from Key Vault instead (KEYVAULT_URL + OAUTH2_CLIENT_SECRET_NAME).",
    required: 'when OAUTH2_ENABLED=true, unless read from Key Vault or OAUTH2_AUTH_MODE=managed-identity-federation',
  }),
  OAUTH2_AUTH_MODE: choice({
    section: 'auth',
    options: ['secret', 'managed-identity-federation', 'certificate'],
    default: 'secret',
    description:
      "secret (client secret from a setting or Key Vault), managed-identity-federation (no secret: the app's managed identity signs in for the app registration) or certificate (a client certificate from Key Vault or a PEM file; Microsoft Entra ID only).",
  }),
  KEYVAULT_URL: text({
    section: 'auth',
    description: 'Key Vault URI (https://<vault>.vault.azure.net) to read the client secret from with the managed identity.',
  }),
  OAUTH2_CLIENT_SECRET_NAME: text({
    section: 'auth',
    description: 'Name of the Key Vault secret holding the client secret Value.',
    required: 'with KEYVAULT_URL',
  }),
  OAUTH2_CLIENT_CERTIFICATE_NAME: text({
    section: 'auth',
    description:
      'OAUTH2_AUTH_MODE=certificate: name of the Key Vault certificate (created with content type application/x-pem-file) whose private key signs the client assertion.',
    required: 'with OAUTH2_AUTH_MODE=certificate and KEYVAULT_URL',
  }),
  OAUTH2_CLIENT_CERTIFICATE_PATH: text({
    section: 'auth',
    description: 'OAUTH2_AUTH_MODE=certificate without Key Vault (local runs): path of a PEM file holding the private key and the certificate.',
    required: 'with OAUTH2_AUTH_MODE=certificate, unless KEYVAULT_URL is set',
  }),
  OAUTH2_SEND_CERTIFICATE_CHAIN: boolean({
    section: 'auth',
    default: false,
    description:
      'OAUTH2_AUTH_MODE=certificate: send the certificate chain (x5c) with each assertion, for apps that trust a subject name and issuer instead of one uploaded certificate.',
  }),
  OAUTH2_SERVICE_ACCOUNT_KEY_NAME: text({
    section: 'auth',
    description: "OAUTH2_PROVIDER=google: name of the Key Vault secret holding the service account's JSON key (az keyvault secret set --file).",
    required: 'with OAUTH2_PROVIDER=google and KEYVAULT_URL',
  }),
  OAUTH2_SERVICE_ACCOUNT_KEY: text({
    section: 'auth',
    secret: 'value',
    description: "OAUTH2_PROVIDER=google without Key Vault (local runs): the service account's JSON key itself (the whole file's text).",
    required: 'with OAUTH2_PROVIDER=google, unless KEYVAULT_URL is set',
  }),
  OAUTH2_CLIENT_SECRET_CACHE_SECONDS: integer({
    section: 'auth',
    default: 3600,
    min: 60,
    max: 86400,
    description: 'How long the client secret (or certificate) read from Key Vault is kept in memory ({range}); a rejected one is re-read at once.',
  }),
  MANAGED_IDENTITY_CLIENT_ID: text({
    section: 'auth',
    description:
      'Client ID of the user-assigned managed identity for Key Vault and federation (absent: the system-assigned identity; locally your own sign-in).',
  }),
  MONITOR_SCHEDULE: text({
    section: 'monitor',
    default: '0 */15 * * * *',
    description: 'NCRONTAB schedule (six fields, UTC) of the timer that pre-warms the relay and checks the client secret.',
  }),
  ALERT_WARNING_DAYS: integer({
    section: 'monitor',
    default: 30,
    min: 1,
    max: 365,
    description: 'Warn when the client secret expires within this many days ({range}).',
  }),
  ALERT_CRITICAL_DAYS: integer({
    section: 'monitor',
    default: 7,
    min: 1,
    max: 365,
    description: 'Critical alert when the client secret expires within this many days (1 to ALERT_WARNING_DAYS).',
  }),
  ALERT_EMAIL_TO: text({ section: 'monitor', description: 'Also send alerts by e-mail, through the relay itself, to this address.' }),
  ALERT_WEBHOOK_URL: text({
    section: 'monitor',
    secret: 'value',
    description: 'Also POST alerts as JSON {"text": ...} to this https incoming webhook (Teams, Slack); treated as a secret.',
  }),
  MONITOR_STATE_CONTAINER: storageName({
    section: 'monitor',
    kind: 'container',
    default: 'relay-monitor',
    description: 'Blob container (in AzureWebJobsStorage) for the alert state and the rotation lease.',
  }),
  ROTATION_ENABLED: boolean({
    section: 'monitor',
    default: false,
    description: 'true: the timer rotates the client secret itself through Microsoft Graph (the app must own itself, Application.ReadWrite.OwnedBy).',
  }),
  ROTATION_WINDOW_DAYS: integer({
    section: 'monitor',
    default: 30,
    min: 1,
    max: 365,
    description: 'Rotate when the client secret expires within this many days ({range}).',
  }),
  ROTATION_SECRET_LIFETIME_DAYS: integer({
    section: 'monitor',
    default: 180,
    min: 30,
    max: 730,
    description: 'Lifetime of a client secret created by rotation ({range}).',
  }),
  ROTATION_GRACE_HOURS: integer({
    section: 'monitor',
    default: 24,
    min: 1,
    max: 720,
    description: 'Hours the old client secret stays valid after rotation, so every instance picks up the new one ({range}).',
  }),
  GRAPH_URL: text({
    section: 'monitor',
    default: 'https://graph.microsoft.com',
    description: 'Microsoft Graph endpoint used by rotation and the graph transport (change only for sovereign clouds).',
  }),
  RELAY_TRANSPORT: choice({
    section: 'transport',
    options: ['smtp', 'graph', 'smtp-then-graph'],
    default: 'smtp',
    description:
      "How the default sender hands messages over: smtp (SMTP AUTH XOAUTH2), graph (Microsoft Graph sendMail with the application permission Mail.Send; Mail.ReadWrite too for messages over Graph's 4 MB request limit), or smtp-then-graph (Graph after SMTP answers 535 5.7.139, SMTP AUTH disabled; SMTP is tried again an hour later). RELAY_SENDERS entries take a field transport.",
  }),
  GRAPH_SAVE_TO_SENT_ITEMS: boolean({
    section: 'transport',
    default: true,
    description:
      "Graph transport: keep a copy of each message in the mailbox's Sent Items. The relay sends MIME (the same message as over SMTP), and Graph documents no saveToSentItems for MIME sends: it always keeps the copy, so false is refused rather than silently ignored. RELAY_SENDERS entries take a field saveToSentItems.",
  }),
  GRAPH_PERMISSION_GRANT: choice({
    section: 'transport',
    options: ['auto', 'rbac', 'entra'],
    default: 'auto',
    description:
      'Graph transport: how Mail.Send is granted, so the doctor and the health check judge the Graph token exactly. rbac: Exchange Online RBAC for Applications (the token carries no role; a Mail.Send role in it means an Entra consent that opens every mailbox whatever the RBAC scope, reported as a failure). entra: an Entra application permission with admin consent, scoped by an application access policy (a token without Mail.Send fails). auto: either (a token without the role is a warning). Applies to every Graph sender.',
  }),
  OAUTH2_SCOPES: text({
    section: 'auth',
    // Microsoft's default; a generic provider gets no scope unless one is set.
    default: 'https://outlook.office365.com/.default',
    description: 'Scope to request. Microsoft needs exactly one <resource>/.default scope (https://outlook.office.com/.default works as well).',
  }),
  OAUTH2_REFRESH_MARGIN_SECONDS: integer({
    section: 'auth',
    default: 600,
    min: 600,
    max: 3000,
    description: 'Replace a cached access token this many seconds before it expires ({range}).',
  }),
  SMTP_USER: text({ section: 'mail', description: 'The authorized mailbox: SMTP user name and the account mail is sent from.', required: 'always' }),
  SMTP_PASSWORD: text({
    section: 'auth',
    secret: 'value',
    description: 'Password of SMTP_USER, used only when OAUTH2_ENABLED=false.',
    required: 'when OAUTH2_ENABLED=false',
  }),
  MAIL_FROM: text({
    section: 'mail',
    default: derived('SMTP_USER', (mail: { user: string }) => mail.user),
    description: 'Sender address used when a message has no "from".',
  }),
  MAIL_ALLOWED_FROM: text({
    section: 'mail',
    description: 'Comma-separated other addresses a message may send from (the mailbox needs SendAs rights for each).',
  }),
  MAIL_MAX_RECIPIENTS: integer({
    section: 'mail',
    default: derived(`${GMAIL_RECIPIENT_LIMIT} for ${GMAIL_SMTP_HOST}, otherwise ${EXCHANGE_RECIPIENT_LIMIT}`, (smtp: { host: string }) =>
      isGmailSmtpHost(smtp.host) ? GMAIL_RECIPIENT_LIMIT : EXCHANGE_RECIPIENT_LIMIT,
    ),
    min: 1,
    max: 1000,
    description: `Most recipients (to + cc + bcc) one message may have ({range}; Exchange Online accepts ${EXCHANGE_RECIPIENT_LIMIT}, Gmail ${GMAIL_RECIPIENT_LIMIT} over SMTP).`,
  }),
  RELAY_SENDERS: text({
    section: 'mail',
    description:
      'More senders beside the default one (the settings above), as a JSON array of objects with id, mailbox, from, allowedFrom, provider (microsoft or generic), tenant or tokenUrl, clientId, credential, smtp (host, port, security) and limits (connections, messagesPerMinute, recipientsPerDay). Secrets only by reference: credential.secretSetting names an app setting, credential.keyVaultSecret a Key Vault secret, or credential.federation is true. See "Several senders".',
  }),
  RELAY_QUEUE_NAME: storageName({ section: 'queue', kind: 'queue', default: 'outbound-mail', description: 'Storage queue the relay reads messages from.' }),
  RELAY_DEADLETTER_QUEUE_NAME: storageName({
    section: 'queue',
    kind: 'queue',
    default: 'outbound-mail-deadletter',
    description: 'Storage queue that receives messages which cannot be sent, with the reason.',
  }),
  RELAY_DEADLETTER_CONTAINER: storageName({
    section: 'queue',
    kind: 'container',
    default: 'outbound-mail-deadletter',
    description: 'Blob container for dead-letter records too large for a queue message.',
  }),
  RELAY_ATTACHMENT_CONTAINER: storageName({
    section: 'queue',
    kind: 'container',
    default: 'outbound-mail-attachments',
    description: 'Blob container holding attachments that messages name with "blob" (files too large for a 64 KiB queue message).',
  }),
  MAIL_MAX_ATTACHMENTS_MB: integer({
    section: 'queue',
    default: 25,
    min: 1,
    max: 112,
    description: "Largest total size of one message's attachments in MiB (base64 adds a third: 25 MiB stays within Exchange Online's 35 MB).",
  }),
  RELAY_MAX_DEQUEUE_COUNT: integer({
    section: 'queue',
    default: 5,
    min: 1,
    max: 100,
    description: 'Delivery attempts per message; must equal extensions.queues.maxDequeueCount in host.json.',
  }),
  RELAY_RETRY_FIRST_DELAY_SECONDS: integer({
    section: 'queue',
    default: 30,
    min: 0,
    max: 86400,
    description: 'Wait after the first transient failure; doubled after each further one (with ±20% jitter), up to RELAY_RETRY_MAX_DELAY_SECONDS.',
  }),
  RELAY_RETRY_MAX_DELAY_SECONDS: integer({
    section: 'queue',
    default: 900,
    min: 0,
    max: 86400,
    description: "Longest wait between attempts (a provider's Retry-After may ask for more, up to an hour).",
  }),
  RELAY_RETRY_MAX_AGE_SECONDS: integer({
    section: 'queue',
    default: 86400,
    min: 0,
    // Azure queue messages stay invisible at most 7 days.
    max: 604800,
    description: 'A message still failing this long after it was first queued is dead-lettered with its last reason ({range}).',
  }),
  RELAY_LEDGER_CONTAINER: storageName({
    section: 'queue',
    kind: 'container',
    default: 'outbound-mail-ledger',
    description: 'Blob container of the delivery ledger, which keeps a redelivered message from being sent twice.',
  }),
  RELAY_COORDINATION_CONTAINER: storageName({
    section: 'queue',
    kind: 'container',
    default: 'relay-coordination',
    description:
      "Blob container where the instances share each mailbox's limits (connection slots as leased blobs, the sending window); with RELAY_LIMITS_SCOPE=app.",
  }),
  RELAY_LEDGER_LEASE_SECONDS: integer({
    section: 'queue',
    default: 60,
    min: 1,
    max: 86400,
    description:
      "How long a message's ledger claim holds without renewal; renewed every third of it while the send runs, so a crashed send's message moves on this long after the queue redelivers it.",
  }),
  AzureWebJobsStorage: text({
    section: 'storage',
    secret: 'contains',
    description: 'Storage account connection string (UseDevelopmentStorage=true for Azurite).',
    required: 'unless the identity-based settings below are used',
  }),
  AzureWebJobsStorage__queueServiceUri: text({
    section: 'storage',
    description: 'Identity-based storage: queue service URI, e.g. https://<account>.queue.core.windows.net.',
  }),
  AzureWebJobsStorage__blobServiceUri: text({
    section: 'storage',
    default: derived('the queue URI with .queue. replaced by .blob.', (queueServiceUri: string) =>
      queueServiceUri.includes('.queue.') ? queueServiceUri.replace('.queue.', '.blob.') : undefined,
    ),
    description: 'Identity-based storage: blob service URI.',
  }),
  AzureWebJobsStorage__accountName: text({
    section: 'storage',
    description: 'Identity-based storage: account name, instead of the two URIs (public Azure cloud).',
  }),
  AzureWebJobsStorage__clientId: text({
    section: 'storage',
    description: "Identity-based storage: client ID of a user-assigned managed identity (absent: the app's system-assigned identity).",
  }),
};

type Spec = typeof SETTINGS;
export type SettingName = keyof Spec;
type NamesWhere<Shape> = { [N in SettingName]: Spec[N] extends Shape ? N : never }[SettingName];

/** Integer settings with a fixed default, and those whose default their section derives. */
export type IntegerName = NamesWhere<IntegerSpec<number>>;
export type DerivedIntegerName = NamesWhere<IntegerSpec<Derived<number, never>>>;
export type BooleanName = NamesWhere<BooleanSpec>;
/** Choice settings with a fixed default, and all of them. */
export type ChoiceName = NamesWhere<ChoiceSpec<string, string>>;
export type AnyChoiceName = NamesWhere<ChoiceSpec>;
export type OptionOf<N extends AnyChoiceName> = Spec[N]['options'][number];
export type StorageName = NamesWhere<StorageNameSpec>;

/** The settings in README order. */
export const SETTING_NAMES: readonly SettingName[] = keysOf(SETTINGS);

function keysOf<T extends object>(record: T): Array<keyof T> {
  const keys: Array<keyof T> = [];
  for (const key in record) keys.push(key);
  return keys;
}

/** Every setting that is or holds a secret: no problem text may contain its value. */
export const SECRET_SETTINGS: readonly SettingName[] = SETTING_NAMES.filter((name) => settingSpec(name).secret !== undefined);

/** The spec of one setting, as the common type (for code that walks the whole table). */
export function settingSpec(name: SettingName): SettingSpec {
  return SETTINGS[name];
}

/** "min to max", as problems and the README state an integer setting's range. */
export function rangeText(spec: { min: number; max: number }): string {
  return `${spec.min} to ${spec.max}`;
}

/** The name of the setting that holds the storage connection (the Functions host's own). */
export const STORAGE_CONNECTION_SETTING: SettingName = 'AzureWebJobsStorage';
export const DEFAULT_MONITOR_SCHEDULE = SETTINGS.MONITOR_SCHEDULE.default;
