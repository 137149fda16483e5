/**
 * Reading a queue of records whole: the dead-letter queue (replay, list, show, purge) and the
 * host's poison queue. A queue cannot be paged by peeking (a peek returns at most 32 messages),
 * so each message is received, held invisible while the scan runs, and made visible again at
 * the end unless the visitor deleted it.
 */
import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { DeadLetterRecord } from '../delivery/deadLetters';

/** Records are held invisible while the scan runs, then released unless consumed. */
const SCAN_VISIBILITY_SECONDS = 300;

export interface ScanOptions {
  /** A queue that does not exist counts as empty (the host creates the poison queue with its first message); else it throws. */
  missingIsEmpty: boolean;
  /** Called after every `every` messages (progress on the command line). */
  progress?: { every: number; report(examined: number): void };
}

/**
 * Hands each message of the queue to `visit` once, held invisible meanwhile; those it keeps
 * (`keep()`) become visible again at once at the end, for the next run or a person.
 */
export async function scanQueue(
  queue: QueueClient,
  options: ScanOptions,
  visit: (message: DequeuedMessageItem, keep: () => void) => Promise<void>,
): Promise<void> {
  const kept: Array<{ messageId: string; popReceipt: string }> = [];
  const seen = new Set<string>();
  try {
    for (;;) {
      let batch;
      try {
        batch = (await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: SCAN_VISIBILITY_SECONDS })).receivedMessageItems;
      } catch (error) {
        if (options.missingIsEmpty && (error as { statusCode?: number }).statusCode === 404) break;
        throw error;
      }
      const fresh = batch.filter((item) => !seen.has(item.messageId));
      if (fresh.length === 0) break;
      for (const message of fresh) {
        seen.add(message.messageId);
        await visit(message, () => kept.push({ messageId: message.messageId, popReceipt: message.popReceipt }));
        if (options.progress && seen.size % options.progress.every === 0) options.progress.report(seen.size);
      }
    }
  } finally {
    for (const item of kept) {
      await queue.updateMessage(item.messageId, item.popReceipt, undefined, 0).catch(() => undefined);
    }
  }
}

/**
 * A record as written by DeadLetterWriter; one that overflowed into a blob is read whole from it,
 * but only from `deadLetterContainer` (when given): a record names its blob, and a record that names
 * another container (the ledger's, with the envelope key) is not the relay's.
 */
export async function readRecord(text: string, blobs: BlobServiceClient, deadLetterContainer?: string): Promise<DeadLetterRecord> {
  const record = JSON.parse(text) as DeadLetterRecord;
  if (!record.recordBlob) return record;
  const { container, name } = splitRecordBlob(record.recordBlob);
  if (deadLetterContainer !== undefined && container !== deadLetterContainer) {
    throw new Error(`the record names blob ${record.recordBlob}, outside the dead-letter container ${deadLetterContainer}: not read`);
  }
  const whole = await blobs.getContainerClient(container).getBlockBlobClient(name).downloadToBuffer();
  return { ...(JSON.parse(whole.toString('utf8')) as DeadLetterRecord), recordBlob: record.recordBlob };
}

/** `recordBlob` is `<container>/<name>`. */
export function splitRecordBlob(recordBlob: string): { container: string; name: string } {
  const slash = recordBlob.indexOf('/');
  return { container: recordBlob.slice(0, slash), name: recordBlob.slice(slash + 1) };
}
