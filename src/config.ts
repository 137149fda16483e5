/**
 * The relay's configuration, read once at start from app settings
 * (process.env in Azure and under Core Tools; local.settings.json "Values").
 *
 * Only the types live here for now; `loadConfig` is implemented in this file.
 */

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
  clientSecret: string;
  scopes: string[];
  /** A cached token is replaced this long before it expires (at least 10 minutes). */
  refreshMarginMs: number;
};

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
}

export interface RelayConfig {
  smtp: SmtpSettings;
  /** Undefined when OAuth2 is switched off (then `password` is set). */
  oauth?: OAuthSettings;
  password?: PasswordAuthSettings;
  mail: MailSettings;
  queue: QueueSettings;
}
