/** Message status from a ledger entry: the id rule is the schema's, the answer a whitelist of delivery metadata, the remedy the catalogue's. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import schema from '../../../src/message/message.schema.json';
import { findMessageStatus, isValidMessageId, remedyForReason, statusOf } from '../../../src/delivery/messageStatus';
import { LEDGER_SCHEMA, type LedgerEntry } from '../../../src/delivery/ledger';
import { remedyOf, remedyText } from '../../../src/core/diagnoses';

const idRule = schema.properties.id;

test("an id is valid exactly when the queue-message schema would accept it as a message's id", () => {
  const pattern = new RegExp(idRule.pattern);
  const schemaAccepts = (id: string) => id.length >= idRule.minLength && id.length <= idRule.maxLength && pattern.test(id);
  const candidates = ['', 'a', 'x'.repeat(idRule.maxLength), 'x'.repeat(idRule.maxLength + 1), 'caf\u00e9', '\u{1F600}', 'a/b', '../x', ' '];
  for (let code = 0; code < 0x80; code++) candidates.push(`id${String.fromCharCode(code)}`);
  for (const id of candidates) assert.equal(isValidMessageId(id), schemaAccepts(id), JSON.stringify(id));
  assert.equal(isValidMessageId(undefined), false);
});

const entry: LedgerEntry = {
  schema: LEDGER_SCHEMA,
  key: 'id:order-1',
  state: 'sent',
  owner: 'host-7:4242:abc',
  claims: 2,
  claimedAt: '2026-12-01T10:00:00.000Z',
  queueMessageId: 'q-1',
  digest: 'v1:deadbeef',
  plannedMessageId: '<planned@example.com>',
  attempts: 2,
  firstEnqueuedAt: '2026-12-01T09:59:00.000Z',
  messageId: '<sent@example.com>',
  smtpReply: '250 2.0.0 OK Bearer abcdefghijklmnop.qrstuvwx',
  accepted: ['alice@example.net'],
  rejected: ['bob@example.net'],
  sentAt: '2026-12-01T10:00:01.000Z',
  lastReason: 'smtp_throttled',
  updatedAt: '2026-12-01T10:00:01.000Z',
};

test('the answer holds delivery metadata only: no recipients, no owner, no digest; the reply redacted', () => {
  const status = statusOf(entry, 'order-1', 'id');
  assert.deepEqual(Object.keys(status).sort(), [
    'attempts',
    'firstEnqueuedAt',
    'id',
    'lastReason',
    'matchedBy',
    'messageId',
    'remedy',
    'sentAt',
    'smtpReply',
    'state',
    'updatedAt',
  ]);
  assert.equal(status.messageId, '<sent@example.com>', 'the sent Message-ID before the planned one');
  assert.ok(!JSON.stringify(status).includes('abcdefghijklmnop'), 'a bearer token in a reply is masked');
  assert.ok(!JSON.stringify(status).includes('example.net'));
});

test('a claim in flight shows until when it holds; the planned Message-ID stands in before the send', () => {
  const sending = statusOf({ ...entry, state: 'sending', messageId: undefined, leaseUntil: '2026-12-01T10:01:00.000Z' }, 'order-1', 'id');
  assert.equal(sending.leaseUntil, '2026-12-01T10:01:00.000Z');
  assert.equal(sending.messageId, '<planned@example.com>');
  assert.equal(statusOf({ ...entry, leaseUntil: '2026-12-01T10:01:00.000Z' }, 'order-1', 'id').leaseUntil, undefined);
});

test('the remedy is the catalogue text for the reason, also where the entry has another name', () => {
  assert.equal(remedyForReason('smtp_throttled'), remedyOf('smtp_throttled'));
  assert.equal(remedyForReason('sender_not_allowed'), remedyText('sender_not_allowed'));
  assert.equal(remedyForReason('invalid_json'), remedyText('message_not_json'));
  assert.equal(remedyForReason('sender_rejected'), remedyOf('sender_refused'));
  // A remedy that needs values the ledger does not keep is left out rather than printed with holes.
  assert.equal(remedyForReason('too_many_recipients'), undefined);
  assert.equal(remedyForReason('internal_error'), undefined);
  assert.equal(remedyForReason(undefined), undefined);
});

test("a lookup tries the producer's id first, then the queue message id", async () => {
  const entries = new Map<string, LedgerEntry>([
    ['id:same', { ...entry, key: 'id:same' }],
    ['queue:same', { ...entry, key: 'queue:same', state: 'dead-lettered' }],
    ['queue:q-9', { ...entry, key: 'queue:q-9', state: 'retry' }],
  ]);
  const asked: string[] = [];
  const ledger = { read: async (key: string) => (asked.push(key), entries.get(key)) };
  assert.equal((await findMessageStatus(ledger, 'same'))?.matchedBy, 'id');
  assert.deepEqual(asked, ['id:same']);
  const byQueue = await findMessageStatus(ledger, 'q-9');
  assert.equal(byQueue?.matchedBy, 'queueMessageId');
  assert.equal(byQueue?.state, 'retry');
  assert.equal(await findMessageStatus(ledger, 'nothing'), undefined);
});
