/**
 * Replay: once the cause of a dead-letter is fixed (a permission granted, a
 * secret renewed, a producer corrected), put the dead-lettered messages back on
 * the relay's queue, all of them or those with given reason codes.
 *
 * A replayed message keeps its ledger key (its `id`, or the queue message id it
 * first had), so the delivery ledger still prevents a second send: a message
 * the ledger knows as sent is not replayed. It goes back as a retry copy with
 * its attempts reset and its maximum age counted from the replay. Its record is
 * deleted from the dead-letter queue only after the message is back on the
 * relay's queue, so a failure half-way leaves it dead-lettered, never lost.
 * The clients come from src/app/replay.ts.
 */
import type { QueueClient } from '@azure/storage-queue';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { DeadLetterRecord } from '../delivery/deadLetters';
import type { DeliveryLedger } from '../delivery/ledger';
import { sealForRetry } from '../delivery/retryEnvelope';
import type { EnvelopeKeys } from '../delivery/envelopeKey';
import type { ReasonCode } from '../core/errors';
import { readRecord, scanQueue, type ScanOptions } from './scan';

export interface ReplayDependencies {
  deadLetterQueue: QueueClient;
  relayQueue: QueueClient;
  /** To read records that overflowed into a blob. */
  blobs: BlobServiceClient;
  /** RELAY_DEADLETTER_CONTAINER: an overflowed record is read from this container only (absent: any). */
  deadLetterContainer?: string;
  ledger: DeliveryLedger;
  /** Signs the replayed retry copies (the relay believes only signed ones). */
  envelopes: EnvelopeKeys;
  now?: () => Date;
}

export interface ReplayOptions {
  /** Only records with one of these reasons; empty or absent: all. */
  reasons?: string[];
  /** Report what would be replayed, change nothing. */
  dryRun?: boolean;
  /** Progress every so many records (the command line's stderr). */
  progress?: ScanOptions['progress'];
}

export type ReplayDecision = 'replayed' | 'would-replay' | 'filtered' | 'already-sent' | 'busy' | 'unreadable' | 'failed';

export interface ReplayItem {
  recordId?: string;
  /** A poison queue message (no record: it is known by its queue message id). */
  queueMessageId?: string;
  reason?: ReasonCode;
  messageKey?: string;
  ledgerKey?: string;
  decision: ReplayDecision;
  detail?: string;
}

export interface ReplayReport {
  examined: number;
  counts: Record<ReplayDecision, number>;
  items: ReplayItem[];
}

/** A queue message may hold 64 KiB; a retry copy needs room for its envelope. */
const MAX_QUEUE_MESSAGE_BYTES = 64 * 1024;
export async function replayDeadLetters(deps: ReplayDependencies, options: ReplayOptions = {}): Promise<ReplayReport> {
  const now = deps.now ?? (() => new Date());
  const reasons = new Set(options.reasons ?? []);
  const report = emptyReport();
  await scanQueue(deps.deadLetterQueue, { missingIsEmpty: false, progress: options.progress }, async (item, keep) => {
    report.examined++;
    const decided = await replayOne(item.messageText, deps, reasons, options.dryRun === true, now);
    report.items.push(decided);
    report.counts[decided.decision]++;
    if (decided.decision === 'replayed') {
      await deps.deadLetterQueue.deleteMessage(item.messageId, item.popReceipt);
    } else {
      keep();
    }
  });
  return report;
}

function emptyReport(): ReplayReport {
  return {
    examined: 0,
    counts: { replayed: 0, 'would-replay': 0, filtered: 0, 'already-sent': 0, busy: 0, unreadable: 0, failed: 0 },
    items: [],
  };
}

async function replayOne(text: string, deps: ReplayDependencies, reasons: Set<string>, dryRun: boolean, now: () => Date): Promise<ReplayItem> {
  let record: DeadLetterRecord;
  try {
    record = await readRecord(text, deps.blobs, deps.deadLetterContainer);
  } catch (error) {
    return { decision: 'unreadable', detail: error instanceof Error ? error.message : String(error) };
  }
  const ledgerKey = record.ledgerKey ?? (record.messageKey ? `id:${record.messageKey}` : record.queueMessageId ? `queue:${record.queueMessageId}` : undefined);
  const item: ReplayItem = { recordId: record.recordId, reason: record.reason, messageKey: record.messageKey, ledgerKey, decision: 'filtered' };
  if (reasons.size > 0 && !reasons.has(record.reason)) return item;
  if (record.original === undefined) return { ...item, decision: 'unreadable', detail: 'the record holds no original message' };

  if (ledgerKey !== undefined) {
    const entry = await deps.ledger.read(ledgerKey);
    if (entry?.state === 'sent') return { ...item, decision: 'already-sent', detail: `sent ${entry.sentAt} as ${entry.messageId}` };
    if (entry?.state === 'sending') return { ...item, decision: 'busy', detail: `an attempt holds the message until ${entry.leaseUntil}` };
  }
  if (dryRun) return { ...item, decision: 'would-replay' };

  try {
    if (ledgerKey !== undefined) {
      const reopened = await deps.ledger.reopen(ledgerKey);
      if (reopened === 'already-sent') return { ...item, decision: 'already-sent' };
      if (reopened === 'busy') return { ...item, decision: 'busy' };
    }
    const copy = await sealForRetry(
      {
        attempts: 0,
        firstEnqueuedAt: now().toISOString(),
        ledgerKey,
        originalQueueMessageId: record.queueMessageId,
        lastReason: record.reason,
        lastError: `replayed after: ${record.description}`,
        message: record.original,
      },
      deps.envelopes,
    );
    // A message already at the size limit goes back as it was queued; with an `id` its key is the same.
    const body = Buffer.byteLength(copy) <= MAX_QUEUE_MESSAGE_BYTES ? copy : record.original;
    await deps.relayQueue.sendMessage(body, { messageTimeToLive: -1 });
    return { ...item, decision: 'replayed' };
  } catch (error) {
    return { ...item, decision: 'failed', detail: error instanceof Error ? error.message : String(error) };
  }
}

/** One line per decision, for the command line. */
export function formatReplayReport(report: ReplayReport): string {
  return [...report.items.map(formatReplayItem), formatReplayCounts(report)].join('\n') + '\n';
}

export function formatReplayItem(item: ReplayItem): string {
  return `${item.decision.padEnd(12)} ${item.reason ?? '-'} ${item.messageKey ?? item.ledgerKey ?? item.recordId ?? item.queueMessageId ?? ''}${item.detail ? ` (${item.detail})` : ''}`;
}

export function formatReplayCounts(report: ReplayReport, what = 'replay'): string {
  const counts = Object.entries(report.counts)
    .filter(([, count]) => count > 0)
    .map(([decision, count]) => `${count} ${decision}`)
    .join(', ');
  return `${what}: ${report.examined} examined${counts ? `, ${counts}` : ''}`;
}

export interface PoisonReplayDependencies {
  /** `<queue>-poison`, where the Functions host moves a message after its last failed delivery. */
  poisonQueue: QueueClient;
  relayQueue: QueueClient;
}

export interface PoisonReplayOptions {
  dryRun?: boolean;
  /** Called with each decision as it is made (progress on the command line). */
  onItem?: (item: ReplayItem) => void;
}

/**
 * Puts the messages of the host's poison queue back on the relay's queue. They have no
 * record and no reason (the function threw on every delivery, e.g. while even the storage
 * settings were invalid), so each goes back exactly as found (plain or base64 text, as the
 * trigger reads it) and the relay decides anew; it is deleted from the poison queue only
 * once it is back on the relay's queue. The ledger still stops a second send of a message
 * with an `id`, or of a retry copy (it carries its first queue message id).
 */
export async function replayPoison(deps: PoisonReplayDependencies, options: PoisonReplayOptions = {}): Promise<ReplayReport> {
  const report = emptyReport();
  const decide = (item: ReplayItem) => {
    report.items.push(item);
    report.counts[item.decision]++;
    options.onItem?.(item);
  };
  // The host creates the poison queue with its first poison message: none yet, nothing to do.
  await scanQueue(deps.poisonQueue, { missingIsEmpty: true }, async (message, keep) => {
    report.examined++;
    const item: ReplayItem = { queueMessageId: message.messageId, decision: 'would-replay', detail: `in poison since ${message.insertedOn.toISOString()}` };
    if (options.dryRun) {
      keep();
      decide(item);
      return;
    }
    try {
      await deps.relayQueue.sendMessage(message.messageText, { messageTimeToLive: -1 });
    } catch (error) {
      keep();
      decide({ ...item, decision: 'failed', detail: error instanceof Error ? error.message : String(error) });
      return;
    }
    // Back on the queue: a failed delete leaves a copy in poison (a duplicate the ledger stops for messages with an id), never a loss.
    const deleted = await deps.poisonQueue.deleteMessage(message.messageId, message.popReceipt).then(
      () => undefined,
      (error: unknown) => `requeued, but still in poison too: ${error instanceof Error ? error.message : String(error)}`,
    );
    decide({ ...item, decision: 'replayed', ...(deleted ? { detail: deleted } : {}) });
  });
  return report;
}
