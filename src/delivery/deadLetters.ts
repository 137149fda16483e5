/**
 * Dead-letter records: where a message goes when it cannot be delivered, with
 * the reason a machine can filter on and a person can act on.
 *
 * A record is one queue message (plain JSON text) on the dead-letter queue.
 * Queue messages are limited to 64 KiB and the original message alone may be
 * that large, so a record that does not fit is stored whole as a blob and the
 * queue entry carries everything but the original plus the blob's name.
 */
import { randomUUID } from 'node:crypto';
import type { QueueClient } from '@azure/storage-queue';
import type { ContainerClient } from '@azure/storage-blob';
import { redactKnownSecrets, redactValue } from '../core/redact';
import { createOnce, type StorageClients } from '../transport/storage';
import type { DeadLetterInput, DeadLetterReceipt, DeadLetterSink } from './ports';

export const DEAD_LETTER_SCHEMA = 'oauth2-smtp-relay/dead-letter/v1';

/** Largest record text put on the queue itself (the service limit is 64 KiB; keep a margin for XML escaping). */
export const MAX_INLINE_RECORD_BYTES = 48 * 1024;

export interface DeadLetterRecord extends Omit<DeadLetterInput, 'original'> {
  schema: typeof DEAD_LETTER_SCHEMA;
  recordId: string;
  deadLetteredAt: string;
  original?: string;
  /** Set when the full record (original included) is stored as a blob. */
  recordBlob?: string;
}

export class DeadLetterWriter implements DeadLetterSink {
  private readonly queue: QueueClient;
  private readonly container: ContainerClient;
  private readonly ensureQueue = createOnce(() => this.queue.createIfNotExists());
  private readonly ensureContainer = createOnce(() => this.container.createIfNotExists());

  constructor(
    clients: StorageClients,
    queueName: string,
    containerName: string,
    private readonly now = () => new Date(),
  ) {
    this.queue = clients.queues.getQueueClient(queueName);
    this.container = clients.blobs.getContainerClient(containerName);
  }

  get queueName(): string {
    return this.queue.name;
  }

  /**
   * Writes the record. Throws when storage cannot take it: the caller must then
   * leave the message on its queue (it must not vanish).
   */
  async write(input: DeadLetterInput): Promise<DeadLetterReceipt> {
    const record: DeadLetterRecord = {
      schema: DEAD_LETTER_SCHEMA,
      recordId: randomUUID(),
      deadLetteredAt: this.now().toISOString(),
      ...redactValue({ ...input, original: undefined }),
      // The original is the application's own text: kept byte for byte, except
      // for a registered secret value, which must never be stored.
      original: redactKnownSecrets(input.original),
    };
    let text = JSON.stringify(record);
    if (Buffer.byteLength(text) > MAX_INLINE_RECORD_BYTES) {
      record.recordBlob = await this.storeBlob(record, text);
      text = JSON.stringify({ ...record, original: undefined });
    }
    await this.ensureQueue();
    // Never expire: a dead letter waits for a person (the default TTL is 7 days).
    const sent = await this.queue.sendMessage(text, { messageTimeToLive: -1 });
    return { recordId: record.recordId, queueMessageId: sent.messageId, recordBlob: record.recordBlob };
  }

  private async storeBlob(record: DeadLetterRecord, text: string): Promise<string> {
    await this.ensureContainer();
    const name = `${record.deadLetteredAt.slice(0, 10)}/${record.recordId}.json`;
    await this.container.getBlockBlobClient(name).upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json' } });
    return `${this.container.containerName}/${name}`;
  }
}
