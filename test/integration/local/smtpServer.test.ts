import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import nodemailer from 'nodemailer';
import { LocalSmtpServer } from '../../../local/smtpServer';
import { LocalTokenServer } from '../../../local/tokenServer';
import type { LocalCertificates } from '../../../local/certs';
import { RawSmtpClient, sharedCertificates, tempDir, xoauth2 } from '../../support/localHelpers';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const MAILBOX = 'relay@contoso.example';

type SmtpFailure = Error & { code?: string; responseCode?: number; response?: string };

describe('LocalSmtpServer', () => {
  let certs: LocalCertificates;
  let tokens: LocalTokenServer;
  let goodToken: string;
  const started: LocalSmtpServer[] = [];

  before(async () => {
    certs = await sharedCertificates();
    tokens = await LocalTokenServer.start({ tls: certs, tenantId: TENANT, clients: [{ clientId: CLIENT, clientSecret: 'unused-here' }] });
    goodToken = await tokens.issueToken();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((server) => server.close()));
  });
  after(() => tokens.close());

  async function startSmtp(extra: Partial<Parameters<typeof LocalSmtpServer.start>[0]> = {}): Promise<LocalSmtpServer> {
    const server = await LocalSmtpServer.start({
      tls: certs,
      authorizedMailboxes: [MAILBOX],
      verifyToken: (token) => tokens.verifyAccessToken(token),
      ...extra,
    });
    started.push(server);
    return server;
  }

  function transport(server: LocalSmtpServer, opts: { token?: string; user?: string; pool?: boolean; secure?: boolean } = {}) {
    return nodemailer.createTransport({
      host: '127.0.0.1',
      port: server.port,
      secure: opts.secure ?? false,
      requireTLS: !(opts.secure ?? false),
      pool: opts.pool ?? false,
      maxConnections: 3,
      tls: { ca: certs.caPem, servername: 'localhost' },
      auth: { type: 'OAuth2', user: opts.user ?? MAILBOX, accessToken: opts.token ?? goodToken },
    });
  }

  const message = (to: string | string[] = 'someone@fabrikam.example') => ({
    from: MAILBOX,
    to,
    subject: 'Local stack check',
    text: 'Hello from the relay tests.',
  });

  async function sendFailure(server: LocalSmtpServer, opts: Parameters<typeof transport>[1] = {}, to?: string | string[]): Promise<SmtpFailure> {
    const mailer = transport(server, opts);
    try {
      await mailer.sendMail(message(to));
    } catch (error) {
      return error as SmtpFailure;
    } finally {
      mailer.close();
    }
    return assert.fail('sendMail should have failed');
  }

  it('accepts a pooled STARTTLS + XOAUTH2 submission and stores it as .eml', async () => {
    const maildir = await tempDir('relay-maildir-');
    const server = await startSmtp({ maildir });
    const mailer = transport(server, { pool: true });
    try {
      const infos = await Promise.all([mailer.sendMail(message()), mailer.sendMail(message(['a@fabrikam.example', 'b@fabrikam.example']))]);
      for (const info of infos) assert.match(info.response, /^250 2\.6\.0 /);
    } finally {
      mailer.close();
    }
    await server.waitForMessages(2, 2000);
    assert.equal(server.received.length, 2);
    const multi = server.received.find((m) => m.envelope.rcptTo.length === 2);
    assert.ok(multi);
    assert.deepEqual(multi.envelope, { mailFrom: MAILBOX, rcptTo: ['a@fabrikam.example', 'b@fabrikam.example'] });
    assert.equal(multi.user, MAILBOX);
    const file = multi.file ?? assert.fail('message stored as a file');
    assert.ok(file.startsWith(maildir) && file.endsWith('.eml'));
    const stored = await readFile(file);
    assert.deepEqual(stored, multi.raw);
    assert.match(stored.toString(), /Subject: Local stack check/);
    assert.equal(server.authAttempts, server.connectionsOpened, 'every pooled connection authenticated');
    assert.equal(server.authFailures, 0);
  });

  it('accepts implicit TLS submissions (port 465 style)', async () => {
    const server = await startSmtp({ secure: true });
    const mailer = transport(server, { secure: true });
    try {
      await mailer.sendMail(message());
    } finally {
      mailer.close();
    }
    assert.equal(server.received.length, 1);
  });

  it('rejects a wrong-audience, expired, role-less token or an unauthorized mailbox with 535 5.7.3', async () => {
    const server = await startSmtp();
    const cases = [
      { name: 'wrong audience', token: await tokens.issueToken({ aud: 'https://graph.microsoft.com' }) },
      { name: 'expired', token: await tokens.issueToken({ expiresInSeconds: -60 }) },
      { name: 'no SMTP.SendAsApp', token: await tokens.issueToken({ roles: [] }) },
      { name: 'garbage', token: 'not-a-token-at-all' },
      { name: 'mailbox not granted', token: goodToken, user: 'someone-else@contoso.example' },
    ];
    for (const { name, token, user } of cases) {
      const error = await sendFailure(server, { token, user });
      assert.equal(error.code, 'EAUTH', name);
      assert.equal(error.responseCode, 535, name);
      assert.match(error.response ?? '', /^535 5\.7\.3 Authentication unsuccessful/, name);
      assert.doesNotMatch(error.message, new RegExp(token.slice(0, 40).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), name);
    }
    assert.equal(server.authFailures, cases.length);
    assert.equal(server.received.length, 0);
  });

  it('refuses AUTH before STARTTLS and mail without AUTH, as Exchange does', async () => {
    const server = await startSmtp();
    const { client, greeting } = await RawSmtpClient.connect(server.port);
    try {
      assert.match(greeting, /^220 /);
      const plainEhlo = await client.command('EHLO client.test');
      assert.match(plainEhlo, /STARTTLS/);
      assert.doesNotMatch(plainEhlo, /AUTH/);
      assert.match(await client.command(`AUTH XOAUTH2 ${xoauth2(MAILBOX, goodToken)}`), /^5\d\d /);
      assert.equal(server.authAttempts, 0, 'the token never reached the verifier');

      await client.startTls(certs.caPem);
      const secureEhlo = await client.command('EHLO client.test');
      assert.match(secureEhlo, /AUTH XOAUTH2/);
      assert.match(await client.command(`MAIL FROM:<${MAILBOX}>`), /^530 5\.7\.57 Client not authenticated to send mail/);
      assert.match(await client.command(`AUTH XOAUTH2 ${xoauth2(MAILBOX, goodToken)}`), /^235 /);
      assert.match(await client.command(`MAIL FROM:<${MAILBOX}>`), /^250 /);
    } finally {
      client.close();
    }
  });

  it('with offerAuth:false advertises no AUTH and still refuses to accept mail', async () => {
    const server = await startSmtp({ offerAuth: false });
    const error = await sendFailure(server);
    assert.equal(error.responseCode, 530);
    assert.match(error.response ?? '', /^530 5\.7\.57 /);
    assert.equal(server.authAttempts, 0);
    assert.equal(server.received.length, 0);

    const { client } = await RawSmtpClient.connect(server.port);
    try {
      await client.command('EHLO client.test');
      await client.startTls(certs.caPem);
      assert.doesNotMatch(await client.command('EHLO client.test'), /AUTH/);
      assert.match(await client.command(`AUTH XOAUTH2 ${xoauth2(MAILBOX, goodToken)}`), /^5\d\d /);
    } finally {
      client.close();
    }
  });

  it('injects Exchange replies per stage, then behaves normally again', async () => {
    const server = await startSmtp();
    const cases: Array<{ stage: 'connect' | 'auth' | 'mail' | 'rcpt' | 'data'; code: number; message: string }> = [
      { stage: 'connect', code: 421, message: '4.3.2 Service not available, closing transmission channel' },
      { stage: 'auth', code: 535, message: '5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant.' },
      { stage: 'mail', code: 550, message: '5.7.60 SMTP; Client does not have permissions to send as this sender' },
      { stage: 'rcpt', code: 550, message: '5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' },
      { stage: 'data', code: 452, message: '4.3.1 Insufficient system resources' },
      { stage: 'data', code: 432, message: '4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded' },
      { stage: 'mail', code: 430, message: '4.2.0 STOREDRV; mailbox logon failure' },
    ];
    for (const { stage, code, message: text } of cases) {
      server.failNext(stage, { code, message: text });
      const error = await sendFailure(server);
      assert.equal(error.responseCode, code, stage);
      assert.equal(error.response, `${code} ${text}`, stage);
    }
    assert.equal(server.received.length, 0);
    const mailer = transport(server);
    try {
      await mailer.sendMail(message());
    } finally {
      mailer.close();
    }
    assert.equal(server.received.length, 1);
  });

  it('counts rcpt faults per recipient and rejects a blocked address every time', async () => {
    const server = await startSmtp();
    server.rejectRecipient('Gone@Fabrikam.example', { code: 550, message: '5.1.10 RESOLVER.ADR.RecipientNotFound; not found' });
    const first = await sendFailure(server, {}, ['gone@fabrikam.example']);
    assert.equal(first.responseCode, 550);
    const again = await sendFailure(server, {}, ['gone@fabrikam.example']);
    assert.equal(again.responseCode, 550);

    // Two recipients, two injected faults: both RCPTs fail, nodemailer reports no recipient accepted.
    server.failNext('rcpt', { code: 452, message: '4.5.3 Too many recipients' }, 2);
    const both = await sendFailure(server, {}, ['a@fabrikam.example', 'b@fabrikam.example']);
    assert.equal(both.code, 'EENVELOPE');

    // One fault, two recipients: the second is accepted and nodemailer delivers to it.
    server.failNext('rcpt', { code: 452, message: '4.5.3 Too many recipients' }, 1);
    const mailer = transport(server);
    try {
      const info = await mailer.sendMail(message(['a@fabrikam.example', 'b@fabrikam.example']));
      assert.deepEqual(info.rejected, ['a@fabrikam.example']);
      assert.deepEqual(info.accepted, ['b@fabrikam.example']);
    } finally {
      mailer.close();
    }
    assert.deepEqual(server.received[0]?.envelope.rcptTo, ['b@fabrikam.example']);
  });

  it('limits the messages per window per mailbox over all its connections: 432 4.3.2 STOREDRV.ClientSubmit at MAIL FROM', async () => {
    const server = await startSmtp({ rateLimit: { messages: 2, windowMs: 60_000 } });
    const clients: RawSmtpClient[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const { client } = await RawSmtpClient.connect(server.port);
        clients.push(client);
        await client.command('EHLO client.test');
        await client.startTls(certs.caPem);
        await client.command('EHLO client.test');
        assert.match(await client.command(`AUTH XOAUTH2 ${xoauth2(MAILBOX, goodToken)}`), /^235 /);
      }
      assert.match(await clients[0]!.command(`MAIL FROM:<${MAILBOX}>`), /^250 /);
      assert.match(await clients[1]!.command(`MAIL FROM:<${MAILBOX}>`), /^250 /);
      await clients[0]!.command('RSET');
      assert.match(await clients[0]!.command(`MAIL FROM:<${MAILBOX}>`), /^432 4\.3\.2 STOREDRV\.ClientSubmit; sender thread limit exceeded/);
      assert.equal(server.rateRejections, 1);
    } finally {
      for (const client of clients) client.close();
    }
  });

  it('counts the daily recipients over a rolling window that can be scaled down (dayMs)', async () => {
    const server = await startSmtp();
    server.limitMailbox(MAILBOX, { recipientsPerDay: 2, dayMs: 400 });
    const mail = transport(server);
    await mail.sendMail(message(['a@fabrikam.example', 'b@fabrikam.example']));
    const refused = await mail.sendMail(message()).then(
      () => undefined,
      (error: { response?: string }) => error,
    );
    assert.match(refused?.response ?? '', /^554 5\.2\.0 STOREDRV\.Submission\.Exception:SubmissionQuotaExceededException/);
    assert.equal(server.quotaRejections, 1);
    await new Promise((resolve) => setTimeout(resolve, 450));
    await mail.sendMail(message());
    assert.equal(server.received.length, 2, 'the budget reopened once the "day" passed');
  });

  it('drops the connection at a stage when asked', async () => {
    const server = await startSmtp();
    for (const stage of ['connect', 'auth', 'data'] as const) {
      server.failNext(stage, 'drop');
      const error = await sendFailure(server);
      assert.ok(['ECONNECTION', 'ESOCKET', 'EPROTOCOL'].includes(error.code ?? ''), `${stage}: ${error.code} ${error.message}`);
    }
    assert.equal(server.received.length, 0);
  });

  it('limits concurrent authenticated connections per mailbox as Exchange does: 421 4.3.2 at AUTH, then closes', async () => {
    const server = await startSmtp({ maxConnections: 2 });
    const clients: RawSmtpClient[] = [];
    const login = async () => {
      const { client } = await RawSmtpClient.connect(server.port);
      clients.push(client);
      await client.command('EHLO client.test');
      await client.startTls(certs.caPem);
      await client.command('EHLO client.test');
      return { client, reply: await client.command(`AUTH XOAUTH2 ${xoauth2(MAILBOX, goodToken)}`) };
    };
    try {
      for (let i = 0; i < 2; i++) assert.match((await login()).reply, /^235 /);
      const third = await login();
      assert.match(third.reply, /^421 4\.3\.2 The maximum number of concurrent connections has exceeded a limit, closing transmission channel/);
      assert.equal(server.connectionRejections, 1);
      assert.equal(server.peakConnections, 2);
      assert.match(await clients[0]!.command(`MAIL FROM:<${MAILBOX}>`), /^250 /, 'the connections within the limit still send');
      clients.shift()!.close();
      // Once one of the two is gone, a new connection may log in.
      let reply = '';
      for (let attempt = 0; attempt < 50 && !reply.startsWith('235'); attempt++) {
        reply = (await login()).reply;
        if (!reply.startsWith('235')) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.match(reply, /^235 /);
    } finally {
      for (const client of clients) client.close();
    }
  });

  it('rejects an oversized message with 552 5.3.4', async () => {
    const server = await startSmtp({ sizeLimit: 2000 });
    const mailer = transport(server);
    try {
      const error = await mailer.sendMail({ ...message(), text: 'x'.repeat(5000) }).then(
        () => assert.fail('should be refused'),
        (e: SmtpFailure) => e,
      );
      assert.equal(error.responseCode, 552);
    } finally {
      mailer.close();
    }
    assert.equal(server.received.length, 0);
  });

  it('waitForMessages rejects when nothing arrives in time', async () => {
    const server = await startSmtp();
    await assert.rejects(server.waitForMessages(1, 50), /expected 1 message/);
  });
});
