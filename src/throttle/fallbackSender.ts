/**
 * smtp-then-graph: a sender that sends through `primary` (SMTP) and, when the primary refuses
 * before anything of the message was sent in a way only the other transport can avoid (535 5.7.139:
 * SMTP AUTH disabled for the tenant or mailbox, answered at AUTH, before MAIL FROM), sends that
 * message and the later ones through `fallback` (Graph). The switch is sticky for
 * `retryPrimaryAfterMs` (an hour): then the next message tries the primary again, so turning SMTP
 * AUTH back on takes effect without a restart. Each switch logs one warning (relay.transport_fallback)
 * with the sender, the server's reply and the remedy; a failure after DATA never switches.
 */
import type { Readable } from 'node:stream';
import type { SendMailOptions } from 'nodemailer';
import { isRelayError, RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { silentLogger, type Logger } from '../core/log';
import type { MailSender, MailSenderStats } from '../smtp';

export const FALLBACK_STICKY_MS = 3_600_000;

export interface FallbackSenderOptions {
  primary: MailSender;
  fallback: MailSender;
  /** The sender's id (RELAY_SENDERS id or `default`), for the log. */
  senderId: string;
  /** Which failures switch; default: the SMTP server says SMTP AUTH is disabled (smtp_auth_disabled). */
  switchesOn?: (failure: RelayError) => boolean;
  retryPrimaryAfterMs?: number;
  now?: () => number;
  logger?: Logger;
}

export function fallbackSender(options: FallbackSenderOptions): MailSender & { readonly usingFallback: boolean } {
  const { primary, fallback } = options;
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? Date.now;
  const switchesOn = options.switchesOn ?? ((failure: RelayError) => failure.reason === 'smtp_auth_disabled');
  const stickyMs = options.retryPrimaryAfterMs ?? FALLBACK_STICKY_MS;
  /** Until when messages go straight to the fallback; undefined: the primary is in use. */
  let fallbackUntil: number | undefined;

  return {
    get usingFallback() {
      return fallbackUntil !== undefined && now() < fallbackUntil;
    },
    get stats(): MailSenderStats {
      const a = primary.stats;
      const b = fallback.stats;
      return {
        messagesSent: a.messagesSent + b.messagesSent,
        connectionsOpened: a.connectionsOpened + b.connectionsOpened,
        authentications: a.authentications + b.authentications,
        tokenRetries: a.tokenRetries + b.tokenRetries,
      };
    },
    async send(mail) {
      if (fallbackUntil !== undefined && now() < fallbackUntil) return fallback.send(mail);
      const retrying = fallbackUntil !== undefined;
      try {
        const result = await primary.send(mail);
        if (retrying) {
          fallbackUntil = undefined;
          logger.info('SMTP accepts this sender again; it no longer falls back to Microsoft Graph', {
            event: 'relay.transport_restored',
            sender: options.senderId,
          });
        }
        return result;
      } catch (error) {
        if (!isRelayError(error) || !switchesOn(error)) throw error;
        // Several messages may have tried SMTP at once: only the first refusal is a switch (and logged).
        const switching = fallbackUntil === undefined || now() >= fallbackUntil;
        fallbackUntil = now() + stickyMs;
        if (switching) {
          logger.warn('SMTP AUTH is disabled for this sender; it sends through Microsoft Graph instead', {
            event: 'relay.transport_fallback',
            sender: options.senderId,
            reply: error.providerReply,
            retrySmtpAfterSeconds: Math.round(stickyMs / 1000),
            ...advice('graph_fallback'),
          });
        }
        return fallback.send(await reopened(mail));
      }
    },
    async verify() {
      if (fallbackUntil !== undefined && now() < fallbackUntil) return fallback.verify();
      return primary.verify();
    },
    close() {
      primary.close();
      fallback.close();
    },
  };
}

/** The options with every attachment stream opened again: the refused attempt may have destroyed them. */
async function reopened(mail: SendMailOptions): Promise<SendMailOptions> {
  if (!mail.attachments?.some((attachment) => isStream(attachment.content))) return mail;
  const attachments = [];
  for (const attachment of mail.attachments) {
    const content = attachment.content as (Readable & { reopen?: () => Promise<Readable> }) | undefined;
    if (!isStream(content)) attachments.push(attachment);
    else if (typeof content.reopen === 'function') attachments.push({ ...attachment, content: await content.reopen() });
    else {
      for (const opened of attachments) if (isStream(opened.content)) opened.content.destroy();
      throw new RelayError('an attachment stream cannot be read a second time for the Graph fallback; the message is sent again later', {
        reason: 'graph_unavailable',
        kind: 'transient',
      });
    }
  }
  return { ...mail, attachments };
}

const isStream = (content: unknown): content is Readable => typeof (content as Readable | undefined)?.pipe === 'function';
