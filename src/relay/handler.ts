/**
 * The queue handler: one message in, exactly one outcome out.
 *
 *   delivered        the SMTP server accepted it (some recipients may be rejected: logged)
 *   duplicate        the ledger says it was already sent (or dead-lettered): nothing is sent again
 *                    (a different message reusing the same `id` is dead-lettered as id_conflict)
 *   retry-scheduled  transient or configuration failure: a retry copy is queued with the backoff
 *                    as its visibility delay, and the original is let go
 *   dead-lettered    permanent failure, or a retryable one past the maximum age (or on the
 *                    host's last allowed delivery): a record with the reason
 *
 * Whenever the outcome cannot be made durable (the retry copy or the dead-letter
 * record cannot be written) it throws, so the host keeps the message and
 * delivers it again: nothing is acknowledged before it is safe.
 *
 * It knows nothing of the Functions host: functions/ and the local runner both call it.
 */
import type { RelayConfig } from '../settings';
import { RelayError, isRelayError } from '../core/errors';
import { advice } from '../core/diagnoses';
import type { Logger } from '../core/log';
import type { DeliveryCounters } from '../core/metrics';
import { relayMetrics } from '../telemetry/metrics';
import type { ConcurrencyGate } from '../throttle/concurrencyGate';
import { redact } from '../core/redact';
import { decodeQueueText, InvalidMessageError, parseQueueMessage, parseRoutedMessage, type RelayMessage, type SenderRouting } from '../message/validate';
import { stableMessageId, toMailOptions } from '../message/compose';
import { closeAttachmentStreams } from '../delivery/attachmentBlobs';
import type { DeadLetterReceipt, DeadLetterSink, MessageSender, QueueDelivery, RetryQueue, SentMessage } from '../delivery/ports';
import type { DeliveryLedger, LedgerClaim, LedgerEntry } from '../delivery/ledger';
import { isPastMaxAge, retryDelaySeconds, type RetryPolicy } from '../delivery/backoff';
import { openRetry, sealForRetry, type RetryEnvelope, type Unwrapped } from '../delivery/retryEnvelope';
import type { EnvelopeKeys } from '../delivery/envelopeKey';
import { messageDigest } from '../delivery/messageDigest';
import { renewWhileSending, type ClaimRenewal } from '../delivery/claimRenewal';

/** One sender's parts, as the handler uses them for a message routed to it. */
export interface SenderRoute {
  id: string;
  /** The sender's From policy and mailbox. */
  mail: RelayConfig['mail'];
  sender: MessageSender;
  sendSlots?: ConcurrencyGate;
  /** The sender's own delivery counters (besides the process's). */
  counters?: DeliveryCounters;
}

/** The senders a message may choose, by its `sender` field or its `from` (src/app builds each one's parts on first use). */
export interface SenderDirectory {
  routing: SenderRouting;
  route(id: string): SenderRoute;
}

export interface RelayDependencies {
  config: Pick<RelayConfig, 'mail' | 'queue'>;
  /** The default sender's mail sender; with `senders`, a message goes through the sender it chose instead. */
  sender: MessageSender;
  /** Several senders (RELAY_SENDERS); absent: every message goes through `sender` with `config.mail`. */
  senders?: SenderDirectory;
  deadLetters: DeadLetterSink;
  /** Fetches attachments sent by reference (claim check); without it only inline attachments can be sent. */
  attachments?: { resolve(message: RelayMessage): Promise<RelayMessage> };
  /** Sends each message key once; without it a redelivered message is sent again. */
  ledger?: DeliveryLedger;
  /** Bounds how many messages fetch attachments and send at once (the SMTP pool's size). */
  sendSlots?: ConcurrencyGate;
  /** This instance's delivery counters (health output). */
  counters?: DeliveryCounters;
  /**
   * Backoff through retry copies, signed with `envelopes` (only signed copies are believed);
   * without it a failure throws and the host's visibilityTimeout applies.
   */
  retries?: { queue: RetryQueue; policy: RetryPolicy; envelopes: EnvelopeKeys };
  now?: () => Date;
  random?: () => number;
}

/** What the retry / dead-letter decision needs: no sender, no message settings. */
export type FailureDependencies = Pick<RelayDependencies, 'deadLetters' | 'ledger' | 'retries' | 'now' | 'random'> & {
  config: Pick<RelayConfig, 'queue'>;
};

export type RelayOutcome =
  | ({ status: 'delivered'; messageKey?: string } & SentMessage)
  | { status: 'duplicate'; messageKey: string; recorded: LedgerEntry }
  | { status: 'retry-scheduled'; reason: RelayError['reason']; messageKey?: string; attempts: number; delaySeconds: number; retryQueueMessageId: string }
  | { status: 'dead-lettered'; reason: RelayError['reason']; messageKey?: string; record: DeadLetterReceipt };

/**
 * Thrown to make the host deliver the message again. Its text is safe to log
 * (the host logs it): reason, provider reply and remedy, never a secret.
 */
export class RetryLaterError extends Error {
  constructor(
    readonly failure: RelayError,
    readonly attempt: number,
  ) {
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

/** Everything one invocation knows about the message it is handling. */
interface Attempt {
  payload: unknown;
  /** The message text as queued, for a dead-letter record (only computed when one is written). */
  original(): string;
  envelope?: RetryEnvelope;
  delivery: QueueDelivery;
  /** Attempts including this one, across retry copies and host redeliveries. */
  number: number;
  firstEnqueuedAt: Date;
  /** The application's `id` (for logs and records), when readable. */
  messageKey?: string;
  /** The ledger key: `id:<id>`, else `queue:<first queue message id>`. */
  ledgerKey?: string;
  originalQueueMessageId?: string;
  claim?: LedgerClaim;
  /** The content digest (messageDigest.ts), for the ledger. */
  digest?: string;
  /** Set when a renewal found the claim taken over while this attempt was sending. */
  claimLost?: boolean;
  /** The sender the message chose, once it is read (logs and counters carry its id). */
  route?: SenderRoute;
}

/**
 * Handles one delivery of a queue message. `logger` is expected to redact: src/app
 * hands the handler out only behind redactingLogger (src/app/relay.ts).
 */
export async function relayQueueMessage(payload: unknown, delivery: QueueDelivery, deps: RelayDependencies, logger: Logger): Promise<RelayOutcome> {
  const seen: { route?: SenderRoute } = {};
  const counterSets = () => [deps.counters, seen.route?.counters].filter((set, i, all): set is DeliveryCounters => set !== undefined && all.indexOf(set) === i);
  try {
    const outcome = await handleOnce(payload, delivery, deps, logger, seen);
    for (const counters of counterSets()) countOutcome(counters, outcome);
    return outcome;
  } catch (error) {
    // Thrown: the host delivers the message again.
    for (const counters of counterSets()) {
      counters.retried++;
      if (error instanceof RetryLaterError && error.failure.reason === 'smtp_throttled') counters.throttled++;
    }
    throw error;
  }
}

function runInSendSlot<T>(route: SenderRoute, task: () => Promise<T>): Promise<T> {
  return route.sendSlots ? route.sendSlots.run(task) : task();
}

function countOutcome(counters: DeliveryCounters, outcome: RelayOutcome): void {
  if (outcome.status === 'delivered') counters.delivered++;
  else if (outcome.status === 'duplicate') counters.duplicatesSkipped++;
  else if (outcome.status === 'dead-lettered') counters.deadLettered++;
  else counters.retried++;
  if (outcome.status === 'retry-scheduled' && outcome.reason === 'smtp_throttled') counters.throttled++;
}

async function handleOnce(
  payload: unknown,
  delivery: QueueDelivery,
  deps: RelayDependencies,
  logger: Logger,
  seen: { route?: SenderRoute },
): Promise<RelayOutcome> {
  const started = performance.now();
  const now = deps.now ?? (() => new Date());
  const { attempt, untrusted, keyError } = await openAttempt(payload, delivery, deps, now);
  // Derived from the message's id when it has one (below), not from the envelope's ledgerKey field.
  attempt.ledgerKey = queueKey(attempt);
  if (keyError) return fail(keyUnreadable(keyError), attempt, deps, logger, now);

  let message: RelayMessage;
  let senderId: string | undefined;
  try {
    if (deps.senders) ({ message, sender: senderId } = parseRoutedMessage(attempt.payload, deps.senders.routing));
    else message = parseQueueMessage(attempt.payload, deps.config.mail);
  } catch (error) {
    // Claimed too (under the queue message's key), so a redelivery does not dead-letter it twice.
    const invalid = untrusted === undefined ? toRelayError(error) : notARetryCopy(error, untrusted);
    try {
      const done = await claim(attempt, deps, logger);
      if (done) return done;
    } catch (claimError) {
      return fail(toRelayError(claimError), attempt, deps, logger, now);
    }
    return fail(invalid, attempt, deps, logger, now);
  }
  attempt.messageKey = message.id;
  if (message.id !== undefined) attempt.ledgerKey = `id:${message.id}`;

  try {
    // Built on first use of the sender; a sender that cannot be built fails this message only.
    const route: SenderRoute =
      deps.senders && senderId !== undefined
        ? deps.senders.route(senderId)
        : { id: 'default', mail: deps.config.mail, sender: deps.sender, sendSlots: deps.sendSlots };
    attempt.route = route;
    seen.route = route;
    if (deps.ledger) attempt.digest = messageDigest(message, route.mail.from);
    const claimed = await claim(attempt, deps, logger, message);
    if (claimed) return claimed;
    const renewal = keepClaim(attempt, deps, logger);
    let sent: SentMessage;
    try {
      sent = await runInSendSlot(route, async () => {
        const complete = deps.attachments ? await deps.attachments.resolve(message) : message;
        try {
          // Taken over while waiting for a slot, the rate limit or the attachments: the other attempt sends it.
          if (renewal?.lost) throw claimTakenOver(attempt, deps.ledger!.leaseSeconds);
          return await route.sender.send(toMailOptions(complete, route.mail));
        } finally {
          // Blob downloads a send did not read to the end (e.g. the rate limit handed the message back).
          closeAttachmentStreams(complete);
        }
      });
    } finally {
      // No renewal may race the final write (sent, released or dead-lettered): it needs the newest ETag.
      await renewal?.stop();
    }
    await recordSent(attempt, sent, deps, logger);
    // Enqueue (the application's, carried through retry copies and the ledger) to the server's 250.
    const latencyMs = Math.max(0, now().getTime() - attempt.firstEnqueuedAt.getTime());
    relayMetrics.delivered(latencyMs, route.id);
    // One line per delivery, for Application Insights queries (customDimensions).
    logger.info('mail delivered', {
      event: 'relay.delivered',
      outcome: 'delivered',
      sender: route.id,
      messageKey: attempt.messageKey,
      queueMessageId: delivery.queueMessageId,
      attempt: attempt.number,
      durationMs: Math.round(performance.now() - started),
      latencyMs,
      recipients: message.to.length + message.cc.length + message.bcc.length,
      messageId: sent.messageId,
      smtpReply: sent.response,
      accepted: sent.accepted,
      rejected: sent.rejected,
    });
    if (sent.rejected.length > 0) {
      logger.warn('some recipients were rejected', {
        event: 'relay.recipients_rejected',
        sender: route.id,
        messageKey: attempt.messageKey,
        messageId: sent.messageId,
        rejected: sent.rejected,
      });
    }
    return { status: 'delivered', messageKey: attempt.messageKey, ...sent };
  } catch (error) {
    // An id conflict whose dead-letter record could not be written: the message stays on its queue.
    if (error instanceof RetryLaterError) throw error;
    return fail(toRelayError(error), attempt, deps, logger, now);
  }
}

/**
 * A message the relay cannot handle at all because its own settings are invalid
 * (`failure`: configuration_invalid), while its queues can still be written. The
 * message is not read (its checks depend on those settings) and takes the same
 * retry / dead-letter decision as any other failure: retry copies with the backoff
 * until the settings are fixed, a dead-letter record with the reason at its
 * maximum age. Nothing is claimed in the ledger, since nothing is sent.
 */
export async function holdUnread(
  payload: unknown,
  delivery: QueueDelivery,
  failure: RelayError,
  deps: FailureDependencies,
  logger: Logger,
): Promise<RelayOutcome> {
  const now = deps.now ?? (() => new Date());
  const { attempt, keyError } = await openAttempt(payload, delivery, deps, now);
  if (keyError) return fail(keyUnreadable(keyError), attempt, deps, logger, now);
  return fail(failure, attempt, deps, logger, now);
}

/** The attempt as the queue delivered it, its retry envelope verified (no ledger key: that needs the message). */
async function openAttempt(
  payload: unknown,
  delivery: QueueDelivery,
  deps: Pick<RelayDependencies, 'retries'>,
  now: () => Date,
): Promise<{ attempt: Attempt; untrusted?: string; keyError?: unknown }> {
  const { message: inner, envelope, untrusted, keyError } = await unwrap(payload, deps);
  const attempt: Attempt = {
    payload: inner,
    original: () => decodeQueueText(inner),
    envelope,
    delivery,
    number: (envelope?.attempts ?? 0) + delivery.dequeueCount,
    firstEnqueuedAt: firstEnqueued(envelope, delivery, now),
    // Trusted: a verified envelope is the relay's own, and the queue sets its message ids.
    originalQueueMessageId: envelope?.originalQueueMessageId ?? delivery.queueMessageId,
  };
  return { attempt, untrusted, keyError };
}

/** The retry copy can be judged neither genuine nor forged now: let the queue bring it back. */
function keyUnreadable(keyError: unknown): RelayError {
  return storageUnavailable('could not read the retry-envelope key to check a retry copy; it will be tried again', keyError);
}

/** The ledger key of a message without an id: its first queue message id. */
function queueKey(attempt: Attempt): string | undefined {
  return attempt.originalQueueMessageId ? `queue:${attempt.originalQueueMessageId}` : undefined;
}

/**
 * Claims the message in the ledger; returns an outcome when it must not be sent: already done,
 * or its key belongs to a message with other content (dead-lettered as id_conflict). Throws
 * delivery_in_progress when another attempt holds a live claim.
 */
async function claim(attempt: Attempt, deps: RelayDependencies, logger: Logger, message?: RelayMessage): Promise<RelayOutcome | undefined> {
  if (!deps.ledger || attempt.ledgerKey === undefined) return undefined;
  let result;
  try {
    result = await deps.ledger.claim(attempt.ledgerKey, {
      queueMessageId: attempt.originalQueueMessageId,
      digest: attempt.digest,
      plannedMessageId: message?.id === undefined ? undefined : stableMessageId(message.id, message.from.address),
      attempt: attempt.number,
      firstEnqueuedAt: attempt.firstEnqueuedAt.toISOString(),
      sender: attempt.route?.id,
    });
  } catch (error) {
    throw storageUnavailable('could not claim the message in the delivery ledger; it will be tried again', error);
  }
  if (result.outcome === 'conflict' && message) return idConflict(attempt, result.entry, message, deps, logger);
  if (result.outcome === 'claimed') {
    attempt.claim = result.claim;
    // The ledger counts attempts and keeps the first-enqueue time; an envelope (even a genuine old one) does not override it.
    attempt.number = result.claim.entry.attempts ?? attempt.number;
    const first = Date.parse(result.claim.entry.firstEnqueuedAt ?? '');
    if (!Number.isNaN(first)) attempt.firstEnqueuedAt = new Date(first);
    if (result.previous?.state === 'sending') {
      logger.warn('took over an expired claim: the previous attempt may have died mid-send', {
        event: 'relay.claim_taken_over',
        messageKey: attempt.messageKey,
        ledgerKey: attempt.ledgerKey,
        previousOwner: result.previous.owner,
        previousClaimedAt: result.previous.claimedAt,
      });
    }
    return undefined;
  }
  if (result.outcome === 'done') {
    logger.info('already handled; not sent again', {
      event: 'relay.duplicate_suppressed',
      messageKey: attempt.messageKey,
      ledgerKey: attempt.ledgerKey,
      queueMessageId: attempt.delivery.queueMessageId,
      state: result.entry.state,
      messageId: result.entry.messageId,
      smtpReply: result.entry.smtpReply,
      deadLetterRecordId: result.entry.deadLetterRecordId,
    });
    return { status: 'duplicate', messageKey: attempt.ledgerKey, recorded: result.entry };
  }
  // Only a claim with a digest (a readable message) can conflict.
  if (result.outcome === 'conflict')
    throw new RelayError(`ledger entry ${attempt.ledgerKey} belongs to another message`, { reason: 'internal_error', kind: 'transient' });
  throw new RelayError(`another instance is sending this message (claim held until ${result.entry.leaseUntil})`, {
    reason: 'delivery_in_progress',
    kind: 'transient',
    retryAfterSeconds: result.retryAfterSeconds,
  });
}

/**
 * The server accepted the message: record it. A ledger that cannot be written
 * now must not turn a delivered message into a retry (that would send it again).
 */
async function recordSent(attempt: Attempt, sent: SentMessage, deps: RelayDependencies, logger: Logger): Promise<void> {
  if (attempt.claimLost) {
    logger.error('delivered after another attempt took the claim over: that attempt may send it too (same Message-ID for a message with an id)', {
      event: 'relay.claim_lost',
      messageKey: attempt.messageKey,
      ledgerKey: attempt.ledgerKey,
      messageId: sent.messageId,
    });
    return;
  }
  if (!deps.ledger || !attempt.claim) return;
  try {
    await deps.ledger.markSent(attempt.claim, sent);
  } catch (error) {
    logger.error('delivered, but the delivery ledger could not record it: a redelivery after the claim expires would send it again', {
      event: 'relay.ledger_update_failed',
      messageKey: attempt.messageKey,
      ledgerKey: attempt.ledgerKey,
      messageId: sent.messageId,
      error: redact(error instanceof Error ? error.message : String(error)),
    });
  }
}

/** One place decides what a failure means: retry copy, dead-letter, or throw for the host to retry. */
async function fail(failure: RelayError, attempt: Attempt, deps: FailureDependencies, logger: Logger, now: () => Date): Promise<RelayOutcome> {
  if (!failure.retryable) return deadLetter(failure, attempt, deps, logger, false);
  const policy = deps.retries?.policy;
  if (policy && isPastMaxAge(attempt.firstEnqueuedAt, now(), policy)) {
    const hours = Math.round(((now().getTime() - attempt.firstEnqueuedAt.getTime()) / 3_600_000) * 10) / 10;
    logger.warn(`giving up after ${attempt.number} attempts over ${hours} h (maximum age reached)`, {
      event: 'relay.max_age_reached',
      messageKey: attempt.messageKey,
      maxAgeSeconds: policy.maxAgeSeconds,
    });
    return deadLetter(failure, attempt, deps, logger, true);
  }
  // The host's safety net: its last allowed delivery of this queue message still ends with a reason.
  if (attempt.delivery.dequeueCount >= deps.config.queue.maxDequeueCount) return deadLetter(failure, attempt, deps, logger, true);
  if (!deps.retries) {
    await releaseClaim(attempt, failure, deps, logger);
    logRetry(failure, attempt, deps, logger, undefined);
    throw new RetryLaterError(failure, attempt.number);
  }
  return scheduleRetry(failure, attempt, deps.retries, deps, logger);
}

async function scheduleRetry(
  failure: RelayError,
  attempt: Attempt,
  retries: NonNullable<RelayDependencies['retries']>,
  deps: FailureDependencies,
  logger: Logger,
): Promise<RelayOutcome> {
  const delaySeconds = retryDelaySeconds(attempt.number, retries.policy, failure, deps.random);
  const fields = {
    attempts: attempt.number,
    firstEnqueuedAt: attempt.firstEnqueuedAt.toISOString(),
    ledgerKey: attempt.ledgerKey,
    originalQueueMessageId: attempt.originalQueueMessageId,
    lastReason: failure.reason,
    lastError: redact(failure.message),
    message: attempt.payload,
  };
  // Release before the copy exists, so the copy never finds our own claim still held.
  await releaseClaim(attempt, failure, deps, logger);
  let retryQueueMessageId: string;
  try {
    retryQueueMessageId = await retries.queue.enqueue(await sealForRetry(fields, retries.envelopes), delaySeconds);
  } catch (error) {
    // No copy: keep the original (the host makes it visible again after its visibilityTimeout).
    const unavailable = storageUnavailable(`could not queue the retry copy (${failure.reason}); the message stays queued`, error);
    logger.error('retry copy not written, the message stays on its queue', {
      event: 'relay.retry_copy_failed',
      sender: attempt.route?.id,
      messageKey: attempt.messageKey,
      queueMessageId: attempt.delivery.queueMessageId,
      attempt: attempt.number,
      originalReason: failure.reason,
      ...unavailable.toJSON(),
    });
    relayMetrics.retried(failure.reason, attempt.route?.id);
    throw new RetryLaterError(failure, attempt.number);
  }
  logRetry(failure, attempt, deps, logger, { delaySeconds, retryQueueMessageId });
  return { status: 'retry-scheduled', reason: failure.reason, messageKey: attempt.messageKey, attempts: attempt.number, delaySeconds, retryQueueMessageId };
}

function logRetry(
  failure: RelayError,
  attempt: Attempt,
  deps: FailureDependencies,
  logger: Logger,
  scheduled: { delaySeconds: number; retryQueueMessageId: string } | undefined,
): void {
  relayMetrics.retried(failure.reason, attempt.route?.id);
  logger.warn(scheduled ? `delivery failed, retrying in ${scheduled.delaySeconds} s` : 'delivery failed, the queue will retry', {
    event: 'relay.retry',
    sender: attempt.route?.id,
    messageKey: attempt.messageKey,
    queueMessageId: attempt.delivery.queueMessageId,
    attempt: attempt.number,
    firstEnqueuedAt: attempt.firstEnqueuedAt.toISOString(),
    ...(scheduled ?? { maxAttempts: deps.config.queue.maxDequeueCount }),
    ...failure.toJSON(),
  });
}

async function releaseClaim(attempt: Attempt, failure: RelayError, deps: FailureDependencies, logger: Logger): Promise<void> {
  if (!deps.ledger || !attempt.claim) return;
  try {
    await deps.ledger.release(attempt.claim, failure.reason);
  } catch (error) {
    // The claim then simply expires with its lease; the next attempt waits for that.
    logger.warn('could not release the ledger claim; the next attempt waits for it to expire', {
      event: 'relay.ledger_release_failed',
      ledgerKey: attempt.ledgerKey,
      error: redact(error instanceof Error ? error.message : String(error)),
    });
  }
}

async function deadLetter(failure: RelayError, attempt: Attempt, deps: FailureDependencies, logger: Logger, finalAttempt: boolean): Promise<RelayOutcome> {
  const { delivery } = attempt;
  let record: DeadLetterReceipt;
  try {
    record = await deps.deadLetters.write({
      reason: failure.reason,
      kind: failure.kind,
      description: failure.message,
      providerReply: failure.providerReply,
      remedy: failure.remedy,
      original: attempt.original(),
      sender: attempt.route?.id,
      messageKey: attempt.messageKey,
      ledgerKey: attempt.ledgerKey,
      queueMessageId: attempt.originalQueueMessageId ?? delivery.queueMessageId,
      attempts: attempt.number,
      firstEnqueuedAt: attempt.firstEnqueuedAt.toISOString(),
      finalAttempt,
    });
  } catch (storageError) {
    // The record could not be written: keep the message on its queue rather than lose it.
    const unavailable = storageUnavailable('could not write the dead-letter record; the message stays queued', storageError);
    logger.error('dead-lettering failed, the message stays on its queue', {
      event: 'relay.deadletter_failed',
      sender: attempt.route?.id,
      messageKey: attempt.messageKey,
      queueMessageId: delivery.queueMessageId,
      attempt: attempt.number,
      originalReason: failure.reason,
      ...unavailable.toJSON(),
    });
    await releaseClaim(attempt, failure, deps, logger);
    relayMetrics.retried(unavailable.reason, attempt.route?.id);
    throw new RetryLaterError(unavailable, attempt.number);
  }
  if (deps.ledger && attempt.claim) {
    await deps.ledger.markDeadLettered(attempt.claim, failure.reason, record.recordId).catch((error: unknown) =>
      logger.warn('dead-lettered, but the ledger could not record it', {
        event: 'relay.ledger_update_failed',
        ledgerKey: attempt.ledgerKey,
        error: redact(error instanceof Error ? error.message : String(error)),
      }),
    );
  }
  logger.error(finalAttempt ? 'last attempt failed, message dead-lettered' : 'permanent failure, message dead-lettered', {
    event: 'relay.dead_lettered',
    sender: attempt.route?.id,
    messageKey: attempt.messageKey,
    queueMessageId: delivery.queueMessageId,
    attempt: attempt.number,
    finalAttempt,
    recordId: record.recordId,
    ...failure.toJSON(),
  });
  relayMetrics.deadLettered(failure.reason, attempt.route?.id);
  return { status: 'dead-lettered', reason: failure.reason, messageKey: attempt.messageKey, record };
}

/** The payload split into message and verified envelope; a key that cannot be read is reported, not thrown. */
async function unwrap(payload: unknown, deps: Pick<RelayDependencies, 'retries'>): Promise<Unwrapped & { keyError?: unknown }> {
  try {
    return await openRetry(payload, deps.retries?.envelopes);
  } catch (error) {
    return { message: payload, keyError: error };
  }
}

/** A payload shaped like a retry envelope that is not believed: said first among its problems. */
function notARetryCopy(error: unknown, untrusted: string): RelayError {
  const advised = advice('not_a_retry_copy');
  if (error instanceof InvalidMessageError) return new InvalidMessageError(error.reason, [{ path: '$', problem: untrusted }, ...error.problems], advised);
  const failure = toRelayError(error);
  return new RelayError(`${failure.message} (${untrusted})`, { reason: failure.reason, kind: failure.kind, ...advised, cause: error });
}

/** Starts renewing a fresh claim for the duration of the send. */
function keepClaim(attempt: Attempt, deps: RelayDependencies, logger: Logger): ClaimRenewal | undefined {
  const claimed = attempt.claim;
  if (!deps.ledger || !claimed) return undefined;
  return renewWhileSending(deps.ledger, claimed, {
    onLost: () => {
      // Not ours any more: nothing may be written under it (release, sent, dead-lettered would all fail the If-Match).
      attempt.claim = undefined;
      attempt.claimLost = true;
      logger.error('the ledger claim was taken over while this attempt held it (renewals failed for a whole lease?)', {
        event: 'relay.claim_lost',
        messageKey: attempt.messageKey,
        ledgerKey: attempt.ledgerKey,
        leaseSeconds: deps.ledger?.leaseSeconds,
      });
    },
    onFailure: (error) =>
      logger.warn('could not renew the ledger claim; trying again at the next renewal', {
        event: 'relay.claim_renewal_failed',
        messageKey: attempt.messageKey,
        ledgerKey: attempt.ledgerKey,
        error: redact(error instanceof Error ? error.message : String(error)),
      }),
  });
}

function claimTakenOver(attempt: Attempt, leaseSeconds: number): RelayError {
  return new RelayError(`another attempt took over the claim on ${attempt.ledgerKey} before this one started sending; it sends the message`, {
    reason: 'delivery_in_progress',
    kind: 'transient',
    retryAfterSeconds: leaseSeconds,
  });
}

/**
 * The message reuses an `id` the ledger holds for a message with other content. Dead-lettered
 * (under this queue message's own key, so a redelivery is not dead-lettered twice), never sent,
 * and the first message's entry is left as it is.
 */
async function idConflict(attempt: Attempt, first: LedgerEntry, message: RelayMessage, deps: RelayDependencies, logger: Logger): Promise<RelayOutcome> {
  const firstKey = attempt.ledgerKey;
  const firstMessageId = first.messageId ?? first.plannedMessageId;
  const thisMessageId = stableMessageId(message.id!, message.from.address);
  const since = { sent: first.sentAt, 'dead-lettered': first.deadLetteredAt, sending: first.claimedAt, retry: first.updatedAt }[first.state] ?? first.updatedAt;
  const same = firstMessageId === thisMessageId;
  const failure = new RelayError(
    `id ${JSON.stringify(message.id)} is already used by a different message (ledger entry ${firstKey}: ${first.state} since ${since}, ` +
      `first queued as queue message ${first.queueMessageId ?? 'unknown'}, Message-ID ${firstMessageId ?? 'unknown'}); ` +
      `this message would have had Message-ID ${thisMessageId}` +
      (same ? ' — the same one, since the Message-ID derives from the id and the From domain, so receivers would take it for the first message' : ''),
    {
      reason: 'id_conflict',
      kind: 'permanent',
      ...advice('id_conflict'),
    },
  );
  logger.error('a different message reuses an id the ledger already holds: not sent, dead-lettered', {
    event: 'relay.id_conflict',
    messageKey: attempt.messageKey,
    ledgerKey: firstKey,
    queueMessageId: attempt.delivery.queueMessageId,
    firstState: first.state,
    firstSince: since,
    firstQueueMessageId: first.queueMessageId,
    firstMessageId,
    thisMessageId,
    sameMessageId: same,
  });
  attempt.digest = undefined;
  attempt.ledgerKey = queueKey(attempt);
  const done = await claim(attempt, deps, logger);
  if (done) return done;
  return deadLetter(failure, attempt, deps, logger, false);
}

/** The maximum age counts from the application's enqueue, carried through retry copies. */
function firstEnqueued(envelope: RetryEnvelope | undefined, delivery: QueueDelivery, now: () => Date): Date {
  for (const text of [envelope?.firstEnqueuedAt, delivery.insertionTime]) {
    const time = text === undefined ? NaN : Date.parse(text);
    if (!Number.isNaN(time)) return new Date(time);
  }
  return now();
}

function storageUnavailable(message: string, cause: unknown): RelayError {
  return new RelayError(message, {
    reason: 'storage_unavailable',
    kind: 'transient',
    providerReply: redact(cause instanceof Error ? cause.message : String(cause)),
    ...advice('storage_unavailable'),
    cause,
  });
}

/** Anything not already classified is unexpected: retried, and dead-lettered as internal_error at the end. */
function toRelayError(error: unknown): RelayError {
  if (isRelayError(error)) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new RelayError(`unexpected error: ${redact(text)}`, { reason: 'internal_error', kind: 'transient', cause: error });
}
