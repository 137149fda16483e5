/**
 * Attachments sent by reference (claim check): the producer uploads the file to
 * the attachment container of the relay's storage account and names the blob in
 * the message; the relay reads it with its own identity just before sending.
 * The relay never deletes these blobs: several messages may share one, and a
 * retry needs it again (a lifecycle rule, or the producer, cleans up).
 */
import type { ContainerClient } from '@azure/storage-blob';
import { RelayError } from '../errors';
import type { RelayAttachment, RelayMessage, ResolvedMessage } from './types';

export class AttachmentBlobs {
  constructor(private readonly container: ContainerClient, private readonly maxTotalBytes: number) {}

  /** Returns the message with every blob attachment's bytes in memory, or throws a classified RelayError. */
  async resolve(message: RelayMessage): Promise<ResolvedMessage> {
    let total = 0;
    const attachments: RelayAttachment[] = [];
    for (const attachment of message.attachments) {
      if ('content' in attachment) {
        attachments.push(attachment);
        total += attachment.content.length;
        continue;
      }
      const content = await this.download(attachment.blob, this.maxTotalBytes - total);
      total += content.length;
      const { blob: _blob, ...rest } = attachment;
      attachments.push({ ...rest, content });
    }
    if (total > this.maxTotalBytes) throw tooLarge(total, this.maxTotalBytes);
    return { ...message, attachments };
  }

  private async download(name: string, budget: number): Promise<Buffer> {
    const blob = this.container.getBlobClient(name);
    try {
      const properties = await blob.getProperties();
      const size = properties.contentLength ?? 0;
      if (size > budget) throw tooLarge(this.maxTotalBytes - budget + size, this.maxTotalBytes);
      return await blob.downloadToBuffer(0, size);
    } catch (error) {
      if (error instanceof RelayError) throw error;
      const status = (error as { statusCode?: number }).statusCode;
      if (status === 404) {
        throw new RelayError(`attachment blob "${name}" does not exist in container "${this.container.containerName}"`, {
          reason: 'attachment_not_found',
          kind: 'permanent',
          remedy: 'Upload the file before queuing the message, name it exactly in "blob", and keep it until the message is sent.',
          cause: error,
        });
      }
      throw new RelayError(`could not read attachment blob "${name}"`, {
        reason: 'storage_unavailable',
        kind: 'transient',
        providerReply: status ? `HTTP ${status}` : error instanceof Error ? error.message : String(error),
        remedy: status === 403 ? "Grant the Function App's identity Storage Blob Data Reader on the attachment container." : undefined,
        cause: error,
      });
    }
  }
}

function tooLarge(size: number, limit: number): RelayError {
  return new RelayError(`attachments of ${size} bytes or more exceed the ${limit} bytes allowed (MAIL_MAX_ATTACHMENTS_MB)`, {
    reason: 'message_too_large',
    kind: 'permanent',
    remedy: 'Send smaller attachments or a link to the file; raise MAIL_MAX_ATTACHMENTS_MB only if the mailbox accepts larger messages.',
  });
}
