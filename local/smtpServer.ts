/**
 * A local SMTP submission server shaped like Exchange Online
 * (smtp.office365.com:587): STARTTLS before AUTH, AUTH XOAUTH2 only, the
 * bearer token checked by a verifier (normally LocalTokenServer.verifyAccessToken),
 * the XOAUTH2 user checked against the authorized mailboxes, and Exchange's
 * reply texts for the failures the relay must classify.
 *
 * Tests inject Exchange's transient and permanent replies per SMTP stage with
 * failNext() / rejectRecipient(), and switch on the conditions that produce the
 * providers' own replies: which apps may use the mailbox (setMailboxAccess), who
 * may send as whom, the Exchange or the Postfix way (enforceSender), a full mailbox
 * and the daily recipient limit (limitMailbox), basic authentication retired
 * (passwordLogin: 'retired'). Nothing secret is logged: tokens are only handed to
 * the verifier.
 *
 * With `gmail: true` the front is Gmail's (smtp.gmail.com) instead: a refused token gets
 * Gmail's XOAUTH2 error flow, a `334` whose base64 JSON says why
 * ({"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}), and after the
 * client's empty answer `535-5.7.8 Username and Password not accepted…` (the
 * xoauth2-protocol page); the token's `sub` must be the XOAUTH2 user and its scope Gmail's.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { Logger } from '../src/core/log';
import { installGmailXoauth2Error } from './gmailReplies';

export type SmtpStage = 'connect' | 'auth' | 'mail' | 'rcpt' | 'data';
export type SmtpReply = { code: number; message: string };
/**
 * A reply; 'drop' closes the connection at that stage without replying (for data:
 * after the final dot); 'drop-mid-data' closes it while the message body is
 * still arriving; { stallMs } answers that stage normally but only after stallMs
 * (a slow server: the client's timeouts fire first).
 */
export type SmtpFault = SmtpReply | 'drop' | 'drop-mid-data' | { stallMs: number };

export type TokenVerifier = (token: string) => Promise<{ ok: true; claims?: Record<string, unknown> } | { ok: false; reason: string }>;

/**
 * Who may send as whom, as the server enforces it:
 *  - 'exchange': Exchange Online takes any MAIL FROM and refuses the message after DATA with
 *    `554 5.2.252 SendAsDenied; <login> not allowed to send as <from>; STOREDRV.Submission.Exception:SendAsDeniedException…`;
 *  - 'postfix': Postfix's reject_sender_login_mismatch with the default smtpd_delay_reject=yes answers
 *    every RCPT TO with `553 5.7.1 <from>: Sender address rejected: not owned by user <login>`.
 * A login may always send as itself, and as the addresses granted to it.
 */
export interface SenderPolicy {
  style: 'exchange' | 'postfix';
  /** login → further addresses it may send as (Exchange: SendAs; Postfix: smtpd_sender_login_maps). */
  grants?: Record<string, string[]>;
}

/** Exchange Online's per-mailbox limits that refuse a submission after DATA. */
export interface MailboxLimits {
  /** Bytes of sent messages the mailbox holds (SMTP AUTH keeps a copy of each in Sent Items) before 554 5.2.2 mailbox full. */
  storageBytes?: number;
  /** Recipients per rolling 24 hours before 554 5.2.0 SubmissionQuotaExceeded (Exchange Online: 10,000). */
  recipientsPerDay?: number;
  /** The rolling "day" of recipientsPerDay in ms (default 24 hours; shorter for scaled-down tests). */
  dayMs?: number;
}

export interface LocalSmtpServerOptions {
  tls: { certPem: string; keyPem: string };
  port?: number;
  /** false (default) = plain connect + STARTTLS (port 587 style); true = implicit TLS (465 style). */
  secure?: boolean;
  /** Mailboxes the app may authenticate as (XOAUTH2 user=). Compared case-insensitively. */
  authorizedMailboxes: string[];
  verifyToken: TokenVerifier;
  /** false = no AUTH advertised or accepted, to prove the relay refuses to send unauthenticated. */
  offerAuth?: boolean;
  /** Store each accepted message as <maildir>/<timestamp>-<id>.eml. */
  maildir?: string;
  /** Largest accepted message in bytes (advertised with SIZE); default 35 MB like Exchange Online. */
  sizeLimit?: number;
  /**
   * Concurrent authenticated connections per mailbox, over all connections (Exchange Online allows 3); one more is
   * refused at AUTH with `421 4.3.2 The maximum number of concurrent connections has exceeded a limit, closing
   * transmission channel` and closed. Default unlimited.
   */
  maxConnections?: number;
  /**
   * Messages per window per mailbox (Exchange Online: 30 a minute), over all connections; one more is refused at
   * MAIL FROM with `432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded`. Default unlimited.
   */
  rateLimit?: { messages: number; windowMs: number };
  /** 'retired': AUTH LOGIN is offered (as Exchange Online does) but answered `550 5.7.30`, as after basic auth was switched off. */
  passwordLogin?: 'retired';
  /** Optional event log (no tokens or message contents are ever passed to it). */
  log?: Logger;
  /** Gmail's front: its XOAUTH2 error flow (334 JSON challenge, then 535-5.7.8) and its checks of the token's sub and scope. */
  gmail?: boolean;
}

/** Gmail's scope for IMAP/POP/SMTP. */
const GMAIL_SCOPE = 'https://mail.google.com/';

/** A refusal Gmail answers with its 334 challenge (status 400: the token lacks the scope; 401: the token is not valid). */
class GmailChallenge extends Error {
  constructor(readonly status: '400' | '401') {
    super('gmail challenge');
  }
}

export interface ReceivedMessage {
  envelope: { mailFrom: string; rcptTo: string[] };
  raw: Buffer;
  file?: string;
  /** The mailbox the connection authenticated as. */
  user: string;
  receivedAt: Date;
}

const HOST_TAG = 'LO2P265CA0001.GBRP265.PROD.OUTLOOK.LOCAL';
const DEFAULT_SIZE_LIMIT = 35 * 1024 * 1024;

/** An error smtp-server turns into the reply `${responseCode} ${message}`. */
function smtpError(reply: SmtpReply): Error & { responseCode: number } {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

/** An injected 'drop' ended the connection mid-DATA: there is nobody left to reply to. */
class ConnectionDropped extends Error {
  constructor() {
    super('the connection was dropped by an injected fault');
  }
}

const exchangeStamp = () => `[${HOST_TAG} ${new Date().toISOString()}]`;

export class LocalSmtpServer {
  readonly received: ReceivedMessage[] = [];
  connectionsOpened = 0;
  authAttempts = 0;
  authFailures = 0;
  /** Messages refused with 432 4.3.2 for exceeding `rateLimit`. */
  rateRejections = 0;
  /** Connections refused with 421 4.3.2 for exceeding `maxConnections`. */
  connectionRejections = 0;
  /** Messages refused with 554 5.2.0 SubmissionQuotaExceeded for exceeding the daily recipients of `limitMailbox`. */
  quotaRejections = 0;
  /** Most authenticated connections one mailbox had open at once. */
  peakConnections = 0;
  /** Messages refused after DATA by the sender policy or the mailbox limits (SendAsDenied, mailbox full, daily quota). */
  refusedSubmissions = 0;
  private readonly submissions = new Map<string, number[]>();

  private readonly faults = new Map<SmtpStage, SmtpFault[]>();
  private readonly rejectedRecipients = new Map<string, SmtpReply>();
  private readonly authorized: Set<string>;
  /** session id → authenticated mailbox, for the per-mailbox connection limit. */
  private readonly authenticatedSessions = new Map<string, string>();
  private readonly waiters = new Set<() => void>();
  /** App ids with a service principal and FullAccess on the mailboxes; undefined: any app the token names. */
  private mailboxAccess: Set<string> | undefined;
  /** App id → the mailboxes its tokens are good for; once any app is listed, every app may use only its own. */
  private readonly appMailboxes = new Map<string, Set<string>>();
  private senderPolicy: SenderPolicy | undefined;
  private readonly limits = new Map<string, MailboxLimits>();
  /** Per mailbox: what its Sent Items hold, and when each recipient was submitted. */
  private readonly sentBytes = new Map<string, number>();
  private readonly sentRecipients = new Map<string, number[]>();
  private server!: SMTPServer;
  private boundPort = 0;

  private constructor(private readonly opts: LocalSmtpServerOptions) {
    this.authorized = new Set(opts.authorizedMailboxes.map((mailbox) => mailbox.toLowerCase()));
  }

  static async start(opts: LocalSmtpServerOptions): Promise<LocalSmtpServer> {
    const instance = new LocalSmtpServer(opts);
    if (opts.maildir) await mkdir(opts.maildir, { recursive: true });
    await instance.listen();
    return instance;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Answer the next `times` commands of `stage` with `reply`, or drop the connection there. */
  failNext(stage: SmtpStage, reply: SmtpFault, times = 1): void {
    const queue = this.faults.get(stage) ?? [];
    for (let i = 0; i < times; i++) queue.push(reply);
    this.faults.set(stage, queue);
  }

  /** Reject RCPT TO for this address every time (a permanent per-recipient failure). */
  rejectRecipient(address: string, reply: SmtpReply): void {
    this.rejectedRecipients.set(address.toLowerCase(), reply);
  }

  /**
   * The apps Exchange lets use the mailboxes: a service principal (New-ServicePrincipal) with FullAccess
   * (Add-MailboxPermission). A token of any other app is refused with 535 5.7.3. undefined: every app.
   */
  setMailboxAccess(appIds: string[] | undefined): void {
    this.mailboxAccess = appIds ? new Set(appIds.map((id) => id.toLowerCase())) : undefined;
  }

  /**
   * Several apps and mailboxes, as Exchange Online keeps them: each app's service principal has
   * FullAccess on its own mailboxes only, so a token of app A used for mailbox B is refused with
   * 535 5.7.3. The mailboxes become authorized ones.
   */
  grantMailboxes(appId: string, mailboxes: string[]): void {
    const own = this.appMailboxes.get(appId.toLowerCase()) ?? new Set<string>();
    for (const mailbox of mailboxes) {
      own.add(mailbox.toLowerCase());
      this.authorized.add(mailbox.toLowerCase());
    }
    this.appMailboxes.set(appId.toLowerCase(), own);
  }

  /** Enforce who may send as whom (undefined: anyone as anyone, the default). */
  enforceSender(policy: SenderPolicy | undefined): void {
    this.senderPolicy = policy;
  }

  /** Exchange's per-mailbox limits (undefined removes them and forgets what was counted). */
  limitMailbox(mailbox: string, limits: MailboxLimits | undefined): void {
    const key = mailbox.toLowerCase();
    if (limits) this.limits.set(key, limits);
    else this.limits.delete(key);
    this.sentBytes.delete(key);
    this.sentRecipients.delete(key);
  }

  /** Resolve once at least `count` messages have been accepted. */
  waitForMessages(count: number, timeoutMs: number): Promise<void> {
    if (this.received.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.received.length < count) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`expected ${count} message(s) within ${timeoutMs} ms, got ${this.received.length}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  async close(): Promise<void> {
    // Sockets first: smtp-server otherwise waits up to 30 s for idle pooled clients.
    for (const connection of this.server.connections as Set<{ _socket?: { destroy(): void } }>) connection._socket?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ------------------------------------------------------------ smtp-server

  private listen(): Promise<void> {
    const offerAuth = this.opts.offerAuth ?? true;
    if (this.opts.gmail) installGmailXoauth2Error();
    this.server = new SMTPServer({
      secure: this.opts.secure ?? false,
      key: this.opts.tls.keyPem,
      cert: this.opts.tls.certPem,
      name: this.opts.gmail ? 'smtp.gmail.local' : HOST_TAG,
      // Read by gmailReplies.ts' XOAUTH2 error step (not an smtp-server option).
      ...(this.opts.gmail ? { gmailReplies: true } : {}),
      banner: this.opts.gmail ? 'ESMTP ready (local Gmail-shaped test double)' : 'Microsoft ESMTP MAIL Service ready (local test double)',
      // Exchange Online offers "AUTH LOGIN XOAUTH2".
      authMethods: this.opts.passwordLogin ? ['LOGIN', 'XOAUTH2'] : ['XOAUTH2'],
      disabledCommands: offerAuth ? [] : ['AUTH'],
      // Authentication is enforced in onMailFrom, so the reply is Exchange's even when AUTH is not offered.
      authOptional: true,
      size: this.opts.sizeLimit ?? DEFAULT_SIZE_LIMIT,
      disableReverseLookup: true,
      logger: false,
      onConnect: (session, callback) => this.onConnect(session, callback),
      // Like Exchange Online, AUTH is only advertised (and accepted) once the connection is encrypted.
      onSecure: (_socket, session, callback) => {
        session.disabledCommands = offerAuth ? [] : ['AUTH'];
        callback();
      },
      onAuth: (auth, session, callback) => {
        if (this.opts.gmail && auth.method === 'XOAUTH2') {
          this.onAuth(auth.username ?? '', auth.accessToken ?? '', session).then(
            (user) => callback(null, { user }),
            (error: Error) =>
              // smtp-server answers a response without `user` with 334 <base64 JSON of data>, then 535 after the client's empty line.
              error instanceof GmailChallenge ? callback(null, { data: { status: error.status, schemes: 'Bearer', scope: GMAIL_SCOPE } }) : callback(error),
          );
          return;
        }
        if (auth.method !== 'XOAUTH2') {
          this.authAttempts++;
          this.authFailures++;
          return callback(smtpError({ code: 550, message: `5.7.30 Basic authentication is not supported for Client Submission. ${exchangeStamp()}` }));
        }
        this.onAuth(auth.username ?? '', auth.accessToken ?? '', session).then(
          (user) => callback(null, { user }),
          (error: Error) => callback(error),
        );
      },
      onMailFrom: (address, session, callback) => this.onMailFrom(address, session, callback),
      onRcptTo: (address, session, callback) => this.onRcptTo(address, session, callback),
      onData: (stream, session, callback) => {
        this.onData(stream, session).then(
          () => callback(null, `2.6.0 <${randomUUID()}@${HOST_TAG}> [InternalId=1] Queued mail for delivery`),
          (error: Error) => {
            // A dropped connection gets no reply: the client sees the socket close.
            if (!(error instanceof ConnectionDropped)) callback(error);
          },
        );
      },
      onClose: (session) => {
        this.authenticatedSessions.delete(session.id);
      },
    });
    this.server.on('error', (error) => this.opts.log?.warn('local SMTP server error', { error: error.message }));
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.server.once('error', onError);
      this.server.listen(this.opts.port ?? 0, '127.0.0.1', () => {
        this.server.server.off('error', onError);
        const address = this.server.server.address();
        this.boundPort = typeof address === 'object' && address ? address.port : 0;
        resolve();
      });
    });
  }

  /** Take the next injected fault for a stage; 'drop' destroys the connection and returns 'dropped'; a stall waits first. */
  private async takeFault(stage: SmtpStage, session: SMTPServerSession): Promise<SmtpReply | 'dropped' | undefined> {
    const fault = this.faults.get(stage)?.shift();
    if (fault === 'drop' || fault === 'drop-mid-data') {
      this.dropConnection(session);
      return 'dropped';
    }
    if (fault !== undefined && 'stallMs' in fault) {
      await new Promise((resolve) => setTimeout(resolve, fault.stallMs));
      // The client gave up meanwhile: nothing more to answer, and nothing was accepted.
      return this.isConnected(session) ? undefined : 'dropped';
    }
    return fault;
  }

  private isConnected(session: SMTPServerSession): boolean {
    for (const connection of this.server.connections as Set<{ id: string; _socket?: { destroyed?: boolean } }>) {
      if (connection.id === session.id) return connection._socket?.destroyed === false;
    }
    return false;
  }

  private dropConnection(session: SMTPServerSession): void {
    for (const connection of this.server.connections as Set<{ id: string; _socket?: { destroy(): void } }>) {
      if (connection.id === session.id) connection._socket?.destroy();
    }
  }

  private onConnect(session: SMTPServerSession, callback: (error?: Error | null) => void): void {
    this.connectionsOpened++;
    if (!this.opts.secure) session.disabledCommands = ['AUTH'];
    void this.takeFault('connect', session).then((fault) => {
      if (fault === 'dropped') return;
      callback(fault ? smtpError(fault) : null);
    });
  }

  private async onAuth(username: string, accessToken: string, session: SMTPServerSession): Promise<string> {
    this.authAttempts++;
    const fault = await this.takeFault('auth', session);
    if (fault === 'dropped') return new Promise<never>(() => {});
    const fail = (reason: string, reply?: SmtpReply): never => {
      this.authFailures++;
      this.opts.log?.info('local SMTP: authentication refused', { user: username, reason });
      throw smtpError(reply ?? { code: 535, message: `5.7.3 Authentication unsuccessful ${exchangeStamp()}` });
    };
    if (fault) return fail('injected fault', fault);
    const verdict = await this.opts.verifyToken(accessToken);
    if (this.opts.gmail) {
      const refuse = (status: '400' | '401', reason: string): never => {
        this.authFailures++;
        this.opts.log?.info('local SMTP (Gmail): authentication refused', { user: username, reason });
        throw new GmailChallenge(status);
      };
      if (!verdict.ok) return refuse('401', verdict.reason);
      const sub = typeof verdict.claims?.sub === 'string' ? verdict.claims.sub.toLowerCase() : '';
      if (sub !== username.toLowerCase()) return refuse('400', "the token's sub is not the XOAUTH2 user");
      const scopes = typeof verdict.claims?.scope === 'string' ? verdict.claims.scope.split(' ') : [];
      if (!scopes.includes(GMAIL_SCOPE)) return refuse('400', `the token has no ${GMAIL_SCOPE} scope`);
      if (!this.authorized.has(username.toLowerCase())) return refuse('400', 'mailbox not known');
      this.authenticatedSessions.set(session.id, username.toLowerCase());
      this.opts.log?.info('local SMTP (Gmail): authenticated', { user: username });
      return username;
    }
    if (!verdict.ok) return fail(verdict.reason);
    if (!this.authorized.has(username.toLowerCase())) return fail('mailbox not authorized for this app');
    const appIdClaim = verdict.claims?.appid ?? verdict.claims?.azp;
    const appId = (typeof appIdClaim === 'string' ? appIdClaim : '').toLowerCase();
    if (this.mailboxAccess && !this.mailboxAccess.has(appId)) return fail('no service principal with FullAccess on the mailbox for this app');
    if (this.appMailboxes.size > 0 && !this.appMailboxes.get(appId)?.has(username.toLowerCase())) {
      return fail("the token's app has no FullAccess on this mailbox");
    }
    const mailbox = username.toLowerCase();
    const open = [...this.authenticatedSessions.values()].filter((user) => user === mailbox).length;
    if (this.opts.maxConnections !== undefined && open >= this.opts.maxConnections) {
      this.connectionRejections++;
      this.opts.log?.info('local SMTP: too many concurrent connections', { user: username, open });
      // smtp-server closes the connection after a 421, as Exchange does.
      throw smtpError({ code: 421, message: '4.3.2 The maximum number of concurrent connections has exceeded a limit, closing transmission channel' });
    }
    this.authenticatedSessions.set(session.id, mailbox);
    this.peakConnections = Math.max(this.peakConnections, open + 1);
    this.opts.log?.info('local SMTP: authenticated', { user: username });
    return username;
  }

  private onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: (error?: Error | null) => void): void {
    void this.takeFault('mail', session).then((fault) => this.answerMailFrom(address, session, callback, fault));
  }

  private answerMailFrom(
    _address: SMTPServerAddress,
    session: SMTPServerSession,
    callback: (error?: Error | null) => void,
    fault: SmtpReply | 'dropped' | undefined,
  ): void {
    if (fault === 'dropped') return;
    if (fault) return callback(smtpError(fault));
    if (!session.user) {
      return callback(smtpError({ code: 530, message: `5.7.57 Client not authenticated to send mail. ${exchangeStamp()}` }));
    }
    const mailbox = this.authenticatedSessions.get(session.id);
    if (mailbox && this.opts.rateLimit && !this.admitByRate(mailbox, this.opts.rateLimit)) {
      this.rateRejections++;
      return callback(smtpError({ code: 432, message: `4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded ${exchangeStamp()}` }));
    }
    callback();
  }

  /** Sliding window of accepted MAIL FROMs per mailbox. */
  private admitByRate(mailbox: string, limit: { messages: number; windowMs: number }): boolean {
    const now = Date.now();
    const recent = (this.submissions.get(mailbox) ?? []).filter((time) => time > now - limit.windowMs);
    const admitted = recent.length < limit.messages;
    if (admitted) recent.push(now);
    this.submissions.set(mailbox, recent);
    return admitted;
  }

  private onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (error?: Error | null) => void): void {
    void this.takeFault('rcpt', session).then((fault) => {
      if (fault === 'dropped') return;
      if (fault) return callback(smtpError(fault));
      const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      if (this.senderPolicy?.style === 'postfix' && !this.maySendAs(String(session.user), from)) {
        return callback(smtpError({ code: 553, message: `5.7.1 <${from}>: Sender address rejected: not owned by user ${String(session.user)}` }));
      }
      const rejection = this.rejectedRecipients.get(address.address.toLowerCase());
      callback(rejection ? smtpError(rejection) : null);
    });
  }

  private maySendAs(login: string, from: string): boolean {
    const key = login.toLowerCase();
    const address = from.toLowerCase();
    if (address === key) return true;
    return (this.senderPolicy?.grants?.[key] ?? []).some((granted) => granted.toLowerCase() === address);
  }

  /** Exchange's checks when the submitted message is stored: SendAs, then the mailbox's storage and daily recipients. */
  private submissionRefusal(session: SMTPServerSession, bytes: number): SmtpReply | undefined {
    const login = String(session.user);
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    if (this.senderPolicy?.style === 'exchange' && !this.maySendAs(login, from)) {
      return {
        code: 554,
        message:
          `5.2.252 SendAsDenied; ${login} not allowed to send as ${from}; STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; ` +
          `Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message. ${exchangeStamp()}`,
      };
    }
    const key = login.toLowerCase();
    const limits = this.limits.get(key);
    if (!limits) return undefined;
    const stored = this.sentBytes.get(key) ?? 0;
    if (limits.storageBytes !== undefined && stored + bytes > limits.storageBytes) {
      return {
        code: 554,
        message: `5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; ${exchangeStamp()}`,
      };
    }
    const dayAgo = Date.now() - (limits.dayMs ?? 86_400_000);
    const recent = (this.sentRecipients.get(key) ?? []).filter((time) => time > dayAgo);
    if (limits.recipientsPerDay !== undefined && recent.length + session.envelope.rcptTo.length > limits.recipientsPerDay) {
      this.quotaRejections++;
      return {
        code: 554,
        message:
          '5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception ' +
          `with message [BeginDiagnosticData]Cannot submit message. ${exchangeStamp()}`,
      };
    }
    return undefined;
  }

  private countSubmission(session: SMTPServerSession, bytes: number): void {
    const key = String(session.user).toLowerCase();
    if (!this.limits.has(key)) return;
    this.sentBytes.set(key, (this.sentBytes.get(key) ?? 0) + bytes);
    const now = Date.now();
    this.sentRecipients.set(key, [...(this.sentRecipients.get(key) ?? []), ...session.envelope.rcptTo.map(() => now)]);
  }

  private async onData(stream: Readable & { sizeExceeded?: boolean }, session: SMTPServerSession): Promise<void> {
    const chunks: Buffer[] = [];
    if (this.faults.get('data')?.[0] === 'drop-mid-data') {
      // Part of the body has arrived; the connection breaks before the final dot.
      for await (const chunk of stream) {
        chunks.push(chunk as Buffer);
        break;
      }
      await this.takeFault('data', session);
      throw new ConnectionDropped();
    }
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const fault = await this.takeFault('data', session);
    if (fault === 'dropped') throw new ConnectionDropped();
    if (fault) throw smtpError(fault);
    if (stream.sizeExceeded) {
      throw smtpError({ code: 552, message: '5.3.4 Message size exceeds fixed maximum message size' });
    }
    const raw = Buffer.concat(chunks);
    const refusal = this.submissionRefusal(session, raw.length);
    if (refusal) {
      this.refusedSubmissions++;
      throw smtpError(refusal);
    }
    this.countSubmission(session, raw.length);
    const message: ReceivedMessage = {
      envelope: {
        mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        rcptTo: session.envelope.rcptTo.map((rcpt) => rcpt.address),
      },
      raw,
      user: String(session.user),
      receivedAt: new Date(),
    };
    if (this.opts.maildir) {
      const stamp = message.receivedAt.toISOString().replace(/[:.]/g, '-');
      message.file = path.join(this.opts.maildir, `${stamp}-${randomUUID().slice(0, 8)}.eml`);
      await writeFile(message.file, raw);
    }
    this.received.push(message);
    this.opts.log?.info('local SMTP: message accepted', {
      user: message.user,
      from: message.envelope.mailFrom,
      recipients: message.envelope.rcptTo.length,
      bytes: raw.length,
      file: message.file,
    });
    for (const waiter of [...this.waiters]) waiter();
  }
}
