/**
 * The queue handler: one message in, exactly one outcome out.
 *
 *   delivered      the SMTP server accepted it (some recipients may be rejected: logged)
 *   dead-lettered  permanent failure, or the last allowed attempt failed: a record with the reason
 *   retry          transient or configuration failure before the last attempt: throws, so the
 *                  queue makes the message visible again after its visibility timeout
 *
 * It knows nothing of the Functions host: functions/ and the local runner both call it.
 */
import type { SendMailOptions } from 'nodemailer';
import type { RelayConfig } from './config';
import { RelayError, isRelayError } from './errors';
import type { Logger } from './log';
import { redact, redactingLogger } from './redact';
import { decodeQueueText, parseQueueMessage } from './message/validate';
import { toMailOptions } from './message/compose';
import type { DeadLetterInput, DeadLetterReceipt } from './deadLetter';

/** What the queue tells us about this delivery of the message (Functions trigger metadata). */
export interface QueueDelivery {
  /** 1 on the first delivery, incremented by the queue on each redelivery. */
  dequeueCount: number;
  queueMessageId?: string;
  insertionTime?: string;
}

export interface SentMessage {
  messageId: string;
  response: string;
  accepted: string[];
  rejected: string[];
}

export interface MessageSender {
  send(mail: SendMailOptions): Promise<SentMessage>;
}

export interface DeadLetterSink {
  write(input: DeadLetterInput): Promise<DeadLetterReceipt>;
}

export interface RelayDependencies {
  config: Pick<RelayConfig, 'mail' | 'queue'>;
  sender: MessageSender;
  deadLetters: DeadLetterSink;
}

export type RelayOutcome =
  | ({ status: 'delivered'; messageKey?: string } & SentMessage)
  | { status: 'dead-lettered'; reason: RelayError['reason']; messageKey?: string; record: DeadLetterReceipt };

/**
 * Thrown to make the host deliver the message again. Its text is safe to log
 * (the host logs it): reason, provider reply and remedy, never a secret.
 */
export class RetryLaterError extends Error {
  constructor(readonly failure: RelayError, readonly attempt: number) {
    super(
      redact(
        `${failure.reason} (attempt ${attempt}): ${failure.message}` +
          (failure.providerReply ? ` | provider: ${failure.providerReply}` : '') +
          (failure.remedy ? ` | fix: ${failure.remedy}` : ''),
      ),
    );
    this.name = 'RetryLaterError';
  }
}

export async function relayQueueMessage(
  payload: unknown,
  delivery: QueueDelivery,
  deps: RelayDependencies,
  invocationLogger: Logger,
): Promise<RelayOutcome> {
  const logger = redactingLogger(invocationLogger);
  const original = decodeQueueText(payload);
  let messageKey: string | undefined;
  try {
    const message = parseQueueMessage(payload, deps.config.mail);
    messageKey = message.id;
    const sent = await deps.sender.send(toMailOptions(message, deps.config.mail));
    logger.info('mail delivered', {
      event: 'relay.delivered',
      messageKey,
      queueMessageId: delivery.queueMessageId,
      attempt: delivery.dequeueCount,
      messageId: sent.messageId,
      smtpReply: sent.response,
      accepted: sent.accepted,
      rejected: sent.rejected,
    });
    if (sent.rejected.length > 0) {
      logger.warn('some recipients were rejected', {
        event: 'relay.recipients_rejected',
        messageKey,
        messageId: sent.messageId,
        rejected: sent.rejected,
      });
    }
    return { status: 'delivered', messageKey, ...sent };
  } catch (error) {
    const failure = toRelayError(error);
    const lastAttempt = delivery.dequeueCount >= deps.config.queue.maxDequeueCount;
    if (failure.retryable && !lastAttempt) {
      logger.warn('delivery failed, the queue will retry', {
        event: 'relay.retry',
        messageKey,
        queueMessageId: delivery.queueMessageId,
        attempt: delivery.dequeueCount,
        maxAttempts: deps.config.queue.maxDequeueCount,
        ...failure.toJSON(),
      });
      throw new RetryLaterError(failure, delivery.dequeueCount);
    }
    return deadLetter(failure, original, messageKey, delivery, deps, logger);
  }
}

async function deadLetter(
  failure: RelayError,
  original: string,
  messageKey: string | undefined,
  delivery: QueueDelivery,
  deps: RelayDependencies,
  logger: Logger,
): Promise<RelayOutcome> {
  const finalAttempt = failure.retryable;
  let record: DeadLetterReceipt;
  try {
    record = await deps.deadLetters.write({
      reason: failure.reason,
      kind: failure.kind,
      description: failure.message,
      providerReply: failure.providerReply,
      remedy: failure.remedy,
      original,
      messageKey,
      queueMessageId: delivery.queueMessageId,
      attempts: delivery.dequeueCount,
      firstEnqueuedAt: delivery.insertionTime,
      finalAttempt,
    });
  } catch (storageError) {
    // The record could not be written: keep the message on its queue rather than lose it.
    const unavailable = new RelayError('could not write the dead-letter record; the message stays queued', {
      reason: 'storage_unavailable',
      kind: 'transient',
      providerReply: storageError instanceof Error ? storageError.message : String(storageError),
      cause: storageError,
    });
    logger.error('dead-lettering failed, the message stays on its queue', {
      event: 'relay.deadletter_failed',
      messageKey,
      queueMessageId: delivery.queueMessageId,
      attempt: delivery.dequeueCount,
      originalReason: failure.reason,
      ...unavailable.toJSON(),
    });
    throw new RetryLaterError(unavailable, delivery.dequeueCount);
  }
  logger.error(finalAttempt ? 'last attempt failed, message dead-lettered' : 'permanent failure, message dead-lettered', {
    event: 'relay.dead_lettered',
    messageKey,
    queueMessageId: delivery.queueMessageId,
    attempt: delivery.dequeueCount,
    finalAttempt,
    recordId: record.recordId,
    ...failure.toJSON(),
  });
  return { status: 'dead-lettered', reason: failure.reason, messageKey, record };
}

/** Anything not already classified is unexpected: retried, and dead-lettered as internal_error on the last attempt. */
function toRelayError(error: unknown): RelayError {
  if (isRelayError(error)) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new RelayError(`unexpected error: ${redact(text)}`, { reason: 'internal_error', kind: 'transient', cause: error });
}
