/**
 * A retry copy: the message as the application queued it, wrapped with what
 * the next attempt needs to know. The relay enqueues it with a visibility
 * delay (the backoff) and lets the host delete the original, because a
 * function cannot reliably set the visibility of the message it is running on.
 */
import type { ReasonCode } from '../errors';

export const RETRY_SCHEMA = 'oauth2-smtp-relay/retry/v1';

export interface RetryEnvelope {
  schema: typeof RETRY_SCHEMA;
  /** Attempts made so far (0 for a replayed message: it starts afresh). */
  attempts: number;
  /** When the application first queued the message (the maximum age counts from here). */
  firstEnqueuedAt: string;
  /** The ledger key: the message's `id`, or `queue:<first queue message id>` when it has none. */
  ledgerKey?: string;
  /** The queue message id the application's message first had. */
  originalQueueMessageId?: string;
  lastReason: ReasonCode;
  lastError: string;
  /** The application's message, as the relay received it (object, or text). */
  message: unknown;
}

/** Splits a payload into the application's message and, for a retry copy, its envelope. */
export function unwrapRetry(payload: unknown): { message: unknown; envelope?: RetryEnvelope } {
  const candidate = asObject(payload);
  if (candidate && isRetryEnvelope(candidate)) return { message: candidate.message, envelope: candidate };
  return { message: payload };
}

export function wrapForRetry(envelope: Omit<RetryEnvelope, 'schema'>): string {
  return JSON.stringify({ schema: RETRY_SCHEMA, ...envelope });
}

function asObject(payload: unknown): Record<string, unknown> | undefined {
  if (typeof payload === 'string') {
    // Only our own retry copies are unwrapped here; anything else goes to the message parser untouched.
    if (!payload.includes(RETRY_SCHEMA)) return undefined;
    try {
      payload = JSON.parse(payload);
    } catch {
      return undefined;
    }
  }
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
}

/** Strict: anything that is not exactly our envelope is treated as an application message (and validated as one). */
function isRetryEnvelope(value: Record<string, unknown>): value is Record<string, unknown> & RetryEnvelope {
  return (
    value.schema === RETRY_SCHEMA &&
    Number.isInteger(value.attempts) &&
    (value.attempts as number) >= 0 &&
    typeof value.firstEnqueuedAt === 'string' &&
    !Number.isNaN(Date.parse(value.firstEnqueuedAt)) &&
    (value.ledgerKey === undefined || typeof value.ledgerKey === 'string') &&
    (value.originalQueueMessageId === undefined || typeof value.originalQueueMessageId === 'string') &&
    typeof value.lastReason === 'string' &&
    typeof value.lastError === 'string' &&
    'message' in value
  );
}
