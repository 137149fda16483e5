/**
 * A retry copy: the message as the application queued it, wrapped with what
 * the next attempt needs to know. The relay enqueues it with a visibility
 * delay (the backoff) and lets the host delete the original, because a
 * function cannot reliably set the visibility of the message it is running on.
 *
 * Producers write to the same queue, so an envelope is only believed when it
 * carries the relay's HMAC-SHA256 signature over every field and the message
 * (key: envelopeKey.ts). Without it, an envelope could move the first-enqueue
 * time (and with it the maximum age), reset the attempt count, or name another
 * message's ledger key or first queue message id. Anything that looks like an
 * envelope but does not verify is handed on as an ordinary, untrusted message
 * (which then fails validation: its fields are not the message contract's).
 *
 * A signature proves the relay wrote the copy, not that it is the newest copy:
 * someone able to read the queue could put an old genuine copy back. The
 * ledger, not the envelope, is therefore the authority for the attempt count
 * and the first-enqueue time once it has them (ledger.ts), and the copy can
 * only ever concern its own message.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ReasonCode } from '../core/errors';
import type { EnvelopeKeys } from './envelopeKey';

export const RETRY_SCHEMA = 'oauth2-smtp-relay/retry/v2';
/** Any version of our envelope, for telling the operator what an unverifiable one looked like. */
const SCHEMA_FAMILY = 'oauth2-smtp-relay/retry/';

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
  /** base64url HMAC-SHA256 of the fields above. */
  signature: string;
}

export type RetryFields = Omit<RetryEnvelope, 'schema' | 'signature'>;

export interface Unwrapped {
  message: unknown;
  /** Set for a verified retry copy of the relay's own. */
  envelope?: RetryEnvelope;
  /** Set when the payload looks like an envelope but is not believed: why, for the dead-letter record. */
  untrusted?: string;
}

/** The retry copy's text, signed. */
export async function sealForRetry(fields: RetryFields, keys: EnvelopeKeys): Promise<string> {
  const body: Omit<RetryEnvelope, 'signature'> = { schema: RETRY_SCHEMA, ...fields };
  return JSON.stringify({ ...body, signature: sign(await keys.current(), body) });
}

/**
 * Splits a payload into the application's message and, for a verified retry copy,
 * its envelope. Throws only when the key cannot be read (storage): the caller must
 * then retry, not judge the envelope.
 */
export async function openRetry(payload: unknown, keys: EnvelopeKeys | undefined): Promise<Unwrapped> {
  const candidate = asObject(payload);
  if (!candidate || typeof candidate.schema !== 'string' || !candidate.schema.startsWith(SCHEMA_FAMILY)) return { message: payload };
  const looks = `it looks like a retry copy of the relay (schema "${printable(candidate.schema.slice(0, 60))}")`;
  if (candidate.schema !== RETRY_SCHEMA) return { message: payload, untrusted: `${looks}, but of an unsigned format this version no longer accepts` };
  if (!isWellFormed(candidate)) return { message: payload, untrusted: `${looks}, but lacks the envelope's fields or signature` };
  if (!keys) return { message: payload, untrusted: `${looks}, but this relay has no key to check its signature` };
  if (verify(await keys.current(), candidate)) return { message: candidate.message, envelope: candidate };
  const reloaded = await keys.reloadAfterMismatch();
  if (reloaded && verify(reloaded, candidate)) return { message: candidate.message, envelope: candidate };
  return { message: payload, untrusted: `${looks}, but its signature is invalid (forged, altered, or signed with a key since deleted)` };
}

function sign(key: Buffer, envelope: Omit<RetryEnvelope, 'signature'>): string {
  // Fixed order; JSON.stringify of what JSON.parse returned gives back the same text, so a copy read back verifies.
  const canonical = JSON.stringify([
    envelope.schema,
    envelope.attempts,
    envelope.firstEnqueuedAt,
    envelope.ledgerKey ?? null,
    envelope.originalQueueMessageId ?? null,
    envelope.lastReason,
    envelope.lastError,
    envelope.message,
  ]);
  return createHmac('sha256', key).update(canonical, 'utf8').digest('base64url');
}

function verify(key: Buffer, envelope: RetryEnvelope): boolean {
  const expected = Buffer.from(sign(key, envelope), 'utf8');
  const given = Buffer.from(envelope.signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Producer text going into a record's description: printable ASCII only. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}

function asObject(payload: unknown): Record<string, unknown> | undefined {
  if (typeof payload === 'string') {
    // Only our own retry copies are unwrapped here; anything else goes to the message parser untouched.
    if (!payload.includes(SCHEMA_FAMILY)) return undefined;
    try {
      payload = JSON.parse(payload);
    } catch {
      return undefined;
    }
  }
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
}

/** Exactly our envelope's fields and types; anything else is an application message (and validated as one). */
function isWellFormed(value: Record<string, unknown>): value is Record<string, unknown> & RetryEnvelope {
  return (
    Number.isInteger(value.attempts) &&
    (value.attempts as number) >= 0 &&
    typeof value.firstEnqueuedAt === 'string' &&
    !Number.isNaN(Date.parse(value.firstEnqueuedAt)) &&
    (value.ledgerKey === undefined || typeof value.ledgerKey === 'string') &&
    (value.originalQueueMessageId === undefined || typeof value.originalQueueMessageId === 'string') &&
    typeof value.lastReason === 'string' &&
    typeof value.lastError === 'string' &&
    'message' in value &&
    typeof value.signature === 'string'
  );
}
