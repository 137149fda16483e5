/**
 * The mail sender against the local Exchange-shaped SMTP server and the local
 * Entra-shaped token endpoint (local/): pooling, token reuse, the one retry after
 * a refused token, never sending unauthenticated, TLS checks, Exchange replies.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { BlobServiceClient } from '@azure/storage-blob';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { LocalAzurite } from '../../../local/azurite';
import { createLocalCertificates, type LocalCertificates } from '../../../local/certs';
import { LocalSmtpServer, type LocalSmtpServerOptions } from '../../../local/smtpServer';
import { LocalTokenServer } from '../../../local/tokenServer';
import type { MicrosoftOAuthSettings, OAuthClientSettings, OAuthSettings, SmtpSettings } from '../../../src/settings';
import { AttachmentBlobs } from '../../../src/delivery/attachmentBlobs';
import { toMailOptions } from '../../../src/message/compose';
import { parseQueueMessage } from '../../../src/message/validate';
import { createMailSender, type MailSender, type MailSenderOptions } from '../../../src/smtp';
import { createTokenProvider, type TokenCache } from '../../../src/token';
import { rejection } from '../../support/rejection';

const TENANT = '3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a99';
const CLIENT_ID = '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d';
const SECRET = 'Lc7~smtp.test-secret_value_9876';
const MAILBOX = 'relay@contoso.example';
const RECIPIENT = 'someone@fabrikam.example';

let certs: LocalCertificates;
let tokenServer: LocalTokenServer;
const cleanups: Array<() => Promise<void> | void> = [];

before(async () => {
  certs = await createLocalCertificates(await mkdtemp(path.join(os.tmpdir(), 'relay-smtp-test-')));
  tokenServer = await LocalTokenServer.start({ tls: certs, tenantId: TENANT, clients: [{ clientId: CLIENT_ID, clientSecret: SECRET }] });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
after(async () => {
  await tokenServer.close();
});

type MicrosoftSecretSettings = MicrosoftOAuthSettings & OAuthClientSettings & { clientSecret: string };

function oauth(overrides: Partial<MicrosoftSecretSettings> = {}): OAuthSettings {
  const settings: MicrosoftSecretSettings = {
    provider: 'microsoft',
    tenantId: TENANT,
    authorityHost: tokenServer.url,
    tokenUrl: tokenServer.tokenUrl(),
    disableInstanceDiscovery: true,
    clientId: CLIENT_ID,
    clientSecret: SECRET,
    scopes: ['https://outlook.office365.com/.default'],
    refreshMarginMs: 10 * 60_000,
    ...overrides,
  };
  return { ...settings, kind: 'clientSecret', source: { kind: 'setting', clientSecret: settings.clientSecret } };
}

function smtpSettings(port: number, overrides: Partial<SmtpSettings> = {}): SmtpSettings {
  return {
    host: '127.0.0.1',
    port,
    security: 'starttls',
    extraCa: certs.caPem,
    poolSize: 3,
    rateLimitPerMinute: 0,
    rateLimitWindowMs: 60_000,
    dailyRecipientLimit: 0,
    dailyRecipientWindowMs: 86_400_000,
    limitsScope: 'instance',
    rateLimitMaxWaitMs: 30_000,
    throttleBackoffMs: 60_000,
    connectionTimeoutMs: 10_000,
    greetingTimeoutMs: 10_000,
    socketTimeoutMs: 30_000,
    ...overrides,
  };
}

async function startSmtp(extra: Partial<LocalSmtpServerOptions> = {}): Promise<LocalSmtpServer> {
  const server = await LocalSmtpServer.start({
    tls: certs,
    authorizedMailboxes: [MAILBOX],
    verifyToken: (token) => tokenServer.verifyAccessToken(token),
    ...extra,
  });
  cleanups.push(() => server.close());
  return server;
}

function tokens(overrides: Partial<MicrosoftSecretSettings> = {}): TokenCache {
  return createTokenProvider(oauth(overrides), { extraCa: certs.caPem });
}

function sender(options: Partial<MailSenderOptions> & { smtp: SmtpSettings }): MailSender {
  const created = createMailSender({ user: MAILBOX, ...options });
  cleanups.push(() => created.close());
  return created;
}

const message = (subject = 'Relay test', to: string | string[] = RECIPIENT) => ({
  from: MAILBOX,
  to,
  subject,
  text: 'Hello from the relay tests.',
});

describe('createMailSender: delivery over one pool', () => {
  it('fetches the token once and reuses one connection for many messages', async () => {
    const server = await startSmtp();
    const cache = tokens();
    const mail = sender({ smtp: smtpSettings(server.port), tokens: cache });
    const requestsBefore = tokenServer.tokenRequests;

    for (let i = 0; i < 10; i++) {
      const result = await mail.send(message(`message ${i}`));
      assert.match(result.response, /^250 /);
      assert.deepEqual(result.accepted, [RECIPIENT]);
      assert.deepEqual(result.rejected, []);
      assert.ok(result.messageId);
    }

    assert.equal(server.received.length, 10);
    assert.ok(
      server.received.every((received) => received.user === MAILBOX),
      'XOAUTH2 user= is the mailbox',
    );
    assert.equal(server.connectionsOpened, 1);
    assert.equal(server.authAttempts, 1);
    assert.equal(cache.stats.fetches, 1);
    assert.equal(tokenServer.tokenRequests - requestsBefore, 1);
    assert.deepEqual(mail.stats, { messagesSent: 10, connectionsOpened: 1, authentications: 1, tokenRetries: 0 });
  });

  it('never opens more connections than the pool size, with one token for all of them', async () => {
    const server = await startSmtp({ maxConnections: 3 });
    const cache = tokens();
    const mail = sender({ smtp: smtpSettings(server.port), tokens: cache });

    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => mail.send(message(`parallel ${i}`))));
    assert.equal(results.length, 30);
    assert.equal(server.received.length, 30);
    assert.ok(server.connectionsOpened <= 3, `opened ${server.connectionsOpened} connections`);
    assert.equal(cache.stats.fetches, 1);
  });

  it('delivers over implicit TLS (port 465 style)', async () => {
    const server = await startSmtp({ secure: true });
    const mail = sender({ smtp: smtpSettings(server.port, { security: 'implicit' }), tokens: tokens() });
    await mail.send(message());
    assert.equal(server.received.length, 1);
  });

  it('verify() connects, secures and authenticates without sending', async () => {
    const server = await startSmtp();
    const mail = sender({ smtp: smtpSettings(server.port), tokens: tokens() });
    await mail.verify();
    assert.equal(server.authAttempts, 1);
    assert.equal(server.authFailures, 0);
    assert.equal(server.received.length, 0);
  });

  it('partial success resolves and reports the rejected recipients', async () => {
    const server = await startSmtp();
    server.rejectRecipient('ghost@fabrikam.example', {
      code: 550,
      message: '5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient ghost@fabrikam.example not found by SMTP address lookup',
    });
    const mail = sender({ smtp: smtpSettings(server.port), tokens: tokens() });
    const result = await mail.send(message('partial', [RECIPIENT, 'ghost@fabrikam.example']));
    assert.deepEqual(result.accepted, [RECIPIENT]);
    assert.deepEqual(result.rejected, ['ghost@fabrikam.example']);
    assert.equal(result.rejectedErrors?.[0]?.recipient, 'ghost@fabrikam.example');
    assert.match(result.rejectedErrors?.[0]?.response ?? '', /^550 5\.1\.10/);
    assert.deepEqual(server.received[0]?.envelope.rcptTo, [RECIPIENT]);
  });
});

describe('createMailSender: a refused token', () => {
  it('535 5.7.3 once: the token is dropped, a new one fetched, and the message delivered', async () => {
    const server = await startSmtp();
    const cache = tokens();
    const mail = sender({ smtp: smtpSettings(server.port), tokens: cache });
    await cache.getToken(); // the cached token the server is about to refuse
    server.failNext('auth', { code: 535, message: '5.7.3 Authentication unsuccessful [LO2P265CA0001.GBRP265.PROD.OUTLOOK.COM]' });

    const result = await mail.send(message());
    assert.match(result.response, /^250 /);
    assert.equal(server.received.length, 1);
    assert.equal(server.authFailures, 1);
    assert.equal(cache.stats.fetches, 2, 'one refresh');
    assert.equal(cache.stats.invalidations, 1);
    assert.equal(mail.stats.tokenRetries, 1);
  });

  it('535 again after the refresh: classified, no third attempt', async () => {
    const server = await startSmtp();
    const cache = tokens();
    const mail = sender({ smtp: smtpSettings(server.port), tokens: cache });
    server.failNext('auth', { code: 535, message: '5.7.3 Authentication unsuccessful [LO2P265CA0001.GBRP265.PROD.OUTLOOK.COM]' }, 2);

    const error = await rejection(mail.send(message()));
    assert.equal(error.reason, 'smtp_auth_rejected');
    assert.equal(error.kind, 'configuration');
    assert.match(error.providerReply ?? '', /^535 5\.7\.3/);
    assert.match(error.remedy ?? '', /SMTP\.SendAsApp/);
    assert.equal(server.received.length, 0);
    assert.equal(server.authAttempts, 2);
    assert.equal(cache.stats.fetches, 2);
  });

  it('a mailbox the app may not use is refused by the server and classified after one retry', async () => {
    const server = await startSmtp({ authorizedMailboxes: ['someone-else@contoso.example'] });
    const cache = tokens();
    const mail = sender({ smtp: smtpSettings(server.port), tokens: cache });
    const error = await rejection(mail.send(message()));
    assert.equal(error.reason, 'smtp_auth_rejected');
    assert.equal(server.authAttempts, 2);
    assert.equal(server.received.length, 0);
  });

  it('535 5.7.139 (SMTP AUTH disabled) is not retried: no token would fix it', async () => {
    const server = await startSmtp();
    const cache = tokens();
    const mail = sender({ smtp: smtpSettings(server.port), tokens: cache });
    server.failNext('auth', {
      code: 535,
      message:
        '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.',
    });
    const error = await rejection(mail.send(message()));
    assert.equal(error.reason, 'smtp_auth_disabled');
    assert.match(error.remedy ?? '', /Authenticated SMTP/);
    assert.equal(server.authAttempts, 1);
    assert.equal(cache.stats.fetches, 1);
  });

  it('a token endpoint failure surfaces as the token error, and nothing reaches the SMTP server', async () => {
    const server = await startSmtp();
    const mail = sender({ smtp: smtpSettings(server.port), tokens: tokens({ clientSecret: 'the-secret-id-not-its-value' }) });
    const error = await rejection(mail.send(message()));
    assert.equal(error.reason, 'invalid_client_secret');
    assert.equal(server.authAttempts, 0);
    assert.equal(server.received.length, 0);
  });

  it('never puts the token in an error', async () => {
    const server = await startSmtp();
    const cache = tokens();
    const mail = sender({ smtp: smtpSettings(server.port), tokens: cache });
    const token = (await cache.getToken()).token;
    server.failNext('auth', { code: 535, message: `5.7.3 Authentication unsuccessful, token was ${token}` }, 2);
    const error = await rejection(mail.send(message()));
    assert.ok(!JSON.stringify(error.toJSON()).includes(token));
    assert.ok(!error.message.includes(token));
  });

  it('535 with an attachment streamed from its blob: the retry delivers the whole file byte for byte', async () => {
    const azurite = await LocalAzurite.start();
    cleanups.push(() => azurite.stop());
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('outbound-mail-attachments');
    await container.createIfNotExists();
    const bytes = randomBytes(2 ** 20 + 7); // not a multiple of 3 or of any chunk size
    await container.getBlockBlobClient('reports/data.bin').uploadData(bytes);
    const server = await startSmtp();
    const cache = tokens();
    const mail = sender({ smtp: smtpSettings(server.port), tokens: cache });
    await cache.getToken(); // the cached token the server is about to refuse
    server.failNext('auth', { code: 535, message: '5.7.3 Authentication unsuccessful [LO2P265CA0001.GBRP265.PROD.OUTLOOK.COM]' });

    const settings = { user: MAILBOX, from: MAILBOX, allowedFrom: [], maxRecipients: 500 };
    const queued = parseQueueMessage(
      { to: RECIPIENT, subject: 'streamed', text: 'see attachment', attachments: [{ filename: 'data.bin', blob: 'reports/data.bin' }] },
      settings,
    );
    const resolved = await new AttachmentBlobs(container, 25 * 2 ** 20).resolve(queued);
    assert.ok(resolved.attachments[0]!.content instanceof Readable, 'the blob is streamed, not buffered');
    const result = await mail.send(toMailOptions(resolved, settings));

    assert.match(result.response, /^250 /);
    assert.equal(mail.stats.tokenRetries, 1);
    assert.equal(server.authFailures, 1);
    assert.equal(server.received.length, 1);
    const parsed = await simpleParser(server.received[0]!.raw);
    assert.equal(parsed.attachments.length, 1);
    assert.equal(parsed.attachments[0]!.filename, 'data.bin');
    assert.ok(parsed.attachments[0]!.content.equals(bytes), 'every byte arrives');
  });

  it('535 with a stream that cannot be opened again: no resend of an empty file, the message is retried later', async () => {
    const server = await startSmtp();
    const cache = tokens();
    const mail = sender({ smtp: smtpSettings(server.port), tokens: cache });
    await cache.getToken();
    server.failNext('auth', { code: 535, message: '5.7.3 Authentication unsuccessful [LO2P265CA0001.GBRP265.PROD.OUTLOOK.COM]' });
    const content = Readable.from([Buffer.alloc(1000, 1), Buffer.alloc(1000, 2)], { objectMode: false });

    const error = await rejection(mail.send({ ...message('read'), attachments: [{ filename: 'a.bin', content }] }));
    assert.equal(error.reason, 'smtp_auth_rejected');
    assert.equal(error.kind, 'transient');
    assert.equal(server.authAttempts, 1);
    assert.equal(server.received.length, 0);
    assert.equal(cache.stats.invalidations, 1, 'the refused token is still dropped');
  });

  it('a message the server refuses has its unread attachment streams closed', async () => {
    const server = await startSmtp();
    const mail = sender({ smtp: smtpSettings(server.port), tokens: tokens() });
    server.failNext('mail', { code: 550, message: '5.7.60 SMTP; Client does not have permissions to send as this sender' });
    const content = Readable.from([Buffer.alloc(1000)], { objectMode: false });
    const error = await rejection(mail.send({ ...message(), attachments: [{ filename: 'a.bin', content }] }));
    assert.equal(error.reason, 'send_as_denied');
    assert.equal(content.destroyed, true);
  });
});

describe('createMailSender: never unauthenticated', () => {
  it('a server that offers no AUTH gets nothing: smtp_auth_not_offered', async () => {
    const server = await startSmtp({ offerAuth: false });
    const mail = sender({ smtp: smtpSettings(server.port), tokens: tokens() });
    const error = await rejection(mail.send(message()));
    assert.equal(error.reason, 'smtp_auth_not_offered');
    assert.equal(error.kind, 'configuration');
    assert.equal(server.authAttempts, 0, 'no token was offered to it either');
    assert.equal(server.received.length, 0);
    assert.equal((await rejection(mail.verify())).reason, 'smtp_auth_not_offered');
  });

  it('even a server that would accept mail without AUTH receives nothing', async () => {
    let accepted = 0;
    const open = new SMTPServer({
      key: certs.keyPem,
      cert: certs.certPem,
      disabledCommands: ['AUTH'],
      authOptional: true,
      logger: false,
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => {
          accepted++;
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => open.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => open.close(() => resolve())));
    const port = (open.server.address() as AddressInfo).port;

    for (const options of [{ tokens: tokens() }, { password: { user: MAILBOX, password: 'app-password-value' } }]) {
      const mail = sender({ smtp: smtpSettings(port), ...options });
      const error = await rejection(mail.send(message()));
      assert.equal(error.reason, 'smtp_auth_not_offered');
    }
    assert.equal(accepted, 0);
  });

  it('password mode sends no password to a server that does not offer PLAIN or LOGIN', async () => {
    const server = await startSmtp(); // XOAUTH2 only, like Exchange Online
    const mail = sender({ smtp: smtpSettings(server.port), password: { user: MAILBOX, password: 'app-password-value' } });
    const error = await rejection(mail.send(message()));
    assert.equal(error.reason, 'smtp_auth_not_offered');
    assert.match(error.message, /XOAUTH2 but not PLAIN or LOGIN/);
    assert.equal(server.authAttempts, 0);
  });

  it('refuses to build a sender without credentials', () => {
    assert.throws(() => createMailSender({ smtp: smtpSettings(1), user: MAILBOX }));
    assert.throws(() => createMailSender({ smtp: smtpSettings(1), user: MAILBOX, password: { user: MAILBOX, password: '' } }));
  });
});

describe('createMailSender: password mode (OAuth2 off)', () => {
  for (const mechanism of ['PLAIN', 'LOGIN']) {
    it(`logs in with AUTH ${mechanism} and delivers`, async () => {
      const logins: Array<{ method: string; username?: string | null; password?: string | null }> = [];
      let delivered = 0;
      const server = new SMTPServer({
        key: certs.keyPem,
        cert: certs.certPem,
        authMethods: [mechanism],
        logger: false,
        onAuth(auth, _session, callback) {
          logins.push({ method: auth.method, username: auth.username, password: auth.password });
          if (auth.username === MAILBOX && auth.password === 'app-password-value') callback(null, { user: auth.username });
          else callback(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
        },
        onData(stream, _session, callback) {
          stream.resume();
          stream.on('end', () => {
            delivered++;
            callback();
          });
        },
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
      const port = (server.server.address() as AddressInfo).port;

      const mail = sender({ smtp: smtpSettings(port), password: { user: MAILBOX, password: 'app-password-value' } });
      await mail.send(message());
      assert.equal(delivered, 1);
      assert.deepEqual(logins, [{ method: mechanism, username: MAILBOX, password: 'app-password-value' }]);

      const wrong = sender({ smtp: smtpSettings(port), password: { user: MAILBOX, password: 'wrong-password' } });
      const error = await rejection(wrong.send(message()));
      assert.equal(error.reason, 'smtp_auth_rejected');
      assert.equal(delivered, 1);
    });
  }
});

describe('createMailSender: TLS and connection failures', () => {
  it('an untrusted certificate fails with smtp_tls_failed and sends nothing', async () => {
    const server = await startSmtp();
    const mail = sender({ smtp: smtpSettings(server.port, { extraCa: undefined }), tokens: tokens() });
    const error = await rejection(mail.send(message()));
    assert.equal(error.reason, 'smtp_tls_failed');
    assert.equal(error.kind, 'configuration');
    assert.match(error.message, /certificate/);
    assert.equal(server.authAttempts, 0);
    assert.equal(server.received.length, 0);
  });

  it('implicit TLS against a STARTTLS port fails with smtp_tls_failed', async () => {
    const server = await startSmtp();
    const mail = sender({ smtp: smtpSettings(server.port, { security: 'implicit' }), tokens: tokens() });
    assert.equal((await rejection(mail.send(message()))).reason, 'smtp_tls_failed');
  });

  it('a closed port fails with smtp_unreachable (transient)', async () => {
    const server = await startSmtp();
    const port = server.port;
    await server.close();
    const mail = sender({ smtp: smtpSettings(port), tokens: tokens() });
    const error = await rejection(mail.send(message()));
    assert.equal(error.reason, 'smtp_unreachable');
    assert.equal(error.kind, 'transient');
  });
});

describe('createMailSender: Exchange replies during the transaction', () => {
  const table = [
    {
      stage: 'mail' as const,
      reply: { code: 432, message: '4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded' },
      reason: 'smtp_throttled',
      kind: 'transient',
    },
    {
      stage: 'mail' as const,
      reply: { code: 550, message: '5.7.60 SMTP; Client does not have permissions to send as this sender' },
      reason: 'send_as_denied',
      kind: 'permanent',
    },
    {
      stage: 'data' as const,
      reply: {
        code: 554,
        message:
          '5.2.252 SendAsDenied; relay@contoso.example not allowed to send as boss@contoso.example; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied',
      },
      reason: 'send_as_denied',
      kind: 'permanent',
    },
    {
      stage: 'data' as const,
      reply: { code: 430, message: '4.2.0 STOREDRV.ClientSubmit; mailbox logon failure' },
      reason: 'mailbox_logon_failed',
      kind: 'configuration',
    },
    {
      stage: 'data' as const,
      reply: {
        code: 554,
        message: '5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception',
      },
      reason: 'quota_exceeded',
      kind: 'transient',
    },
    {
      stage: 'rcpt' as const,
      reply: { code: 550, message: '5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' },
      reason: 'recipients_rejected',
      kind: 'permanent',
    },
    { stage: 'rcpt' as const, reply: { code: 451, message: '4.4.0 DNS temporary failure' }, reason: 'smtp_transient_failure', kind: 'transient' },
  ];
  for (const row of table) {
    it(`${row.stage}: ${row.reply.code} ${row.reply.message.slice(0, 30)}… → ${row.reason}`, async () => {
      const server = await startSmtp();
      const mail = sender({ smtp: smtpSettings(server.port), tokens: tokens() });
      server.failNext(row.stage, row.reply);
      const error = await rejection(mail.send(message()));
      assert.equal(error.reason, row.reason);
      assert.equal(error.kind, row.kind);
      assert.equal(error.providerReply, `${row.reply.code} ${row.reply.message}`);
      // The sender stays usable: the next message goes through.
      await mail.send(message('next'));
      assert.equal(server.received.length, 1);
    });
  }

  it('a message over the size the server announces → message_too_large (permanent)', async () => {
    const server = await startSmtp({ sizeLimit: 10_000 });
    const mail = sender({ smtp: smtpSettings(server.port), tokens: tokens() });
    const error = await rejection(mail.send({ ...message(), text: 'x'.repeat(20_000) }));
    assert.equal(error.reason, 'message_too_large');
    assert.equal(error.kind, 'permanent');
    assert.equal(server.received.length, 0);
  });
});
