/**
 * What happened to one message, from the delivery ledger: the answer of
 * `GET /api/messages/{id}` (src/http/messageStatus.ts) and of the `status`
 * command (src/cli/status.ts).
 *
 * The question comes from anyone holding a function key, who is not trusted
 * with other producers' mail: the answer holds delivery metadata only (state,
 * attempts, reason and the catalogue's remedy, Message-ID, the server's reply,
 * the dead-letter record id, times). Never recipients (the entry's accepted and
 * rejected lists stay out), subject, body, attachment names, the content digest
 * or the instance that held the claim.
 *
 * The ledger key is `id:<id>` for a message with an `id` and `queue:<queue
 * message id>` for one without (or one the relay could not read: its `id` is
 * not trusted then). A lookup tries the producer's `id` first, then the queue
 * message id the queue returned on enqueue. Either way the key becomes a blob
 * name only as its SHA-256 (ledgerBlobName), so no text reaches another path.
 */
import { isDiagnosisId, remedyOf, REMEDIES, type CatalogueId } from '../core/diagnoses';
import type { ReasonCode } from '../core/errors';
import { redactValue } from '../core/redact';
import type { DeliveryLedger, LedgerEntry, LedgerState } from './ledger';

/** As the queue-message schema allows an `id` (src/message/message.schema.json: 1 to 200 printable ASCII characters). */
export const MESSAGE_ID_PATTERN = /^[ -~]{1,200}$/;

export function isValidMessageId(id: string | undefined): id is string {
  return typeof id === 'string' && MESSAGE_ID_PATTERN.test(id);
}

export type MatchedBy = 'id' | 'queueMessageId';

export interface MessageStatus {
  /** The id asked about, and whether it matched the producer's `id` or the queue message id. */
  id: string;
  matchedBy: MatchedBy;
  state: LedgerState;
  /** The sender (RELAY_SENDERS id, or `default`) the message was routed to, when the ledger knows it. */
  sender?: string;
  /** Attempts that claimed the message so far (across retry copies and redeliveries). */
  attempts?: number;
  lastReason?: ReasonCode;
  /** The catalogue's remedy for `lastReason` (src/core/diagnoses), when it has one. */
  remedy?: string;
  /** The Message-ID it was (or will be) sent with. */
  messageId?: string;
  /** The SMTP server's final reply, redacted. */
  smtpReply?: string;
  deadLetterRecordId?: string;
  firstEnqueuedAt?: string;
  sentAt?: string;
  deadLetteredAt?: string;
  replayedAt?: string;
  /** While `sending`: the claim holds until then (after it, a redelivery takes over). */
  leaseUntil?: string;
  /** The last change of the entry. */
  updatedAt: string;
}

/** The entry for `id`: by the producer's `id` first, then by queue message id; undefined when the ledger knows neither. */
export async function findMessageStatus(ledger: Pick<DeliveryLedger, 'read'>, id: string): Promise<MessageStatus | undefined> {
  const byId = await ledger.read(`id:${id}`);
  if (byId) return statusOf(byId, id, 'id');
  const byQueue = await ledger.read(`queue:${id}`);
  return byQueue && statusOf(byQueue, id, 'queueMessageId');
}

/** The metadata of an entry, field by field (a whitelist: a field added to the ledger stays out until listed here). */
export function statusOf(entry: LedgerEntry, id: string, matchedBy: MatchedBy): MessageStatus {
  const status: MessageStatus = {
    id,
    matchedBy,
    state: entry.state,
    sender: entry.sender,
    attempts: entry.attempts,
    lastReason: entry.lastReason,
    remedy: remedyForReason(entry.lastReason),
    messageId: entry.messageId ?? entry.plannedMessageId,
    smtpReply: entry.smtpReply,
    deadLetterRecordId: entry.deadLetterRecordId,
    firstEnqueuedAt: entry.firstEnqueuedAt,
    sentAt: entry.sentAt,
    deadLetteredAt: entry.deadLetteredAt,
    replayedAt: entry.replayedAt,
    leaseUntil: entry.state === 'sending' ? entry.leaseUntil : undefined,
    updatedAt: entry.updatedAt,
  };
  for (const key of Object.keys(status) as Array<keyof MessageStatus>) if (status[key] === undefined) delete status[key];
  return redactValue(status);
}

/** Reason codes whose catalogue entry has another name. */
const ENTRY_OF_REASON: Partial<Record<ReasonCode, CatalogueId>> = {
  invalid_json: 'message_not_json',
  invalid_message: 'message_off_schema',
  token_endpoint_throttled: 'token_endpoint_unavailable',
  sender_rejected: 'sender_refused',
  client_secret_is_id: 'key_vault_secret_is_id',
  secret_store_access_denied: 'key_vault_access_denied',
  secret_not_found: 'key_vault_secret_not_found',
  secret_disabled: 'key_vault_secret_disabled',
  managed_identity_unavailable: 'key_vault_identity_unavailable',
  configuration_invalid: 'settings_invalid',
};

/** The catalogue's text for a reason code; undefined for reasons without an entry, or whose text needs values the ledger does not keep. */
export function remedyForReason(reason: ReasonCode | undefined): string | undefined {
  if (reason === undefined) return undefined;
  const id: string = ENTRY_OF_REASON[reason] ?? reason;
  if (isDiagnosisId(id)) return remedyOf(id);
  const remedy: unknown = Object.hasOwn(REMEDIES, id) ? REMEDIES[id as keyof typeof REMEDIES] : undefined;
  return typeof remedy === 'string' ? remedy : undefined;
}
