/**
 * A reused `id` with other content is not silently dropped (issue 9, point 5):
 * through the queue runner on Azurite, the real token endpoint and SMTP server.
 * The ledger keeps a digest of what the relay would send; the same id with the
 * same content is a suppressed duplicate, the same id with other content is
 * dead-lettered as id_conflict naming both Message-IDs and the first message's
 * state, whether the first was sent, is waiting for a retry, or is being sent.
 * The first message's entry is never touched by the second.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalStack, LOCAL_MAILBOX, type LocalStack } from '../../../local/stack';
import { stableMessageId } from '../../../src/message/compose';
import { main } from '../../../src/app/cli';
import type { Logger } from '../../../src/core/log';
import type { DeadLetterRecord } from '../../../src/delivery/deadLetters';
import { RelayHarness, HARNESS_HEADER, harnessKeyOfRecord, headerValue } from '../../support/relayHarness';

let stack: LocalStack;
before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const line = (level: string) => (message: string, fields?: Record<string, unknown>) => lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { lines, info: line('info'), warn: line('warn'), error: line('error') };
}

const SAME_ID = stableMessageId('invoice-42', LOCAL_MAILBOX);

async function peekRecords(harness: RelayHarness): Promise<DeadLetterRecord[]> {
  const peeked = await harness.deadLetterQueue.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.map((item) => JSON.parse(item.messageText) as DeadLetterRecord);
}

function deliveries(key: string): number {
  return stack.smtpServer.received.filter((message) => headerValue(message.raw, HARNESS_HEADER) === key).length;
}

test('a reused id with other content is dead-lettered as id_conflict naming both Message-IDs; the same content stays a suppressed duplicate; the first stays sent', async () => {
  const logger = recordingLogger();
  const settings = {
    ...stack.settings,
    RELAY_QUEUE_NAME: 'conflict-sent',
    RELAY_DEADLETTER_QUEUE_NAME: 'conflict-sent-deadletter',
    RELAY_DEADLETTER_CONTAINER: 'conflict-sent-deadletter',
    RELAY_LEDGER_CONTAINER: 'conflict-sent-ledger',
    MAIL_ALLOWED_FROM: 'billing@other.example',
  };
  const harness = await new RelayHarness(stack, { name: 'conflict-sent', settings, logger }).start();
  // The first message, and an exact copy of its text (a producer sending it twice).
  const first = JSON.stringify({
    id: 'invoice-42',
    to: 'ana@example.net',
    subject: 'Invoice 42',
    text: 'Total: 10 EUR',
    headers: { [HARNESS_HEADER]: 'first' },
  });
  await harness.enqueueText('first', first);
  await harness.drain(20_000);
  await harness.enqueueText('first', first);
  // The same id for another invoice, and once more from another sender (so another Message-ID).
  await harness.enqueue('second', { id: 'invoice-42', to: 'ana@example.net', subject: 'Invoice 43', text: 'Total: 20 EUR' });
  await harness.enqueue('third', { id: 'invoice-42', from: 'billing@other.example', to: 'ana@example.net', subject: 'Invoice 44', text: 'Total: 30 EUR' });
  await harness.drain(20_000);

  assert.equal(deliveries('first'), 1, 'the exact copy was not sent again');
  assert.ok(
    harness.outcomes.some((outcome) => outcome.status === 'duplicate'),
    'the exact copy was a suppressed duplicate',
  );

  const records = await peekRecords(harness);
  assert.equal(records.length, 2);
  const second = records.find((record) => harnessKeyOfRecord(record) === 'second');
  assert.equal(second?.reason, 'id_conflict');
  assert.equal(second?.kind, 'permanent');
  assert.equal(second?.messageKey, 'invoice-42');
  assert.match(second.description, /id "invoice-42" is already used by a different message/);
  assert.match(second.description, /ledger entry id:invoice-42: sent since \d{4}-/);
  assert.ok(second.description.includes(`Message-ID ${SAME_ID}); this message would have had Message-ID ${SAME_ID} — the same one`), second.description);
  assert.match(second.remedy ?? '', /new id for a new message/);

  const third = records.find((record) => harnessKeyOfRecord(record) === 'third');
  const otherId = stableMessageId('invoice-42', 'billing@other.example');
  assert.equal(third?.reason, 'id_conflict');
  assert.ok(third.description.includes(`Message-ID ${SAME_ID}); this message would have had Message-ID ${otherId}`), third.description);
  assert.ok(!third.description.includes('the same one'));

  const entry = await harness.ledger.read('id:invoice-42');
  assert.equal(entry?.state, 'sent', "the first message's entry is untouched");
  assert.equal(entry?.messageId, SAME_ID);
  assert.equal(entry?.claims, 1);
  assert.equal(logger.lines.filter((line) => line.startsWith('error ') && line.includes('"event":"relay.id_conflict"')).length, 2);

  // Replay keeps working: the conflicting messages go round again and are dead-lettered again, once each.
  const settingsFile = join(stack.dir, 'conflict.settings.json');
  writeFileSync(settingsFile, JSON.stringify({ IsEncrypted: false, Values: settings }));
  let out = '';
  const code = await main(['replay', '--settings', settingsFile, '--reason', 'id_conflict'], {
    env: {},
    out: (text) => (out += text),
    err: (text) => (out += text),
  });
  assert.equal(code, 0, out);
  assert.match(out, /replay: 2 examined, 2 replayed/);
  await harness.drain(20_000);

  const result = await harness.reconcile();
  assert.deepEqual(result.lost, [], result.summary);
  assert.deepEqual(result.duplicated, [], result.summary);
  assert.equal(result.deliveries.get('first'), 1);
  assert.deepEqual(
    (result.deadLetters.get('second') ?? []).map((record) => record.reason),
    ['id_conflict'],
  );
  assert.deepEqual(
    (result.deadLetters.get('third') ?? []).map((record) => record.reason),
    ['id_conflict'],
  );
  await harness.close();
});

test('a reused id while the first waits for its retry is a conflict too; the retry copy of the first (same digest) is then delivered', async () => {
  const harness = await new RelayHarness(stack, {
    name: 'conflict-retry',
    // The first message's retry copy stays invisible for about 2 s, long enough for the second to arrive.
    settings: { RELAY_RETRY_FIRST_DELAY_SECONDS: '2', RELAY_RETRY_MAX_DELAY_SECONDS: '2' },
  }).start();
  stack.smtpServer.failNext('data', { code: 451, message: '4.3.0 Mail server temporarily rejected message' });
  await harness.enqueue('first', { id: 'order-7', to: 'ana@example.net', subject: 'Order 7', text: 'shipped' });
  assert.equal(await harness.runner.pollOnce(), 1);
  assert.equal((await harness.ledger.read('id:order-7'))?.state, 'retry');

  await harness.enqueue('second', { id: 'order-7', to: 'bob@example.net', subject: 'Order 8', text: 'cancelled' });
  await harness.drain(20_000);

  const result = await harness.reconcile();
  assert.deepEqual(result.lost, [], result.summary);
  assert.deepEqual(result.duplicated, [], result.summary);
  assert.equal(result.deliveries.get('first'), 1, 'the retry copy matched the first message and was sent');
  assert.equal(result.deliveries.get('second') ?? 0, 0);
  const [second] = result.deadLetters.get('second') ?? [];
  assert.equal(second?.reason, 'id_conflict');
  assert.match(second.description, /ledger entry id:order-7: retry since \d{4}-/);
  const entry = await harness.ledger.read('id:order-7');
  assert.equal(entry?.state, 'sent');
  assert.equal(entry?.claims, 2, 'claimed by the first attempt and by its retry copy, never by the second message');
  await harness.close();
});

test('two messages with one id in the same batch: one is sent, the other is dead-lettered as conflicting with a send in progress', async () => {
  const harness = await new RelayHarness(stack, { name: 'conflict-sending' }).start();
  // Whichever claims the id first is held in DATA a while: the other meets its `sending` claim.
  stack.smtpServer.failNext('data', { stallMs: 1500 });
  await harness.enqueue('a', { id: 'ticket-9', to: 'ana@example.net', subject: 'Ticket 9 opened', text: 'a' });
  await harness.enqueue('b', { id: 'ticket-9', to: 'ana@example.net', subject: 'Ticket 9 closed', text: 'b' });
  await harness.drain(20_000);

  const result = await harness.reconcile();
  assert.deepEqual(result.lost, [], result.summary);
  assert.deepEqual(result.duplicated, [], result.summary);
  assert.equal(result.delivered, 1, result.summary);
  assert.equal(result.deadLettered, 1, result.summary);
  const [record] = [...result.deadLetters.values()].flat();
  assert.equal(record?.reason, 'id_conflict');
  assert.match(record.description, /ledger entry id:ticket-9: sending since \d{4}-/);
  await harness.close();
});
