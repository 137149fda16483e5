/**
 * Attachments sent by reference (claim check): the producer uploads the file to
 * the attachment container of the relay's storage account and names the blob in
 * the message; the relay reads it with its own identity just before sending.
 * The relay never deletes these blobs: several messages may share one, and a
 * retry needs it again (a lifecycle rule, or the producer, cleans up).
 */
import { Readable } from 'node:stream';
import type { BlobClient, ContainerClient } from '@azure/storage-blob';
import { RelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import { containedBlobClient } from '../message/blobName';
import type { BlobAttachment, RelayAttachment, RelayMessage, ReopenableStream, ResolvedMessage } from '../message/types';

export class AttachmentBlobs {
  constructor(
    private readonly container: ContainerClient,
    private readonly maxTotalBytes: number,
  ) {}

  /**
   * Returns the message with every blob attachment as a stream of the blob's bytes, or throws
   * a classified RelayError. Every name is checked first (blobName.ts), so a name that would
   * leave the attachment container causes no request at all; then each blob's size is read
   * (one request each, one after the other) and checked against MAIL_MAX_ATTACHMENTS_MB.
   * Streamed, not buffered: a 1 MB file held whole and then encoded in one piece costs several
   * MB of short-lived buffers per message. Each download starts only when the sender reads
   * that attachment, so a message with many blobs holds one download open at a time, never
   * all of them. Each stream is read once (`reopen()` makes a new one, for a resend); close
   * the streams of a message that is not sent (closeAttachmentStreams).
   */
  async resolve(message: RelayMessage): Promise<ResolvedMessage> {
    let total = 0;
    const blobs = new Map<BlobAttachment, BlobClient>();
    for (const attachment of message.attachments) {
      if ('blob' in attachment) blobs.set(attachment, containedBlobClient(this.container, attachment.blob));
      else total += Buffer.isBuffer(attachment.content) ? attachment.content.length : 0;
    }
    if (total > this.maxTotalBytes) throw tooLarge(total, this.maxTotalBytes);

    const attachments: RelayAttachment[] = [];
    try {
      for (const attachment of message.attachments) {
        if (!('blob' in attachment)) {
          attachments.push(attachment);
          continue;
        }
        const client = blobs.get(attachment)!;
        const { size, etag } = await this.measure(client, attachment.blob);
        total += size;
        if (total > this.maxTotalBytes) throw tooLarge(total, this.maxTotalBytes);
        const { blob: name, ...rest } = attachment;
        attachments.push({ ...rest, content: this.stream(client, name, etag, size) });
      }
    } catch (error) {
      closeAttachmentStreams({ attachments });
      throw error;
    }
    return { ...message, attachments };
  }

  /** The blob's size and version, without its bytes. */
  private async measure(blob: BlobClient, name: string): Promise<{ size: number; etag?: string }> {
    try {
      const properties = await blob.getProperties();
      return { size: properties.contentLength ?? 0, etag: properties.etag };
    } catch (error) {
      throw this.unreadable(name, error);
    }
  }

  /** The blob's bytes as measured (the download is conditional on the same version), read on demand. */
  private stream(blob: BlobClient, name: string, etag: string | undefined, size: number): ReopenableStream {
    const download = async (): Promise<Readable> => {
      try {
        const response = await blob.download(0, undefined, etag === undefined ? {} : { conditions: { ifMatch: etag } });
        return response.readableStreamBody as Readable;
      } catch (error) {
        throw this.unreadable(name, error);
      }
    };
    return Object.assign(downloadedWhenRead(download, name), { size, reopen: async () => this.stream(blob, name, etag, size) });
  }

  private unreadable(name: string, error: unknown): RelayError {
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 404) {
      return new RelayError(`attachment blob "${name}" does not exist in container "${this.container.containerName}"`, {
        reason: 'attachment_not_found',
        kind: 'permanent',
        ...advice('attachment_not_found'),
        cause: error,
      });
    }
    if (status === 412) {
      return new RelayError(`attachment blob "${name}" was replaced after its size was checked; the message is sent again later with the new content`, {
        reason: 'storage_unavailable',
        kind: 'transient',
        providerReply: 'HTTP 412 (condition not met: the blob changed)',
        cause: error,
      });
    }
    return new RelayError(`could not read attachment blob "${name}"`, {
      reason: 'storage_unavailable',
      kind: 'transient',
      providerReply: status ? `HTTP ${status}` : error instanceof Error ? error.message : String(error),
      ...(status === 403 ? advice('attachment_access_denied') : {}),
      cause: error,
    });
  }
}

/**
 * A stream that starts the download when it is first read and passes the bytes on with
 * backpressure. A read failure (after the SDK's own resumed retries) is a transient
 * storage_unavailable RelayError, so a send that fails mid-attachment is not blamed on SMTP.
 * Destroying it (an unsent message) also closes the download, or stops it from starting.
 */
function downloadedWhenRead(open: () => Promise<Readable>, name: string): Readable {
  let body: Readable | undefined;
  let opening = false;
  const stream = new Readable({
    read() {
      if (body) {
        body.resume();
        return;
      }
      if (opening) return;
      opening = true;
      open().then(
        (opened) => {
          if (stream.destroyed) {
            opened.destroy();
            return;
          }
          body = opened;
          opened.on('data', (chunk: Buffer) => {
            if (!stream.push(chunk)) opened.pause();
          });
          opened.once('end', () => stream.push(null));
          opened.once('error', (error) =>
            stream.destroy(
              new RelayError(`reading attachment blob "${name}" failed while sending; nothing was delivered`, {
                reason: 'storage_unavailable',
                kind: 'transient',
                providerReply: error instanceof Error ? error.message : String(error),
                cause: error,
              }),
            ),
          );
        },
        (error: unknown) => stream.destroy(error instanceof Error ? error : new Error(String(error))),
      );
    },
    destroy(error, callback) {
      body?.destroy();
      callback(error);
    },
  });
  return stream;
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
    ...advice('attachments_too_large'),
  });
}
