/**
 *   oauth2-smtp-relay status <id> [--settings local.settings.json] [--json]
 *
 * What happened to one message, from the delivery ledger: the same answer as
 * GET /api/messages/{id} (src/delivery/messageStatus.ts), with the storage
 * settings alone. Exit 0 when the ledger knows the message, 1 when it does not,
 * 2 for a usage error or an id no message can have.
 */
import { loadQueueConfig, type Environment, type QueueSettings } from '../settings';
import type { DeliveryLedger } from '../delivery/ledger';
import { findMessageStatus, isValidMessageId, type MessageStatus } from '../delivery/messageStatus';
import { withIdentityEnvironment } from './identityEnvironment';
import { commandSettings, parseWithPositionals, UsageError } from './options';

export interface StatusIo {
  env: Environment;
  out(text: string): void;
  err(text: string): void;
}

export type StatusLedger = (queue: QueueSettings) => Pick<DeliveryLedger, 'read'>;

export const STATUS_NOT_FOUND_HINT =
  'ask with the "id" the producer put in the message, or with the queue message id the queue returned on enqueue ' +
  '(messages without an id, and messages the relay could not read, are known by that alone); a message not picked up yet is not in the ledger';

export async function status(args: string[], io: StatusIo, ledgerOf: StatusLedger): Promise<number> {
  const { values, positionals } = parseWithPositionals(args, { settings: { type: 'string' }, json: { type: 'boolean', default: false } }, 1);
  const id = positionals[0]!;
  if (!isValidMessageId(id)) throw new UsageError('a message id is 1 to 200 printable ASCII characters (as the queue-message schema allows)');
  const { env, fileSettings } = commandSettings(values.settings, io.env);
  return withIdentityEnvironment(fileSettings, async () => {
    const found = await findMessageStatus(ledgerOf(loadQueueConfig(env)), id);
    if (!found) {
      if (values.json) io.out(JSON.stringify({ error: 'not_found', id, hint: STATUS_NOT_FOUND_HINT }, null, 2) + '\n');
      io.err(`status: no message "${id}" in the delivery ledger: ${STATUS_NOT_FOUND_HINT}\n`);
      return 1;
    }
    io.out(values.json ? JSON.stringify(found, null, 2) + '\n' : formatStatus(found));
    return 0;
  });
}

const LABELS: Array<[keyof MessageStatus, string]> = [
  ['state', 'state'],
  ['sender', 'sender'],
  ['attempts', 'attempts'],
  ['lastReason', 'last reason'],
  ['remedy', 'remedy'],
  ['messageId', 'Message-ID'],
  ['smtpReply', 'server reply'],
  ['deadLetterRecordId', 'dead-letter record'],
  ['firstEnqueuedAt', 'first enqueued'],
  ['sentAt', 'sent'],
  ['deadLetteredAt', 'dead-lettered'],
  ['replayedAt', 'replayed'],
  ['leaseUntil', 'claimed until'],
  ['updatedAt', 'last change'],
];

export function formatStatus(found: MessageStatus): string {
  const lines = [`message             ${found.id} (by ${found.matchedBy === 'id' ? 'its id' : 'queue message id'})`];
  for (const [key, label] of LABELS) if (found[key] !== undefined) lines.push(`${label.padEnd(19)} ${String(found[key])}`);
  if (found.deadLetterRecordId && found.state === 'dead-lettered')
    lines.push(`the record:         oauth2-smtp-relay deadletters show ${found.deadLetterRecordId}`);
  return lines.join('\n') + '\n';
}
