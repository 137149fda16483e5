/**
 * The dead-letter queue as a workflow for the operator: list the records (by
 * reason, since a time), show one whole, purge those of a reason older than an
 * age. Replay is replay.ts. All of it needs storage access only (the
 * dead-letter queue and container, src/app/replay.ts builds the clients).
 *
 * Purge deletes a record's queue message and then its blob (a record too large
 * for the queue keeps its whole text there): a failed blob delete leaves an
 * orphan blob, reported, never a record without its original. The ledger entry
 * stays `dead-lettered`: a late redelivery of the same message (a retry copy
 * still queued, a producer sending the same `id` again) is then known as done
 * and not sent, which is what purging means ("this one is not to go out"). A
 * message that should go out after all is queued again with a new `id`.
 */
import type { QueueClient } from '@azure/storage-queue';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { DeadLetterRecord } from '../delivery/deadLetters';
import { readRecord, scanQueue, splitRecordBlob, type ScanOptions } from './scan';

export interface RecordStore {
  deadLetterQueue: QueueClient;
  /** To read (and purge) records that overflowed into a blob. */
  blobs: BlobServiceClient;
  /** RELAY_DEADLETTER_CONTAINER: purge deletes blobs in this container only. */
  deadLetterContainer: string;
  now?: () => Date;
}

export interface RecordFilter {
  /** Only records with one of these reasons; empty or absent: all. */
  reasons?: string[];
  /** Only records dead-lettered at or after this time. */
  since?: Date;
}

/** What a list shows of a record: everything but the original message. */
export interface RecordSummary {
  recordId: string;
  deadLetteredAt: string;
  reason: string;
  kind: string;
  messageKey?: string;
  queueMessageId?: string;
  attempts: number;
  finalAttempt: boolean;
  description: string;
  providerReply?: string;
  recordBlob?: string;
}

export interface RecordList {
  examined: number;
  unreadable: number;
  records: RecordSummary[];
}

type Progress = ScanOptions['progress'];

export async function listDeadLetters(store: RecordStore, filter: RecordFilter = {}, progress?: Progress): Promise<RecordList> {
  const list: RecordList = { examined: 0, unreadable: 0, records: [] };
  await scanQueue(store.deadLetterQueue, { missingIsEmpty: true, progress }, async (message, keep) => {
    keep();
    list.examined++;
    const record = parseRecord(message.messageText);
    if (!record) list.unreadable++;
    else if (matches(record, filter)) list.records.push(summaryOf(record));
  });
  list.records.sort((a, b) => a.deadLetteredAt.localeCompare(b.deadLetteredAt));
  return list;
}

/** The whole record (the original message included, from its blob when it overflowed), or undefined when no record has this id. */
export async function showDeadLetter(store: RecordStore, recordId: string): Promise<DeadLetterRecord | undefined> {
  let found: string | undefined;
  await scanQueue(store.deadLetterQueue, { missingIsEmpty: true }, async (message, keep) => {
    keep();
    if (found === undefined && parseRecord(message.messageText)?.recordId === recordId) found = message.messageText;
  });
  return found === undefined ? undefined : readRecord(found, store.blobs, store.deadLetterContainer);
}

export interface PurgeOptions {
  /** Required, at least one: purge never deletes every reason by accident. */
  reasons: string[];
  /** Only records dead-lettered more than this long ago. */
  olderThanMs: number;
  /** Report what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** Delete only these records (those a person confirmed after a dry run), if they still match. */
  onlyRecordIds?: ReadonlySet<string>;
  progress?: Progress;
}

export type PurgeDecision = 'purged' | 'would-purge' | 'failed';

export interface PurgeItem extends RecordSummary {
  decision: PurgeDecision;
  detail?: string;
}

export interface PurgeReport {
  examined: number;
  counts: Record<PurgeDecision | 'kept' | 'unreadable', number>;
  items: PurgeItem[];
}

export async function purgeDeadLetters(store: RecordStore, options: PurgeOptions): Promise<PurgeReport> {
  if (options.reasons.length === 0) throw new Error('purge needs at least one reason');
  const now = (store.now ?? (() => new Date()))();
  const cutoff = now.getTime() - options.olderThanMs;
  const reasons = new Set(options.reasons);
  const report: PurgeReport = { examined: 0, counts: { purged: 0, 'would-purge': 0, failed: 0, kept: 0, unreadable: 0 }, items: [] };
  const decide = (item: PurgeItem) => {
    report.items.push(item);
    report.counts[item.decision]++;
  };
  await scanQueue(store.deadLetterQueue, { missingIsEmpty: true, progress: options.progress }, async (message, keep) => {
    report.examined++;
    const record = parseRecord(message.messageText);
    if (!record) report.counts.unreadable++;
    const due =
      record !== undefined &&
      reasons.has(record.reason) &&
      Date.parse(record.deadLetteredAt) < cutoff &&
      (options.onlyRecordIds === undefined || options.onlyRecordIds.has(record.recordId));
    if (!due) {
      if (record) report.counts.kept++;
      keep();
      return;
    }
    const item: PurgeItem = { ...summaryOf(record), decision: 'would-purge' };
    if (options.dryRun) {
      keep();
      decide(item);
      return;
    }
    try {
      await store.deadLetterQueue.deleteMessage(message.messageId, message.popReceipt);
    } catch (error) {
      keep();
      decide({ ...item, decision: 'failed', detail: errorText(error) });
      return;
    }
    decide({ ...item, decision: 'purged', ...(record.recordBlob ? { detail: await deleteRecordBlob(store, record.recordBlob) } : {}) });
  });
  return report;
}

/** Deletes the overflow blob of a purged record; the words for the report when it stays. */
async function deleteRecordBlob(store: RecordStore, recordBlob: string): Promise<string | undefined> {
  const { container, name } = splitRecordBlob(recordBlob);
  // The record names its blob: only ever one in the dead-letter container.
  if (container !== store.deadLetterContainer) return `blob ${recordBlob} left: not in the dead-letter container ${store.deadLetterContainer}`;
  try {
    await store.blobs.getContainerClient(container).getBlockBlobClient(name).deleteIfExists();
    return undefined;
  } catch (error) {
    return `the record is gone, its blob ${recordBlob} is left (${errorText(error)}); delete it by hand`;
  }
}

function parseRecord(text: string): DeadLetterRecord | undefined {
  try {
    const record = JSON.parse(text) as DeadLetterRecord;
    return record && typeof record.recordId === 'string' && typeof record.reason === 'string' && typeof record.deadLetteredAt === 'string' ? record : undefined;
  } catch {
    return undefined;
  }
}

function matches(record: DeadLetterRecord, filter: RecordFilter): boolean {
  if (filter.reasons && filter.reasons.length > 0 && !filter.reasons.includes(record.reason)) return false;
  if (filter.since && !(Date.parse(record.deadLetteredAt) >= filter.since.getTime())) return false;
  return true;
}

function summaryOf(record: DeadLetterRecord): RecordSummary {
  const summary: RecordSummary = {
    recordId: record.recordId,
    deadLetteredAt: record.deadLetteredAt,
    reason: record.reason,
    kind: record.kind,
    messageKey: record.messageKey,
    queueMessageId: record.queueMessageId,
    attempts: record.attempts,
    finalAttempt: record.finalAttempt,
    description: record.description,
    providerReply: record.providerReply,
    recordBlob: record.recordBlob,
  };
  for (const key of Object.keys(summary) as Array<keyof RecordSummary>) if (summary[key] === undefined) delete summary[key];
  return summary;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** "7d", "12h", "30m" → milliseconds; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d{1,6})([mhd])$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** `--since`: an ISO 8601 time, or a duration back from now ("24h"). */
export function parseSince(text: string, now: Date = new Date()): Date | undefined {
  const duration = parseDuration(text);
  if (duration !== undefined) return new Date(now.getTime() - duration);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : new Date(time);
}
