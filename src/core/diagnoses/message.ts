/**
 * Remedies of a queue message the relay refuses as it is: the producer's part
 * (src/message, the attachments it names, an id it reuses).
 */
import type { Remedy } from './entry';

export const MESSAGE_REMEDIES = {
  message_not_json: 'Producers must enqueue one JSON object per message (plain or base64-encoded UTF-8), as described in src/message/message.schema.json.',
  message_off_schema: 'Fix the producer so its messages follow src/message/message.schema.json, then re-queue the dead-lettered message.',
  too_many_recipients: ({ maxRecipients }: { maxRecipients: number }) =>
    `Split the message so each has at most ${maxRecipients} recipients (Exchange Online accepts 500 per message).`,
  sender_not_allowed:
    'Omit "from" to send as MAIL_FROM, or add the address to MAIL_ALLOWED_FROM (or to the allowedFrom of its sender in RELAY_SENDERS) and grant the mailbox SendAs rights for it in Exchange; a message\'s "sender" must be the id of a sender in RELAY_SENDERS (or "default").',
  /** `rule` is the blob-name rule as src/message/blobName.ts words it. */
  blob_name_refused: ({ container, rule }: { container: string; rule: string }) => `Name a blob inside container "${container}" as stored: ${rule}.`,
  attachment_not_found: 'Upload the file before queuing the message, name it exactly in "blob", and keep it until the message is sent.',
  attachments_too_large: 'Send smaller attachments or a link to the file; raise MAIL_MAX_ATTACHMENTS_MB only if the mailbox accepts larger messages.',
  /** A payload shaped like a retry envelope whose signature is not the relay's. */
  not_a_retry_copy:
    "Retry envelopes are the relay's own: producers queue plain messages. If the relay wrote this copy (before retry copies were signed, " +
    'or its key blob was deleted), queue its "message" field again as a new message.',
  id_conflict:
    'Use a new id for a new message: the id is an idempotency key and the relay sends each id once. Queue this message again with an id of its own; ' +
    'a retry of the first message must carry exactly the same content.',
} as const satisfies Record<string, Remedy>;
