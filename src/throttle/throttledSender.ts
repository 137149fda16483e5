/** A MailSender that goes through the mailbox's throttle: waits for a slot, and pauses the mailbox on a throttling or quota reply. */
import type { SendMailOptions } from 'nodemailer';
import { isRelayError, type RelayError } from '../core/errors';
import type { MailSender, SendResult } from '../smtp';
import type { MailboxThrottle } from './mailboxThrottle';

export function throttledSender(
  sender: MailSender,
  throttle: MailboxThrottle,
  /** Told of every failed send, for the conditions the monitor reports (src/monitor/mailboxConditions.ts). */
  failures?: { record(failure: RelayError): void },
): MailSender & { throttle: MailboxThrottle } {
  return {
    throttle,
    get stats() {
      return sender.stats;
    },
    verify: () => sender.verify(),
    close: () => sender.close(),
    async send(mail: SendMailOptions): Promise<SendResult> {
      const release = await throttle.acquire();
      try {
        const result = await sender.send(mail);
        throttle.recordSuccess();
        return result;
      } catch (error) {
        if (isRelayError(error)) failures?.record(error);
        // Only the server's own reply pauses the mailbox: a hand-back of the app-wide limits (no reply) is no throttling.
        if (isRelayError(error) && (error.reason === 'smtp_throttled' || error.reason === 'graph_throttled') && error.providerReply)
          throttle.recordThrottled(error.retryAfterSeconds);
        // The daily quota blocks the mailbox for hours: the other messages wait too, without reaching the server.
        if (isRelayError(error) && error.reason === 'quota_exceeded') throttle.recordThrottled(error.retryAfterSeconds, error);
        throw error;
      } finally {
        release();
      }
    },
  };
}
