/**
 * Replay on the local stack: messages dead-lettered for a cause that is then
 * fixed go back on the queue through the `oauth2-smtp-relay replay` command
 * (filtered by reason code), keep their ledger keys, and are delivered once;
 * a message the ledger knows as sent is not replayed; other records stay.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { main } from '../../../src/app/cli';
import type { DeadLetterRecord } from '../../../src/delivery/deadLetters';
import { RelayHarness, HARNESS_HEADER, headerValue } from '../../support/relayHarness';

let stack: LocalStack;
before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

const SEND_AS_DENIED = { code: 550, message: '5.7.60 SMTP; Client does not have permissions to send as this sender' };

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { env: {}, out: (text) => (out += text), err: (text) => (err += text) });
  return { code, out, err };
}

async function peekRecords(harness: RelayHarness): Promise<DeadLetterRecord[]> {
  const peeked = await harness.deadLetterQueue.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.map((item) => JSON.parse(item.messageText) as DeadLetterRecord);
}

function deliveries(key: string): number {
  return stack.smtpServer.received.filter((message) => headerValue(message.raw, HARNESS_HEADER) === key).length;
}

test('replay by reason after the cause is fixed: delivered once, ids kept, sent ones and other reasons left alone', async () => {
  const settings = {
    ...stack.settings,
    RELAY_QUEUE_NAME: 'replay',
    RELAY_DEADLETTER_QUEUE_NAME: 'replay-deadletter',
    RELAY_DEADLETTER_CONTAINER: 'replay-deadletter',
    RELAY_LEDGER_CONTAINER: 'replay-ledger',
  };
  const settingsFile = join(stack.dir, 'local.settings.json');
  writeFileSync(settingsFile, JSON.stringify({ IsEncrypted: false, Values: settings }));
  const harness = await new RelayHarness(stack, { name: 'replay', settings }).start();

  // Four messages are refused for SendAs (a permission not granted yet), one is invalid.
  stack.smtpServer.failNext('mail', SEND_AS_DENIED, 4);
  await harness.enqueue('a', { id: 'replay-a', to: 'a@example.net', subject: 'A', text: 'a' });
  await harness.enqueue('b', { id: 'replay-b', to: 'b@example.net', subject: 'B', text: 'b' });
  await harness.enqueue('c', { to: 'c@example.net', subject: 'C without id', text: 'c' });
  await harness.enqueue('f', { id: 'replay-f', to: 'f@example.net', subject: 'F', text: 'f' });
  await harness.enqueueText('d', JSON.stringify({ to: 'd@example.net', text: 'd', priority: 'high' }));
  for (let i = 0; i < 5; i++) await harness.drain(10_000);
  const before = await peekRecords(harness);
  assert.deepEqual(before.map((record) => record.reason).sort(), ['invalid_message', 'send_as_denied', 'send_as_denied', 'send_as_denied', 'send_as_denied']);
  const idless = before.find((record) => record.reason === 'send_as_denied' && record.messageKey === undefined)!;
  assert.match(idless.ledgerKey ?? '', /^queue:/, 'a message without id keeps its first queue id as ledger key');

  // F was in fact sent meanwhile (say, replayed by hand and delivered): the ledger knows it.
  assert.equal(await harness.ledger.reopen('id:replay-f'), 'reopened');
  const claim = await harness.ledger.claim('id:replay-f', {});
  assert.equal(claim.outcome, 'claimed');
  if (claim.outcome === 'claimed')
    await harness.ledger.markSent(claim.claim, { messageId: '<f@example.com>', response: '250 OK', accepted: ['f@example.net'], rejected: [] });

  // A dry run changes nothing.
  const dry = await cli(['replay', '--settings', settingsFile, '--reason', 'send_as_denied', '--dry-run']);
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /replay: 5 examined, 3 would-replay, 1 filtered, 1 already-sent/);
  assert.equal((await peekRecords(harness)).length, 5);

  // The permission is granted (no more injected refusals); replay what failed for it.
  const run = await cli(['replay', '--settings', settingsFile, '--reason', 'send_as_denied']);
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /replay: 5 examined, 3 replayed, 1 filtered, 1 already-sent/);
  assert.match(run.out, /already-sent +send_as_denied replay-f/);
  await harness.drain(10_000);

  assert.equal(deliveries('a'), 1);
  assert.equal(deliveries('b'), 1);
  assert.equal(deliveries('c'), 1);
  assert.equal(deliveries('f'), 0, 'not sent a second time');
  assert.equal(deliveries('d'), 0);
  const left = await peekRecords(harness);
  assert.deepEqual(left.map((record) => record.reason).sort(), ['invalid_message', 'send_as_denied']);
  assert.equal((await harness.ledger.read('id:replay-a'))?.state, 'sent');
  assert.equal((await harness.ledger.read(idless.ledgerKey!))?.state, 'sent', 'the id-less message was sent under its original key');

  // Replaying everything: the invalid message goes round again (and is dead-lettered again), F stays sent.
  const again = await cli(['replay', '--settings', settingsFile]);
  assert.match(again.out, /replay: 2 examined, 1 replayed, 1 already-sent/, 'the invalid one is replayed (all reasons), F is still known as sent');
  await harness.drain(10_000);
  assert.equal(deliveries('d'), 0, 'still invalid: dead-lettered again');
  assert.deepEqual((await peekRecords(harness)).map((record) => record.reason).sort(), ['invalid_message', 'send_as_denied']);
  await harness.close();
});

test('replay usage errors name the problem', async () => {
  const result = await cli(['replay', '--reasn', 'x']);
  assert.equal(result.code, 2);
  assert.match(result.err, /reasn/);
});
