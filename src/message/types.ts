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

/**
 * An attachment whose bytes wait in a blob of the relay's storage account (a
 * claim check: a queue message holds at most 64 KiB). The relay fetches it
 * just before sending.
 */
export interface BlobAttachment {
  filename: string;
  contentType?: string;
  /** Name of the blob in the attachment container (RELAY_ATTACHMENT_CONTAINER). */
  blob: string;
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
  attachments: Array<RelayAttachment | BlobAttachment>;
}

/** A message whose attachments are all in memory, ready to compose. */
export interface ResolvedMessage extends RelayMessage {
  attachments: RelayAttachment[];
}
