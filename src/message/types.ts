/** A queue message after validation: addresses parsed, sender resolved, attachments decoded. */
import type { Mailbox } from './address';

export type { Mailbox };

export interface RelayAttachment {
  filename: string;
  /** Absent: nodemailer guesses it from the file name. */
  contentType?: string;
  content: Buffer;
  /** Set for inline images referenced from the HTML body as cid:<contentId>. */
  contentId?: string;
}

export interface RelayMessage {
  /** The producer's idempotency key, when given. */
  id?: string;
  /** The message's `from`, or MAIL_FROM when the message has none. */
  from: Mailbox;
  to: Mailbox[];
  cc: Mailbox[];
  bcc: Mailbox[];
  replyTo: Mailbox[];
  subject?: string;
  text?: string;
  html?: string;
  /** Extra headers, already checked (field names, no line breaks, none the relay owns). */
  headers: Record<string, string>;
  attachments: RelayAttachment[];
}
