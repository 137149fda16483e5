/**
 * The relay's configuration as loadConfig returns it: every section present, and
 * authentication as one of the ways the relay really signs in (a discriminated union),
 * so code that uses it switches on `auth.kind` instead of testing optional fields.
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
  /** Messages this instance may start per minute for the mailbox; 0 = no limit. */
  rateLimitPerMinute: number;
  /** The window rateLimitPerMinute counts over (60 s but in scaled-down tests), in ms. */
  rateLimitWindowMs: number;
  /** Recipients per rolling day for the mailbox, for the whole app; 0 = not counted. */
  dailyRecipientLimit: number;
  /** The rolling "day" of dailyRecipientLimit (24 h but in scaled-down tests), in ms. */
  dailyRecipientWindowMs: number;
  /** app: the limits (pool size, rate, daily recipients) hold for all instances together; instance: per instance. */
  limitsScope: 'app' | 'instance';
  /** Longest a message waits in an invocation for a sending slot before it goes back to the queue, in ms. */
  rateLimitMaxWaitMs: number;
  /** First pause after a throttling reply (doubled on each consecutive one), in ms. */
  throttleBackoffMs: number;
  /** Connection, greeting and socket timeouts in ms. */
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
}

/* Authentication ---------------------------------------------------------- */

/** The token endpoint of the Microsoft identity platform (Entra ID). */
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

/**
 * Google Workspace: a service account with domain-wide delegation signs a JWT (RFC 7523) for the
 * mailbox. The "client secret" of this provider is the service account's JSON key (its token_uri
 * is the endpoint); `clientId` is the key's client_id once known (OAUTH2_CLIENT_ID, optional, or
 * the key from the setting), else empty.
 */
export interface GoogleOAuthSettings {
  provider: 'google';
  /** The mailbox the token is for (the JWT's sub): SMTP_USER, or the sender's mailbox. */
  subject: string;
}

/** Who issues the tokens; a new provider is one more member, discriminated by `provider`. */
export type OAuthProviderSettings = MicrosoftOAuthSettings | GenericOAuthSettings | GoogleOAuthSettings;

/** What every OAuth2 sign-in has, whatever the credential. */
export interface OAuthClientSettings {
  clientId: string;
  scopes: string[];
  /** A cached token is replaced this long before it expires (at least 10 minutes). */
  refreshMarginMs: number;
}

export interface KeyVaultSecretSettings {
  /** https://<vault>.vault.azure.net */
  vaultUrl: string;
  secretName: string;
  /** How long the secret value is kept in memory before Key Vault is asked again. */
  cacheMs: number;
  /** User-assigned managed identity; absent: the system-assigned one (or the developer's sign-in locally). */
  managedIdentityClientId?: string;
}

/** Where the client secret's Value is read: the OAUTH2_CLIENT_SECRET setting, or Key Vault with the managed identity. */
export type ClientSecretSource = { kind: 'setting'; clientSecret: string } | { kind: 'keyVault'; keyVault: KeyVaultSecretSettings };

export interface FederatedCredentialSettings {
  /** User-assigned managed identity trusted by the app registration; absent: the system-assigned one. */
  managedIdentityClientId?: string;
}

/** OAuth2 client credentials with a client secret, from any provider. */
export type ClientSecretAuth = OAuthClientSettings & OAuthProviderSettings & { kind: 'clientSecret'; source: ClientSecretSource };

/** Secretless: a client assertion from the app's managed identity (workload identity federation); Entra ID only. */
export type FederationAuth = OAuthClientSettings &
  MicrosoftOAuthSettings & {
    kind: 'federation';
    federation: FederatedCredentialSettings;
    /**
     * KEYVAULT_URL given beside federation: sign-in never uses this secret, yet the monitor
     * watches it (and rotation may renew it), as the relay always did; refusing the pair
     * would be a change of behaviour, left for later.
     */
    keyVault?: KeyVaultSecretSettings;
  };

/**
 * Where the client certificate (PEM: private key and certificate) is read: a Key Vault
 * certificate through its secret (KEYVAULT_URL + OAUTH2_CLIENT_CERTIFICATE_NAME; `secretName`
 * is the certificate's name), or a PEM file for local runs.
 */
export type ClientCertificateSource = { kind: 'keyVault'; keyVault: KeyVaultSecretSettings } | { kind: 'file'; path: string };

/** A client assertion signed with a certificate registered on the app (OAUTH2_AUTH_MODE=certificate); Entra ID only. */
export type CertificateAuth = OAuthClientSettings &
  MicrosoftOAuthSettings & {
    kind: 'certificate';
    source: ClientCertificateSource;
    /** Send the chain (x5c) with each assertion: subject name + issuer authentication. */
    sendCertificateChain: boolean;
  };

/**
 * The OAuth2 ways to sign in; every `switch (auth.kind)` names the places to extend
 * when another one is added.
 */
export type OAuthSettings = ClientSecretAuth | FederationAuth | CertificateAuth;

/** Password authentication, only when OAuth2 is switched off (providers that still allow it). */
export interface PasswordAuthSettings {
  kind: 'password';
  user: string;
  password: string;
}

export type AuthSettings = PasswordAuthSettings | OAuthSettings;

/* Mail, queue, monitor ------------------------------------------------------ */

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
  /** Blob container where the instances coordinate each mailbox's limits (RELAY_LIMITS_SCOPE=app). */
  coordinationContainerName: string;
  /** How long a ledger claim holds without renewal (renewed every third of it while the send runs). */
  ledgerLeaseSeconds: number;
  /** Backoff of retry copies and the age after which a failing message is dead-lettered. */
  retry: { firstDelaySeconds: number; maxDelaySeconds: number; maxAgeSeconds: number };
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

/* Transport ---------------------------------------------------------------- */

/**
 * How a sender hands its messages over: `smtp` (SMTP AUTH XOAUTH2, the default), `graph`
 * (Microsoft Graph sendMail / drafts with upload sessions), or `smtp-then-graph` (SMTP, and
 * Graph after the server answered 535 5.7.139: SMTP AUTH disabled for the tenant or mailbox).
 */
export type TransportKind = 'smtp' | 'graph' | 'smtp-then-graph';

/** What the Graph transport needs beside the sender's app registration (the same credential as SMTP). */
export type GraphPermissionGrant = 'auto' | 'rbac' | 'entra';

export interface GraphSettings {
  /** Microsoft Graph's origin (GRAPH_URL), e.g. https://graph.microsoft.com. */
  url: string;
  /** The client-credentials scope for Graph: `${url}/.default` (its own token, not the SMTP one). */
  scope: string;
  /** sendMail's saveToSentItems (GRAPH_SAVE_TO_SENT_ITEMS; Graph's own default is true). */
  saveToSentItems: boolean;
  /** How Mail.Send is granted (GRAPH_PERMISSION_GRANT): what the doctor expects of the token's roles. */
  permissionGrant: GraphPermissionGrant;
  /** Concurrent Graph requests per mailbox in this process (Graph allows 4). */
  concurrency: number;
  /** How long one Graph request may take (each upload PUT is its own request), in ms. */
  requestTimeoutMs: number;
}

export interface TransportSettings {
  kind: TransportKind;
  graph: GraphSettings;
}

/* Senders ------------------------------------------------------------------ */

/**
 * One sender: a mailbox with its app registration, its SMTP server and its limits. The
 * default one comes from the single-sender settings, the others from RELAY_SENDERS; all
 * code below the settings takes "a sender's settings" in these same types.
 */
export interface SenderSettings {
  id: string;
  smtp: SmtpSettings;
  auth: AuthSettings;
  mail: MailSettings;
  /** The sender's transport; absent: smtp (as before issue 15). */
  transport?: TransportSettings;
}

export interface RelayConfig {
  smtp: SmtpSettings;
  auth: AuthSettings;
  mail: MailSettings;
  queue: QueueSettings;
  monitor: MonitorSettings;
  /** The default sender's transport (RELAY_TRANSPORT, GRAPH_*); absent: smtp. */
  transport?: TransportSettings;
  /** The senders RELAY_SENDERS adds beside the default one (absent or empty: the default sender only). */
  senders?: SenderSettings[];
}
