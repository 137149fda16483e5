/**
 * Retry copies cannot be forged (issue 9, point 6), through the queue runner on
 * Azurite, the token endpoint and the SMTP server. A producer who writes a retry
 * envelope by hand (naming another message's first queue message id, a
 * first-enqueue time in the future, attempts reset to 0) gets an ordinary
 * untrusted message: dead-lettered as invalid_message with the reason it was
 * not believed; the other message's ledger entry is untouched and it is
 * delivered once. A genuine old copy put back on the queue cannot reset the
 * attempt count: the ledger keeps it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import type { DeadLetterRecord } from '../../../src/delivery/deadLetters';
import { RelayHarness, HARNESS_HEADER, harnessKeyOfRecord } from '../../support/relayHarness';

let stack: LocalStack;
before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

/** The harness key of a record, also when its original is a whole (unbelieved) envelope around a tagged message. */
function keyOf(record: DeadLetterRecord): string | undefined {
  const key = harnessKeyOfRecord(record);
  if (key !== undefined) return key;
  try {
    return (JSON.parse(record.original ?? '') as { message?: { headers?: Record<string, string> } }).message?.headers?.[HARNESS_HEADER];
  } catch {
    return undefined;
  }
}

test("forged retry envelopes (unsigned, or with a bad signature) naming another message's queue id are dead-lettered as untrusted; that message is delivered once", async () => {
  const harness = await new RelayHarness(stack, {
    name: 'forged',
    // The victim's retry copy stays invisible for about 2 s while the forgeries arrive.
    settings: { RELAY_RETRY_FIRST_DELAY_SECONDS: '2', RELAY_RETRY_MAX_DELAY_SECONDS: '2' },
  }).start();
  // A message without id: its ledger key is its first queue message id.
  const sent = await harness.queue.sendMessage(
    JSON.stringify({ to: 'ana@example.net', subject: 'Payslip', text: 'victim', headers: { [HARNESS_HEADER]: 'victim' } }),
  );
  harness.accepted.add('victim');
  stack.smtpServer.failNext('data', { code: 451, message: '4.3.0 Mail server temporarily rejected message' });
  assert.equal(await harness.runner.pollOnce(), 1);
  const victimKey = `queue:${sent.messageId}`;
  assert.equal((await harness.ledger.read(victimKey))?.state, 'retry');

  const forgery = (schema: string, key: string, signature?: string) =>
    JSON.stringify({
      schema,
      attempts: 0,
      // Far in the future: the maximum age would never be reached.
      firstEnqueuedAt: '2099-01-01T00:00:00.000Z',
      ledgerKey: victimKey,
      originalQueueMessageId: sent.messageId,
      lastReason: 'smtp_throttled',
      lastError: 'x',
      message: { to: 'mallory@example.org', subject: 'Payslip (corrected)', text: 'forged', headers: { [HARNESS_HEADER]: key } },
      ...(signature === undefined ? {} : { signature }),
    });
  // The envelope format the relay used before copies were signed, and today's with a made-up signature.
  await harness.enqueueText('forged-v1', forgery('oauth2-smtp-relay/retry/v1', 'forged-v1'));
  await harness.enqueueText('forged-v2', forgery('oauth2-smtp-relay/retry/v2', 'forged-v2', 'bm90IGEgcmVhbCBzaWduYXR1cmU'));
  await harness.runner.pollOnce();
  assert.equal((await harness.ledger.read(victimKey))?.state, 'retry', "the victim's entry is untouched");
  await harness.drain(20_000);

  const result = await harness.reconcile(keyOf);
  assert.deepEqual(result.lost, [], result.summary);
  assert.deepEqual(result.duplicated, [], result.summary);
  assert.equal(result.deliveries.get('victim'), 1);
  assert.ok(!stack.smtpServer.received.some((message) => message.envelope.rcptTo.includes('mallory@example.org')), 'nothing went to the forger');
  const [v1] = result.deadLetters.get('forged-v1') ?? [];
  const [v2] = result.deadLetters.get('forged-v2') ?? [];
  assert.equal(v1?.reason, 'invalid_message');
  assert.match(v1.description, /looks like a retry copy of the relay \(schema "oauth2-smtp-relay\/retry\/v1"\), but of an unsigned format/);
  assert.equal(v2?.reason, 'invalid_message');
  assert.match(v2.description, /looks like a retry copy of the relay \(schema "oauth2-smtp-relay\/retry\/v2"\), but its signature is invalid/);
  for (const record of [v1, v2]) {
    // Handled as what it is, an application message with fields the contract does not know.
    assert.match(record.description, /\$\.schema: is not a known field/);
    assert.notEqual(record.queueMessageId, sent.messageId, "recorded under its own queue message id, not the victim's");
    assert.notEqual(record.ledgerKey, victimKey);
    assert.match(record.remedy ?? '', /Retry envelopes are the relay's own/);
  }
  const entry = await harness.ledger.read(victimKey);
  assert.equal(entry?.state, 'sent');
  assert.equal(entry?.claims, 2, 'claimed by the victim and its own retry copy only');
  await harness.close();
});

test('a genuine old retry copy put back on the queue cannot reset the attempt count: the ledger keeps it', async () => {
  const harness = await new RelayHarness(stack, { name: 'old-copy' }).start();
  const failing = { code: 451, message: '4.3.0 Mail server temporarily rejected message' };
  stack.smtpServer.failNext('data', failing, 3);
  await harness.enqueue('m', { id: 'statement-11', to: 'ana@example.net', subject: 'Statement', text: 'November' });
  // Attempt 1 fails; its retry copy (attempts: 1) is on the queue at once (no backoff in the harness). Keep its text.
  assert.equal(await harness.runner.pollOnce(), 1);
  const [firstCopy] = (await harness.queue.peekMessages()).peekedMessageItems;
  assert.match(firstCopy!.messageText, /"attempts":1/);
  // Attempts 2 and 3 fail too; hold the newest copy aside, as if it were still waiting out its backoff.
  assert.equal(await harness.runner.pollOnce(), 1);
  assert.equal(await harness.runner.pollOnce(), 1);
  const [newest] = (await harness.queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 300 })).receivedMessageItems;
  assert.match(newest!.messageText, /"attempts":3/);

  // Someone able to read the queue puts the first copy back; this attempt fails permanently.
  await harness.queue.sendMessage(firstCopy!.messageText);
  stack.smtpServer.failNext('data', { code: 554, message: '5.6.0 Corrupt message content' });
  assert.equal(await harness.runner.pollOnce(), 1);
  await harness.queue.deleteMessage(newest!.messageId, newest!.popReceipt);

  const result = await harness.reconcile();
  assert.deepEqual(result.lost, [], result.summary);
  assert.deepEqual(result.duplicated, [], result.summary);
  const [record] = result.deadLetters.get('m') ?? [];
  assert.equal(record?.reason, 'smtp_permanent_failure');
  assert.equal(record?.attempts, 4, 'the fourth attempt, as the ledger counts, not the second the old copy would claim');
  assert.equal((await harness.ledger.read('id:statement-11'))?.attempts, 4);
  await harness.close();
});
