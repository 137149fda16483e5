/** A MailSender that goes through the mailbox's throttle: waits for a slot, and pauses the mailbox on a throttling reply. */
import type { SendMailOptions } from 'nodemailer';
import { isRelayError } from '../errors';
import type { MailSender, SendResult } from '../smtp';
import type { MailboxThrottle } from './mailboxThrottle';

export function throttledSender(sender: MailSender, throttle: MailboxThrottle): MailSender & { throttle: MailboxThrottle } {
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
        if (isRelayError(error) && error.reason === 'smtp_throttled') throttle.recordThrottled(error.retryAfterSeconds);
        throw error;
      } finally {
        release();
      }
    },
  };
}
