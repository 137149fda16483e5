/**
 * The MIME a message goes to Graph as: nodemailer's own pipeline (its stream transport runs the
 * same plugins, MailComposer and header normalisation as the SMTP transport), so Graph gets the
 * Message-ID, headers and body SMTP would send. Bcc is kept in the headers (keepBcc, as every
 * non-SMTP nodemailer transport does): Graph takes the recipients from the MIME headers, and
 * compose.ts makes the envelope exactly To + Cc + Bcc, so the recipients are the same.
 *
 * Sizes are worked out before anything is read, from the attachments' lengths (a claim-check
 * blob's size comes with its stream), so a message too large for one request never gets built whole.
 */
import type { Readable } from 'node:stream';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { readUpTo } from './graphRequest';

/** Graph's limit of one request, 4 MB; the base64 body of sendMail or of a draft must stay below it. */
export const GRAPH_REQUEST_LIMIT = 4 * 1024 * 1024;
/** The MIME of one request: its base64 (4/3 of it) stays 64 KiB below the limit. */
export const MIME_LIMIT = Math.floor(((GRAPH_REQUEST_LIMIT - 64 * 1024) * 3) / 4);
/**
 * Attachments this large go through an upload session: Graph refuses a session for less than 3 MB
 * (ErrorAttachmentSizeShouldNotBeLessThanMinimumSize), so smaller ones that do not fit the draft's MIME
 * are posted as a fileAttachment (base64 JSON, one request under the 4 MB limit).
 */
export const UPLOAD_THRESHOLD = 3 * 1024 * 1024;

export type MailAttachment = NonNullable<SendMailOptions['attachments']>[number];

const composer = nodemailer.createTransport({ streamTransport: true, buffer: false, newline: 'windows', disableFileAccess: true, disableUrlAccess: true });

export interface ComposedMime {
  mime: Buffer;
  messageId: string;
  envelope: { from: string | false; to: string[] };
}

/** The whole MIME of `mail`, or undefined when it exceeds `limit` bytes (the streams are then destroyed). */
export async function composeMime(mail: SendMailOptions, limit = MIME_LIMIT): Promise<ComposedMime | undefined> {
  const info = await composer.sendMail(mail);
  const mime = await readUpTo(info.message as Readable, limit);
  if (mime === undefined) return undefined;
  return { mime, messageId: info.messageId, envelope: { from: info.envelope.from ?? false, to: [...(info.envelope.to ?? [])].map(String) } };
}

/** An attachment's length in bytes: a buffer's or string's, or the `size` its stream carries; undefined when unknown. */
export function attachmentSize(attachment: MailAttachment): number | undefined {
  const content = attachment.content;
  if (Buffer.isBuffer(content)) return content.length;
  if (typeof content === 'string') return Buffer.byteLength(content, attachment.encoding === 'base64' ? 'base64' : 'utf8');
  const size = (content as { size?: unknown } | undefined)?.size;
  return typeof size === 'number' ? size : undefined;
}

/** What an attachment of `bytes` adds to the MIME at most: base64 lines of 76 and CRLF, plus its part headers. */
export function encodedSize(bytes: number): number {
  const base64 = Math.ceil(bytes / 3) * 4;
  return base64 + Math.ceil(base64 / 76) * 2 + 1024;
}

/** The MIME without attachments, at most: the bodies quoted-printable (3 per byte) and the headers. */
export function bodySize(mail: SendMailOptions): number {
  const text = (value: unknown) => (typeof value === 'string' ? Buffer.byteLength(value) : Buffer.isBuffer(value) ? value.length : 0);
  const headers = JSON.stringify({
    headers: mail.headers,
    to: mail.to,
    cc: mail.cc,
    bcc: mail.bcc,
    from: mail.from,
    replyTo: mail.replyTo,
    subject: mail.subject,
  });
  return 3 * (text(mail.text) + text(mail.html)) + 3 * Buffer.byteLength(headers) + 8192;
}

export interface SendPlan {
  /** Attachments inside the MIME (sendMail, or the draft). */
  inline: MailAttachment[];
  /** Attachments uploaded to the draft through upload sessions. */
  uploads: Array<{ attachment: MailAttachment; size: number }>;
}

/**
 * Which attachments ride in the MIME and which go through upload sessions: none is
 * uploaded when the whole MIME fits one request; otherwise every attachment of
 * UPLOAD_THRESHOLD or more, and then the largest others until the rest fits.
 */
export function planOf(mail: SendMailOptions): SendPlan {
  const attachments = mail.attachments ?? [];
  const sized = attachments.map((attachment) => ({ attachment, size: attachmentSize(attachment) }));
  let total = bodySize(mail) + sized.reduce((sum, item) => sum + encodedSize(item.size ?? Infinity), 0);
  if (total <= MIME_LIMIT) return { inline: attachments, uploads: [] };
  const uploaded = new Set<MailAttachment>();
  const bySize = [...sized].sort((a, b) => (b.size ?? Infinity) - (a.size ?? Infinity));
  for (const item of bySize) {
    if (total <= MIME_LIMIT && (item.size ?? Infinity) < UPLOAD_THRESHOLD) break;
    if (item.size === undefined) continue;
    uploaded.add(item.attachment);
    total -= encodedSize(item.size);
  }
  return {
    inline: attachments.filter((attachment) => !uploaded.has(attachment)),
    uploads: sized.filter((item) => uploaded.has(item.attachment)).map((item) => ({ attachment: item.attachment, size: item.size! })),
  };
}
