/** A queue message after validation: addresses parsed, sender resolved, attachments decoded. */
import type { Readable } from 'node:stream';
import type { Mailbox } from './address';

export type { Mailbox };

/**
 * An attachment's bytes streamed from their source, which can be opened again: a send
 * consumes (or, failing, destroys) the stream, and a resend needs a new one.
 */
export interface ReopenableStream extends Readable {
  reopen(): Promise<ReopenableStream>;
  /** The bytes the stream will give, when known (a claim-check blob's measured size): the Graph transport plans by it. */
  size?: number;
}

export interface RelayAttachment {
  filename: string;
  /** Absent: nodemailer guesses it from the file name. */
  contentType?: string;
  /**
   * The bytes: in memory when they came inside the queue message, a stream (read once,
   * while sending) when they come from a blob.
   */
  content: Buffer | ReopenableStream;
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

/** A message whose attachments are all fetched (in memory, or streams from their blobs), ready to compose and send once. */
export interface ResolvedMessage extends RelayMessage {
  attachments: RelayAttachment[];
}

/**
 * What the operator allows a message (MAIL_FROM, MAIL_ALLOWED_FROM, MAIL_MAX_RECIPIENTS);
 * the settings' MailSettings satisfies it, so this contract needs nothing from the settings.
 */
export interface MessagePolicy {
  /** The sender of a message without `from`. */
  from: string;
  /** Other senders a message may use in `from`. */
  allowedFrom: readonly string[];
  /** Most recipients (to + cc + bcc) one message may have. */
  maxRecipients: number;
}

/** A sender a message may choose (RELAY_SENDERS, or the default one): its id and its From policy. */
export interface SenderPolicy extends MessagePolicy {
  id: string;
}

/** The senders a message chooses among, by its `sender` field or its `from`. */
export interface SenderRouting {
  senders: readonly SenderPolicy[];
  /** The sender of a message that names neither a sender nor a `from`. */
  defaultId: string;
}

/** The authorized mailbox the relay sends through (SMTP_USER): the Sender of a message sent as another address. */
export interface SendingMailbox {
  user: string;
}
