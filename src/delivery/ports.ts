/**
 * The delivery ports: what the queue handler (src/relay/handler.ts) takes from
 * outside, each defined once here. The queue's metadata of a delivery, a sender
 * and what it reports, a dead-letter sink, and a retry queue; implemented by
 * src/smtp and src/throttle (senders) and by this folder (dead letters, retry
 * copies), or by a test's stand-ins.
 */
import type { SendMailOptions } from 'nodemailer';
import type { FailureKind, ReasonCode } from '../core/errors';

/** What the queue tells us about this delivery of the message (Functions trigger metadata). */
export interface QueueDelivery {
  /** 1 on the first delivery, incremented by the queue on each redelivery. */
  dequeueCount: number;
  queueMessageId?: string;
  insertionTime?: string;
}

/** What the SMTP server accepted: recorded in the ledger, logged, and answered by /api/send. */
export interface SentMessage {
  messageId: string;
  /** The server's final reply, e.g. "250 2.6.0 <id> Queued mail for delivery". */
  response: string;
  accepted: string[];
  /** Recipients the server refused while others were accepted (the message still went out). */
  rejected: string[];
}

export interface MessageSender {
  send(mail: SendMailOptions): Promise<SentMessage>;
}

export interface DeadLetterInput {
  reason: ReasonCode;
  kind: FailureKind;
  /** What failed, for a person. */
  description: string;
  providerReply?: string;
  remedy?: string;
  /** The message exactly as it was taken from the queue. */
  original: string;
  /** The sender (RELAY_SENDERS id, or `default`) the message was routed to, when it got that far. */
  sender?: string;
  /** The application's idempotency key (`id`), when the message had a readable one. */
  messageKey?: string;
  /** The delivery ledger's key (`id:<id>` or `queue:<first queue message id>`); replay keeps it so the ledger still prevents duplicates. */
  ledgerKey?: string;
  queueMessageId?: string;
  attempts: number;
  firstEnqueuedAt?: string;
  /** True when the failure was retryable but this was the last allowed attempt. */
  finalAttempt: boolean;
}

export interface DeadLetterReceipt {
  recordId: string;
  queueMessageId: string;
  recordBlob?: string;
}

/** Where a message goes that cannot be delivered: writes its record, or rejects (the message then stays queued). */
export interface DeadLetterSink {
  write(input: DeadLetterInput): Promise<DeadLetterReceipt>;
}

/** Where retry copies go: the relay's own queue, with a visibility delay. */
export interface RetryQueue {
  /** Enqueues `text` invisible for `delaySeconds`; returns the new queue message id. */
  enqueue(text: string, delaySeconds: number): Promise<string>;
}
