/**
 * The embedded local default: every component the relay talks to, real and on
 * loopback, wired together — Azurite (queues and blobs), an HTTPS OAuth2 token
 * endpoint shaped like Microsoft Entra, and an SMTP server with STARTTLS that
 * checks each XOAUTH2 token and stores what it accepts as .eml files.
 *
 * `settings` are the app settings that point the relay at them: the same names
 * as in Azure, so the same code runs against Microsoft 365 with real values.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalCertificates, type LocalCertificates } from './certs';
import { LocalTokenServer } from './tokenServer';
import { LocalSmtpServer } from './smtpServer';
import { LocalAzurite } from './azurite';

export const LOCAL_TENANT_ID = '7a1c0de0-0000-4000-8000-00000000cafe';
export const LOCAL_CLIENT_ID = '5e4d0000-0000-4000-8000-0000000000a1';
export const LOCAL_MAILBOX = 'relay@example.com';

export interface LocalStackOptions {
  /** Folder for certificates, received mail and (unless inMemory) Azurite's data; omitted: a temporary folder, removed by close(). */
  dir?: string;
  /** Keep Azurite's data in memory (tests) instead of under dir. */
  inMemory?: boolean;
  /** Fixed ports for the local run (so `func start` can use the same settings); 0/undefined = any free port. */
  ports?: { queue?: number; blob?: number; smtp?: number; token?: number };
  /** Start the SMTP server without AUTH (to show the relay refusing to send). */
  smtpOfferAuth?: boolean;
  /** Keep the same client secret across runs (the local run stores it); random when omitted. */
  clientSecret?: string;
}

/** The app settings the stack always writes, so that code reading one by name gets a string. */
type LocalStackSettingName =
  | 'AzureWebJobsStorage'
  | 'SMTP_HOST'
  | 'SMTP_PORT'
  | 'SMTP_SECURITY'
  | 'TLS_EXTRA_CA_FILE'
  | 'OAUTH2_ENABLED'
  | 'OAUTH2_TOKEN_URL'
  | 'OAUTH2_CLIENT_ID'
  | 'OAUTH2_CLIENT_SECRET'
  | 'OAUTH2_SCOPES'
  | 'SMTP_USER'
  | 'MAIL_FROM'
  | 'RELAY_QUEUE_NAME'
  | 'RELAY_DEADLETTER_QUEUE_NAME'
  | 'RELAY_DEADLETTER_CONTAINER';
export type LocalStackSettings = Record<string, string> & Record<LocalStackSettingName, string>;

export interface LocalStack {
  /** The stack's folder (options.dir, or its temporary one). */
  dir: string;
  certs: LocalCertificates;
  azurite: LocalAzurite;
  tokenServer: LocalTokenServer;
  smtpServer: LocalSmtpServer;
  maildir: string;
  clientSecret: string;
  /** App settings for the relay (names as in local.settings.json / Azure app settings). */
  settings: LocalStackSettings;
  close(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'oauth2-smtp-relay-'));
  // A temporary folder goes with the stack; a given one (the local run's .local) stays.
  const removeDir = () => options.dir === undefined && rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const maildir = join(dir, 'mail');
  mkdirSync(maildir, { recursive: true });
  let certs: LocalCertificates;
  try {
    certs = await createLocalCertificates(join(dir, 'certs'));
  } catch (error) {
    removeDir();
    throw error;
  }
  const tls = { certPem: certs.certPem, keyPem: certs.keyPem };
  const clientSecret = options.clientSecret ?? `local~${randomBytes(18).toString('base64url')}`;

  // close() returns a promise or nothing: awaited either way.
  const started: Array<{ close(): unknown }> = [];
  try {
    const azurite = await LocalAzurite.start({
      location: options.inMemory ? undefined : join(dir, 'azurite'),
      queuePort: options.ports?.queue,
      blobPort: options.ports?.blob,
    });
    started.push({ close: () => azurite.stop() });
    const tokenServer = await LocalTokenServer.start({
      tls,
      port: options.ports?.token,
      tenantId: LOCAL_TENANT_ID,
      clients: [{ clientId: LOCAL_CLIENT_ID, clientSecret }],
    });
    started.push(tokenServer);
    const smtpServer = await LocalSmtpServer.start({
      tls,
      port: options.ports?.smtp,
      authorizedMailboxes: [LOCAL_MAILBOX],
      verifyToken: (token) => tokenServer.verifyAccessToken(token),
      offerAuth: options.smtpOfferAuth ?? true,
      maildir,
    });
    started.push(smtpServer);

    const settings: LocalStackSettings = {
      AzureWebJobsStorage: azurite.connectionString,
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtpServer.port),
      SMTP_SECURITY: 'starttls',
      TLS_EXTRA_CA_FILE: certs.caFile,
      OAUTH2_ENABLED: 'true',
      OAUTH2_TOKEN_URL: tokenServer.tokenUrl(),
      OAUTH2_CLIENT_ID: LOCAL_CLIENT_ID,
      OAUTH2_CLIENT_SECRET: clientSecret,
      OAUTH2_SCOPES: 'https://outlook.office365.com/.default',
      SMTP_USER: LOCAL_MAILBOX,
      MAIL_FROM: LOCAL_MAILBOX,
      RELAY_QUEUE_NAME: 'outbound-mail',
      RELAY_DEADLETTER_QUEUE_NAME: 'outbound-mail-deadletter',
      RELAY_DEADLETTER_CONTAINER: 'outbound-mail-deadletter',
    };
    return {
      dir,
      certs,
      azurite,
      tokenServer,
      smtpServer,
      maildir,
      clientSecret,
      settings,
      async close() {
        for (const component of started.reverse()) await component.close();
        removeDir();
      },
    };
  } catch (error) {
    for (const component of started.reverse()) await Promise.resolve(component.close()).catch(() => undefined);
    removeDir();
    throw error;
  }
}
