/**
 * Attachments sent by reference (claim check): the producer uploads the file to
 * the attachment container of the relay's storage account and names the blob in
 * the message; the relay reads it with its own identity just before sending.
 * The relay never deletes these blobs: several messages may share one, and a
 * retry needs it again (a lifecycle rule, or the producer, cleans up).
 */
import { PassThrough, type Readable } from 'node:stream';
import type { ContainerClient } from '@azure/storage-blob';
import { RelayError } from '../errors';
import type { RelayAttachment, RelayMessage, ReopenableStream, ResolvedMessage } from './types';

export class AttachmentBlobs {
  constructor(private readonly container: ContainerClient, private readonly maxTotalBytes: number) {}

  /**
   * Returns the message with every blob attachment as a stream of the blob's bytes, or throws
   * a classified RelayError. Streamed, not buffered: a 1 MB file held whole and then encoded in
   * one piece costs several MB of short-lived buffers per message. Each stream is read once
   * (`reopen()` downloads again, for a resend); close the streams of a message that is not
   * sent (closeAttachmentStreams).
   */
  async resolve(message: RelayMessage): Promise<ResolvedMessage> {
    let total = 0;
    const attachments: RelayAttachment[] = [];
    try {
      for (const attachment of message.attachments) {
        if ('content' in attachment) {
          attachments.push(attachment);
          total += Buffer.isBuffer(attachment.content) ? attachment.content.length : 0;
          continue;
        }
        const { content, size } = await this.open(attachment.blob, this.maxTotalBytes - total);
        total += size;
        const { blob: _blob, ...rest } = attachment;
        attachments.push({ ...rest, content });
      }
      if (total > this.maxTotalBytes) throw tooLarge(total, this.maxTotalBytes);
    } catch (error) {
      closeAttachmentStreams({ attachments });
      throw error;
    }
    return { ...message, attachments };
  }

  /** Starts the download (one request: its headers give the size to check) and returns the body unread. */
  private async open(name: string, budget: number): Promise<{ content: ReopenableStream; size: number }> {
    try {
      const response = await this.container.getBlobClient(name).download(0);
      const body = response.readableStreamBody as Readable;
      const size = response.contentLength ?? 0;
      if (size > budget) {
        body.destroy();
        throw tooLarge(this.maxTotalBytes - budget + size, this.maxTotalBytes);
      }
      const content = Object.assign(readFailuresClassified(body, name), { reopen: async () => (await this.open(name, budget)).content });
      return { content, size };
    } catch (error) {
      if (error instanceof RelayError) throw error;
      throw this.unreadable(name, error);
    }
  }

  private unreadable(name: string, error: unknown): RelayError {
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 404) {
      return new RelayError(`attachment blob "${name}" does not exist in container "${this.container.containerName}"`, {
        reason: 'attachment_not_found',
        kind: 'permanent',
        remedy: 'Upload the file before queuing the message, name it exactly in "blob", and keep it until the message is sent.',
        cause: error,
      });
    }
    return new RelayError(`could not read attachment blob "${name}"`, {
      reason: 'storage_unavailable',
      kind: 'transient',
      providerReply: status ? `HTTP ${status}` : error instanceof Error ? error.message : String(error),
      remedy: status === 403 ? "Grant the Function App's identity Storage Blob Data Reader on the attachment container." : undefined,
      cause: error,
    });
  }
}

/**
 * The body as a stream whose read failure (after the SDK's own resumed retries) is a transient
 * storage_unavailable RelayError, so a send that fails mid-attachment is not blamed on SMTP.
 * Destroying it (an unsent message) also closes the download.
 */
function readFailuresClassified(body: Readable, name: string): Readable {
  const stream = new PassThrough();
  body.on('error', (error) =>
    stream.destroy(
      new RelayError(`reading attachment blob "${name}" failed while sending; nothing was delivered`, {
        reason: 'storage_unavailable',
        kind: 'transient',
        providerReply: error instanceof Error ? error.message : String(error),
        cause: error,
      }),
    ),
  );
  stream.once('close', () => body.destroy());
  return body.pipe(stream);
}

/** Closes the blob downloads of a message that will not be sent (after a send they are already done). */
export function closeAttachmentStreams(message: { attachments: RelayMessage['attachments'] }): void {
  for (const attachment of message.attachments) {
    if ('content' in attachment && !Buffer.isBuffer(attachment.content)) attachment.content.destroy();
  }
}

function tooLarge(size: number, limit: number): RelayError {
  return new RelayError(`attachments of ${size} bytes or more exceed the ${limit} bytes allowed (MAIL_MAX_ATTACHMENTS_MB)`, {
    reason: 'message_too_large',
    kind: 'permanent',
    remedy: 'Send smaller attachments or a link to the file; raise MAIL_MAX_ATTACHMENTS_MB only if the mailbox accepts larger messages.',
  });
}
