/**
 * A local "tenant" for diagnosis tests: the Entra-shaped token endpoint and the
 * Exchange-shaped SMTP server, with relay settings pointing at them. Tests
 * break one setup step at a time (settings overrides, server state) and check
 * that the diagnosis names that step.
 */
import { LocalTokenServer } from '../../local/tokenServer';
import { LocalSmtpServer, type LocalSmtpServerOptions } from '../../local/smtpServer';
import { sharedCertificates } from './localHelpers';

export const TENANT_ID = '7a1c0de0-0000-4000-8000-00000000d0c7';
export const CLIENT_ID = '5e4d0000-0000-4000-8000-0000000000d1';
export const CLIENT_SECRET = 'Zq8Q~local-doctor-secret-value.1234';
export const MAILBOX = 'relay@contoso.example';
export const OTHER_TENANT_ID = '11111111-2222-4333-8444-555555555555';
export const OTHER_CLIENT_ID = '99999999-8888-4777-8666-555555555555';

export interface LocalTenant {
  tokenServer: LocalTokenServer;
  smtpServer: LocalSmtpServer;
  caFile: string;
  /** Relay settings for a correct setup, with `overrides` applied (undefined removes a setting). */
  settings(overrides?: Record<string, string | undefined>): Record<string, string>;
  /** Another SMTP server on the same certificates (no AUTH, other mailboxes...). */
  extraSmtpServer(options: Partial<LocalSmtpServerOptions>): Promise<LocalSmtpServer>;
  close(): Promise<void>;
}

export async function startLocalTenant(): Promise<LocalTenant> {
  const certs = await sharedCertificates();
  const tls = { certPem: certs.certPem, keyPem: certs.keyPem };
  const tokenServer = await LocalTokenServer.start({ tls, tenantId: TENANT_ID, clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }] });
  const verifyToken = (token: string) => tokenServer.verifyAccessToken(token);
  const smtpServer = await LocalSmtpServer.start({ tls, authorizedMailboxes: [MAILBOX], verifyToken });
  const extra: LocalSmtpServer[] = [];
  return {
    tokenServer,
    smtpServer,
    caFile: certs.caFile,
    settings(overrides = {}) {
      const base: Record<string, string | undefined> = {
        AzureWebJobsStorage: 'UseDevelopmentStorage=true',
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtpServer.port),
        SMTP_SECURITY: 'starttls',
        SMTP_CONNECTION_TIMEOUT_MS: '5000',
        SMTP_GREETING_TIMEOUT_MS: '5000',
        TLS_EXTRA_CA_FILE: certs.caFile,
        OAUTH2_TOKEN_URL: tokenServer.tokenUrl(),
        OAUTH2_CLIENT_ID: CLIENT_ID,
        OAUTH2_CLIENT_SECRET: CLIENT_SECRET,
        OAUTH2_SCOPES: 'https://outlook.office.com/.default',
        SMTP_USER: MAILBOX,
        ...overrides,
      };
      return Object.fromEntries(Object.entries(base).filter((entry): entry is [string, string] => entry[1] !== undefined));
    },
    async extraSmtpServer(options) {
      const server = await LocalSmtpServer.start({ tls, authorizedMailboxes: [MAILBOX], verifyToken, ...options });
      extra.push(server);
      return server;
    },
    async close() {
      for (const server of extra) await server.close();
      await smtpServer.close();
      await tokenServer.close();
    },
  };
}
