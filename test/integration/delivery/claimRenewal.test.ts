/**
 * Short ledger claims renewed while the send runs (issue 10, point 6), on
 * Azurite. A live send slower than the lease, whose message the queue hands
 * out again meanwhile, is never taken over and is sent once; a claim that is
 * taken over anyway (renewals failing for a whole lease) stops a send that has
 * not started, and nothing is written under the lost claim.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { BlobDeliveryLedger, ledgerBlobName } from '../../../src/delivery/ledger';
import { BlobEnvelopeKeys } from '../../../src/delivery/envelopeKey';
import { QueueRetries } from '../../../src/delivery/retryQueue';
import { ConcurrencyGate } from '../../../src/throttle/concurrencyGate';
import { relayQueueMessage, type RelayDependencies } from '../../../src/relay/handler';
import type { MessageSender } from '../../../src/delivery/ports';
import type { Logger } from '../../../src/core/log';
import { RelayHarness } from '../../support/relayHarness';

let stack: LocalStack;
before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a live send slower than its lease, redelivered by the queue meanwhile, is never taken over: sent once', async () => {
  // A 2 s claim, renewed every ~0.7 s; the send takes 5 s; the queue hands the message out again after 1 s.
  const settings = { RELAY_LEDGER_LEASE_SECONDS: '2' };
  const slow = await new RelayHarness(stack, { name: 'slow-send', settings, processingVisibilitySeconds: 1 }).start();
  const other = await new RelayHarness(stack, { name: 'slow-send', settings }).start();
  stack.smtpServer.failNext('data', { stallMs: 5000 });
  await slow.enqueue('slow', { id: 'slow-1', to: 'ana@example.net', subject: 'Large report', text: 'takes a while' });

  let done = false;
  // The slow instance's delete fails in the end: the other instance already let that queue message go.
  const sending = slow.runner
    .pollOnce()
    .catch(() => 0)
    .finally(() => (done = true));
  while (!done) {
    await other.runner.pollOnce();
    await sleep(50);
  }
  await sending;
  await other.drain(20_000);

  const result = await slow.reconcile();
  assert.deepEqual(result.lost, [], result.summary);
  assert.deepEqual(result.duplicated, [], result.summary);
  assert.equal(result.deliveries.get('slow'), 1, result.summary);
  assert.ok(
    other.outcomes.some((outcome) => outcome.status === 'retry-scheduled' && outcome.reason === 'delivery_in_progress'),
    'the queue did hand the message out again while it was being sent',
  );
  const entry = await slow.ledger.read('id:slow-1');
  assert.equal(entry?.state, 'sent', 'the slow send recorded itself: its final write used the ETag of its last renewal');
  assert.equal(entry?.claims, 1, 'never taken over');
  await slow.close();
  await other.close();
});

test('a claim taken over while the message waits for a send slot: the send does not start, nothing is written under the lost claim', async () => {
  const connection = stack.settings.AzureWebJobsStorage;
  const queue = new QueueClient(connection, 'lost-claim');
  await queue.createIfNotExists();
  const container = BlobServiceClient.fromConnectionString(connection).getContainerClient('lost-claim-ledger');
  const ledger = new BlobDeliveryLedger(container, { leaseSeconds: 1 });
  const sender: MessageSender & { sends: number } = {
    sends: 0,
    async send() {
      sender.sends++;
      return { messageId: '<x@example.com>', response: '250 OK', accepted: ['a@example.net'], rejected: [] };
    },
  };
  const lines: string[] = [];
  const logger: Logger = {
    info: (m, p) => lines.push(`info ${m} ${JSON.stringify(p ?? {})}`),
    warn: (m, p) => lines.push(`warn ${m} ${JSON.stringify(p ?? {})}`),
    error: (m, p) => lines.push(`error ${m} ${JSON.stringify(p ?? {})}`),
  };
  // One send slot, held by another message for 2.5 s.
  const sendSlots = new ConcurrencyGate(1);
  let release!: () => void;
  const holder = sendSlots.run(() => new Promise<void>((resolve) => (release = resolve)));
  const deps: RelayDependencies = {
    config: {
      mail: { user: 'relay@example.com', from: 'relay@example.com', allowedFrom: [], maxRecipients: 500 },
      queue: { maxDequeueCount: 5 },
    } as unknown as RelayDependencies['config'],
    sender,
    deadLetters: { write: async () => ({ recordId: 'r', queueMessageId: 'dl' }) },
    ledger,
    sendSlots,
    retries: {
      queue: new QueueRetries(queue),
      policy: { firstDelaySeconds: 0, maxDelaySeconds: 0, maxAgeSeconds: 86400 },
      envelopes: new BlobEnvelopeKeys(container),
    },
  };
  const handling = relayQueueMessage({ id: 'lost-1', to: 'a@example.net', text: 'x' }, { dequeueCount: 1, queueMessageId: 'q-lost' }, deps, logger);
  await sleep(300);
  assert.equal((await ledger.read('id:lost-1'))?.state, 'sending');
  // Another instance took the entry over (as if our renewals had failed for a whole lease).
  const blob = container.getBlockBlobClient(ledgerBlobName('id:lost-1'));
  const theirs = { ...(await ledger.read('id:lost-1'))!, owner: 'other-instance', leaseUntil: new Date(Date.now() + 60_000).toISOString() };
  await blob.upload(JSON.stringify(theirs), Buffer.byteLength(JSON.stringify(theirs)));
  await sleep(1000); // the next renewal (every ~333 ms) finds it
  release();
  await holder;
  const outcome = await handling;

  assert.equal(sender.sends, 0, 'not sent: the other instance has it');
  assert.equal(outcome.status, 'retry-scheduled');
  assert.equal(outcome.status === 'retry-scheduled' && outcome.reason, 'delivery_in_progress');
  const entry = await ledger.read('id:lost-1');
  assert.equal(entry?.owner, 'other-instance', 'not released or overwritten by the attempt that lost it');
  assert.equal(entry?.state, 'sending');
  assert.ok(lines.some((line) => line.startsWith('error ') && line.includes('"event":"relay.claim_lost"')));
});
