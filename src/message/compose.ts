/**
 * Turns a validated RelayMessage into nodemailer's send options. nodemailer
 * does the MIME work (RFC 2047 encoded words for non-ASCII subjects and names,
 * folding, Date); this module decides the envelope, the Message-ID, hands over
 * text that nodemailer's folding keeps within RFC 5322 line limits
 * (headerText.ts), sends attachments as base64 under their base name and a
 * content type that cannot make them MIME structure, and makes sure a message
 * can never make the relay read a file or fetch a URL.
 */
import { createHash } from 'node:crypto';
import type { SendMailOptions } from 'nodemailer';
import { addressKey, asciiDomain, type Mailbox } from './address';
import { wireContentType } from './contentType';
import { baseFileName } from './filename';
import { isVerbatimHeader } from './headers';
import { displayNameText, unstructuredText } from './headerText';
import type { RelayAttachment, RelayMessage, SendingMailbox } from './types';

/** `message` must have its blob attachments fetched first (src/delivery/attachmentBlobs.ts). */
export function toMailOptions(message: RelayMessage, mail: SendingMailbox): SendMailOptions {
  const recipients = [...message.to, ...message.cc, ...message.bcc].map((mailbox) => mailbox.address);
  const options: SendMailOptions = {
    from: toAddress(message.from),
    to: message.to.map(toAddress),
    cc: message.cc.map(toAddress),
    bcc: message.bcc.map(toAddress),
    envelope: { from: message.from.address, to: recipients },
    headers: Object.fromEntries(Object.entries(message.headers).map(([name, value]) => [name, isVerbatimHeader(name) ? value : unstructuredText(value)])),
    attachments: message.attachments.map(inMemory).map(toAttachment),
    disableFileAccess: true,
    disableUrlAccess: true,
  };
  if (message.replyTo.length > 0) options.replyTo = message.replyTo.map(toAddress);
  if (message.subject !== undefined) options.subject = unstructuredText(message.subject);
  if (message.text !== undefined) options.text = message.text;
  if (message.html !== undefined) options.html = message.html;
  // Sending as another address: the Sender header names the mailbox that really sent it.
  if (addressKey(message.from.address) !== addressKey(mail.user)) options.sender = mail.user;
  if (message.id !== undefined) options.messageId = stableMessageId(message.id, message.from.address);
  return options;
}

function toAttachment(attachment: RelayAttachment): NonNullable<SendMailOptions['attachments']>[number] {
  // validate.ts already reduced the name; repeated here, where it meets the wire.
  const filename = baseFileName(attachment.filename) ?? 'attachment';
  return {
    filename,
    content: attachment.content,
    contentType: wireContentType(attachment.contentType, filename),
    // Whatever the type, every byte arrives as it was and none is read as a line on the way (RFC 2045 §6.8).
    contentTransferEncoding: 'base64',
    ...(attachment.contentId === undefined ? { contentDisposition: 'attachment' } : { cid: attachment.contentId, contentDisposition: 'inline' }),
  };
}

function inMemory(attachment: RelayMessage['attachments'][number]): RelayAttachment {
  if ('content' in attachment) return attachment;
  throw new Error(`attachment ${attachment.filename}: its blob was not fetched before composing`);
}

/**
 * The same idempotency key always gives the same Message-ID, so a message the
 * queue delivers twice can be recognised as a duplicate by its recipients.
 */
export function stableMessageId(id: string, fromAddress: string): string {
  const digest = createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 40);
  const domainPart = fromAddress.slice(fromAddress.lastIndexOf('@') + 1);
  return `<${digest}@${asciiDomain(domainPart) ?? domainPart.toLowerCase()}>`;
}

function toAddress(mailbox: Mailbox): { name: string; address: string } {
  return { name: displayNameText(mailbox.name ?? ''), address: mailbox.address };
}
