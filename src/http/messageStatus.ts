/**
 * GET /api/messages/{id}: what happened to one message, from the delivery
 * ledger (src/delivery/messageStatus.ts says what the answer holds and what it
 * never holds). `{id}` is the producer's `id`, or the queue message id the
 * queue returned on enqueue (messages without an `id`, and messages the relay
 * could not read, are known by that alone).
 *
 *   200  the status            400  not a possible id (1 to 200 printable ASCII characters)
 *   404  the ledger knows none 405  not GET        503  the ledger cannot be read now
 */
import type { DeliveryLedger } from '../delivery/ledger';
import { findMessageStatus, isValidMessageId } from '../delivery/messageStatus';
import type { HttpAnswer, HttpInput } from './types';

export interface MessageStatusDependencies {
  /** The ledger of the relay's storage settings; throws when they are invalid. */
  ledger(): Pick<DeliveryLedger, 'read'>;
}

export const NOT_FOUND_HINT =
  'No message with this id is in the delivery ledger. Ask with the "id" the producer put in the message, or, for a message without one ' +
  '(or one the relay could not read: invalid JSON or schema, a From not allowed), with the queue message id the queue returned on enqueue. ' +
  "A message the relay has not picked up yet is not in the ledger either, and entries are deleted by age (the ledger container's lifecycle rule).";

const NO_STORE = { 'cache-control': 'no-store' };

export async function handleMessageStatus(request: HttpInput, id: string | undefined, deps: MessageStatusDependencies): Promise<HttpAnswer> {
  if (request.method.toUpperCase() !== 'GET') {
    return { status: 405, jsonBody: { error: 'method_not_allowed', problem: 'only GET is accepted' }, headers: { allow: 'GET' } };
  }
  // Checked before it goes anywhere; it then reaches storage only hashed (a ledger blob name).
  if (!isValidMessageId(id)) {
    return {
      status: 400,
      jsonBody: { error: 'invalid_id', problem: 'a message id is 1 to 200 printable ASCII characters (as the queue-message schema allows)' },
      headers: NO_STORE,
    };
  }
  let status;
  try {
    status = await findMessageStatus(deps.ledger(), id);
  } catch {
    // The cause (a setting, the storage account) is the operator's to read in /api/health, not the caller's.
    return {
      status: 503,
      jsonBody: { error: 'ledger_unavailable', id, hint: 'The delivery ledger cannot be read now; the operator finds the cause in /api/health.' },
      headers: { ...NO_STORE, 'retry-after': '30' },
    };
  }
  if (!status) return { status: 404, jsonBody: { error: 'not_found', id, hint: NOT_FOUND_HINT }, headers: NO_STORE };
  return { status: 200, jsonBody: status, headers: NO_STORE };
}
