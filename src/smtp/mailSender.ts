/**
 * Sends mail through one pooled nodemailer transport per mailbox: connections
 * are opened once, authenticated once (XOAUTH2 with a token from the shared
 * TokenCache, or a password when OAuth2 is off) and reused for many messages.
 *
 * Guarantees: TLS always (implicit, or STARTTLS required), certificates always
 * verified, never a message without AUTH, and a token Exchange refuses (535) is
 * dropped and the send retried once with a new one: nodemailer renews only when
 * the server answers 334 with an error (Gmail), while Exchange answers 535 at once.
 */
import type { Readable } from 'node:stream';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import type { SMTPPoolOptions } from 'nodemailer/lib/smtp-pool';
import type { PasswordAuthSettings, SmtpSettings } from '../settings';
import { RelayError } from '../core/errors';
import type { ReopenableStream } from '../message/types';
import { silentLogger, type Logger } from '../core/log';
import { redact } from '../core/redact';
import type { TokenCache } from '../token/tokenCache';
import { PASSWORD_METHOD, challengeOfRefusal, passwordHandler, tokenRefusedBy, xoauth2Handler } from './authHandlers';
import { classifySmtpError, parseSmtpReply } from './classifySmtpError';
import { smtpConnectionOptions } from './connectionOptions';
import { explainRefusedToken } from './refusedToken';
import type { TokenJudgement } from '../token/claims';

export interface MailSenderOptions {
  smtp: SmtpSettings;
  /** The authorized mailbox (XOAUTH2 user=). */
  user: string;
  /** OAuth2 mode: the process's token cache. */
  tokens?: TokenCache;
  /** Password mode, only when OAuth2 is off. */
  password?: Pick<PasswordAuthSettings, 'user' | 'password'>;
  /** What a refused token is read against (judgementOf(config.oauth)); absent: a 535 gets the generic remedy. */
  tokenSettings?: TokenJudgement;
  logger?: Logger;
}

export interface SendResult {
  messageId: string;
  /** The server's final reply, e.g. "250 2.6.0 <id> Queued mail for delivery". */
  response: string;
  accepted: string[];
  /** Recipients the server refused while others were accepted (the message still went out). */
  rejected: string[];
  rejectedErrors?: Array<{ recipient: string; response: string }>;
  envelope: { from: string | false; to: string[] };
}

export interface MailSenderStats {
  messagesSent: number;
  /** Connections the pool opened (verify() opens one too). */
  connectionsOpened: number;
  /** AUTH commands sent (one per connection). */
  authentications: number;
  /** Sends repeated with a new token after the server refused the cached one. */
  tokenRetries: number;
}

export interface MailSender {
  /**
   * Resolves when the server accepted the message (possibly for only some recipients); rejects
   * with a RelayError. Attachment streams are read once (nodemailer destroys them when a send
   * fails); a resend opens them again when they have a `reopen()` (src/message/types.ts).
   */
  send(mail: SendMailOptions): Promise<SendResult>;
  /** Connect, secure, authenticate and quit, sending nothing; rejects with a RelayError. */
  verify(): Promise<void>;
  /** Close the pool's connections (idle ones at once, busy ones after their message). */
  close(): void;
  readonly stats: Readonly<MailSenderStats>;
}

/** Messages one connection sends before the pool replaces it. */
const MAX_MESSAGES_PER_CONNECTION = 100;

/**
 * Create this once per mailbox and process (src/app/components.ts does) and share it: each
 * sender has its own pool of up to `smtp.poolSize` connections, and Exchange Online
 * refuses more than 3 concurrent connections per mailbox.
 */
export function createMailSender(options: MailSenderOptions): MailSender {
  const { smtp, tokens } = options;
  const logger = options.logger ?? silentLogger;
  if (!tokens && !(options.password?.user && options.password.password)) {
    // Without credentials nodemailer would send unauthenticated; refuse to build such a sender.
    throw new Error('createMailSender needs a token cache (OAuth2) or a user and password');
  }
  const stats: MailSenderStats = { messagesSent: 0, connectionsOpened: 0, authentications: 0, tokenRetries: 0 };

  const transportOptions: SMTPPoolOptions & { pool: true } = {
    pool: true,
    maxConnections: smtp.poolSize,
    maxMessages: MAX_MESSAGES_PER_CONNECTION,
    ...smtpConnectionOptions(smtp),
    // Log in on every connection even when AUTH is not advertised; our handlers then
    // refuse to continue, so a server without AUTH fails the send instead of receiving
    // the message unauthenticated.
    forceAuth: true,
    customAuth: { XOAUTH2: xoauth2Handler(stats), [PASSWORD_METHOD]: passwordHandler(stats) },
    auth: tokens
      ? {
          type: 'OAuth2',
          user: options.user,
          // Each pooled connection has its own XOAuth2 object that asks here once, at connect.
          // nodemailer reuses a token while `expires` > now with no margin, so it gets the
          // cache's refresh point, not the real expiry.
          provisionCallback: (_user, _renew, callback) => {
            tokens.getToken().then(
              (token) => callback(null, token.token, token.refreshAfterTimestamp ?? token.expiresOnTimestamp - tokens.refreshMarginMs),
              (error: Error) => callback(error),
            );
          },
        }
      : { user: options.password!.user, pass: options.password!.password, method: PASSWORD_METHOD },
    getSocket: (_socketOptions, callback) => {
      // Not a proxy: only counts connections, then lets nodemailer open its own socket.
      stats.connectionsOpened++;
      setImmediate(() => callback(null, false));
    },
    // Queue messages are untrusted input: attachments may not read local files or fetch URLs.
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
  };
  const transport = nodemailer.createTransport(transportOptions);
  transport.on('error', (error: Error) => logger.warn('SMTP transport error', { event: 'smtp.transport_error', error: redact(error.message) }));

  /**
   * Run `operation`; if the server refused a cached token, drop that token and run it once more
   * (`again`, when given, instead: a resend that needs its input rebuilt; it may throw).
   */
  /** The failure, classified; a refused token explained by its own claims. */
  function classified(error: unknown): RelayError {
    const failure = classifySmtpError(error);
    const explained = explainRefusedToken(failure, tokenRefusedBy(error), options.tokenSettings, challengeOfRefusal(error));
    if (explained !== failure) {
      logger.warn('the SMTP server refused the access token; its claims name the likeliest cause', {
        event: 'smtp.token_diagnosed',
        reason: explained.reason,
        diagnosis: explained.diagnosis,
        observed: explained.message,
        reply: explained.providerReply,
        remedy: explained.remedy,
      });
    }
    return explained;
  }

  async function withTokenRetry<T>(operation: () => Promise<T>, again: () => Promise<T> = operation): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      const refusedToken = tokens ? tokenRefusedBy(error) : undefined;
      if (!tokens || !refusedToken || !isTokenRefusal(error)) throw classified(error);
      tokens.invalidate(refusedToken);
      stats.tokenRetries++;
      logger.warn('the SMTP server refused the access token; retrying once with a new token', {
        event: 'smtp.token_refused',
        reply: redact(stringField(error, 'response') ?? ''),
      });
      try {
        return await again();
      } catch (second) {
        throw classified(second);
      }
    }
  }

  return {
    stats,
    async send(mail) {
      const info = await withTokenRetry(
        () => transport.sendMail(mail),
        async () => transport.sendMail(await withFreshStreams(mail)),
      );
      stats.messagesSent++;
      return {
        messageId: info.messageId,
        response: info.response,
        accepted: info.accepted.map(String),
        rejected: info.rejected.map(String),
        rejectedErrors: info.rejectedErrors?.map((item) => ({
          recipient: stringField(item, 'recipient') ?? '',
          response: redact(stringField(item, 'response') ?? item.message),
        })),
        envelope: {
          from: info.envelope.from ?? false,
          to: [...(info.envelope.to ?? [])].map(String),
        },
      };
    },
    async verify() {
      await withTokenRetry(() => transport.verify());
    },
    close() {
      transport.close();
    },
  };
}

/**
 * The options for a resend: the failed attempt consumed or destroyed its attachment streams,
 * so each is opened again from its source; one that cannot be would arrive truncated or
 * empty, so the message is handed back for a later retry instead.
 */
async function withFreshStreams(mail: SendMailOptions): Promise<SendMailOptions> {
  if (!mail.attachments?.some((attachment) => isStream(attachment.content))) return mail;
  const attachments = [];
  for (const attachment of mail.attachments) {
    const content = attachment.content;
    if (!isStream(content)) attachments.push(attachment);
    else if (typeof (content as Partial<ReopenableStream>).reopen === 'function')
      attachments.push({ ...attachment, content: await (content as ReopenableStream).reopen() });
    else {
      for (const opened of attachments) if (isStream(opened.content)) opened.content.destroy();
      throw new RelayError(
        'SMTP: the server refused the access token, and an attachment stream cannot be read a second time; the message is retried later with a new token.',
        {
          reason: 'smtp_auth_rejected',
          kind: 'transient',
        },
      );
    }
  }
  return { ...mail, attachments };
}

/** A text field nodemailer sets on its errors (the server's reply, the refused recipient), when it holds one. */
function stringField(error: unknown, name: 'response' | 'recipient'): string | undefined {
  const value = (error as Partial<Record<typeof name, unknown>>)[name];
  return typeof value === 'string' ? value : undefined;
}

const isStream = (content: unknown): content is Readable => typeof (content as Readable | undefined)?.pipe === 'function';

/** A 535 that a new token can fix: not 5.7.139 (SMTP AUTH switched off) or 5.7.30 (basic auth retired), which no token changes. */
function isTokenRefusal(error: unknown): boolean {
  const reply = parseSmtpReply((error as { response?: unknown }).response);
  return reply?.code === 535 && reply.enhanced !== '5.7.139' && reply.enhanced !== '5.7.30';
}
