/**
 * The queue handler with the ledger and retry copies on real Azurite storage:
 * backoff through a delayed copy (the original is let go only once the copy
 * exists), the maximum age, the host's last-delivery safety net, and no second
 * send when a delivered message comes back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { LocalAzurite } from '../../../local/azurite';
import { BlobDeliveryLedger } from '../../../src/delivery/ledger';
import { QueueRetries } from '../../../src/delivery/retryQueue';
import { RETRY_SCHEMA, openRetry, sealForRetry } from '../../../src/delivery/retryEnvelope';
import { BlobEnvelopeKeys } from '../../../src/delivery/envelopeKey';
import { RelayError } from '../../../src/core/errors';
import { relayQueueMessage, RetryLaterError, type RelayDependencies } from '../../../src/relay/handler';
import type { DeadLetterInput, DeadLetterReceipt, MessageSender, SentMessage } from '../../../src/delivery/ports';
import type { Logger } from '../../../src/core/log';

let azurite: LocalAzurite;
let counter = 0;
before(async () => {
  azurite = await LocalAzurite.start();
});
after(async () => {
  await azurite?.stop();
});

const mail = { user: 'relay@example.com', from: 'relay@example.com', allowedFrom: [], maxRecipients: 500 };
const policy = { firstDelaySeconds: 30, maxDelaySeconds: 900, maxAgeSeconds: 86400 };
const ok: SentMessage = { messageId: '<x@example.com>', response: '250 2.6.0 Queued mail for delivery', accepted: ['a@example.net'], rejected: [] };
const lines: string[] = [];
const logger: Logger = {
  info: (m, p) => lines.push(`info ${m} ${JSON.stringify(p ?? {})}`),
  warn: (m, p) => lines.push(`warn ${m} ${JSON.stringify(p ?? {})}`),
  error: (m, p) => lines.push(`error ${m} ${JSON.stringify(p ?? {})}`),
};

/** A sender that plays a script of results, one per send. */
function scripted(...results: Array<SentMessage | RelayError>): MessageSender & { sends: number } {
  const sender = {
    sends: 0,
    async send() {
      const result = results[Math.min(sender.sends, results.length - 1)]!;
      sender.sends++;
      if (result instanceof RelayError) throw result;
      return result;
    },
  };
  return sender;
}

function sink() {
  const written: DeadLetterInput[] = [];
  return {
    written,
    write: async (input: DeadLetterInput): Promise<DeadLetterReceipt> => (written.push(input), { recordId: `r${written.length}`, queueMessageId: 'dl' }),
  };
}

async function setup(sender: MessageSender, options: { now?: () => Date; leaseSeconds?: number; retry?: Partial<typeof policy> } = {}) {
  const name = `flow-${++counter}`;
  const queue = new QueueClient(azurite.connectionString, name);
  await queue.create();
  const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  const ledger = new BlobDeliveryLedger(blobs.getContainerClient(`${name}-ledger`), { leaseSeconds: options.leaseSeconds ?? 600, now: options.now });
  const envelopes = new BlobEnvelopeKeys(blobs.getContainerClient(`${name}-ledger`));
  const deadLetters = sink();
  const deps: RelayDependencies = {
    config: { mail, queue: { maxDequeueCount: 5 } } as unknown as RelayDependencies['config'],
    sender,
    deadLetters,
    ledger,
    retries: { queue: new QueueRetries(queue), policy: { ...policy, ...options.retry }, envelopes },
    now: options.now,
    random: () => 0.5,
  };
  return { queue, ledger, deadLetters, deps, envelopes };
}

const throttled = new RelayError('throttled', {
  reason: 'smtp_throttled',
  kind: 'transient',
  providerReply: '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded',
});
const deferred = new RelayError('deferred', { reason: 'smtp_transient_failure', kind: 'transient', providerReply: '451 4.3.0 try later' });

test('a transient failure queues a delayed retry copy carrying the attempt count, first-enqueue time and key; the copy then delivers', async () => {
  const sender = scripted(deferred, ok);
  const { queue, deps, envelopes } = await setup(sender, { retry: { firstDelaySeconds: 1 } });
  const payload = { id: 'order-1', to: 'a@example.net', subject: 'Hi', text: 'Hello' };
  const outcome = await relayQueueMessage(payload, { dequeueCount: 1, queueMessageId: 'q-1', insertionTime: new Date().toISOString() }, deps, logger);
  assert.equal(outcome.status, 'retry-scheduled');
  assert.equal(outcome.status === 'retry-scheduled' && outcome.delaySeconds, 1);
  // The copy is on the queue but invisible for the backoff delay.
  assert.equal((await queue.receiveMessages({ numberOfMessages: 32 })).receivedMessageItems.length, 0);
  const [peeked] = (await queue.peekMessages()).peekedMessageItems;
  assert.equal(peeked, undefined, 'peek does not show invisible messages either');
  assert.equal((await queue.getProperties()).approximateMessagesCount, 1);

  // Once its delay has passed the copy is visible; hand it to the handler as the host would.
  const copies = await receiveWhenVisible(queue);
  const { envelope, message } = await openRetry(JSON.parse(copies.messageText), envelopes);
  assert.equal(envelope?.schema, RETRY_SCHEMA);
  assert.equal(envelope?.attempts, 1);
  assert.equal(envelope?.ledgerKey, 'id:order-1');
  assert.equal(envelope?.originalQueueMessageId, 'q-1');
  assert.equal(envelope?.lastReason, 'smtp_transient_failure');
  assert.deepEqual(message, payload);
  const second = await relayQueueMessage(JSON.parse(copies.messageText), { dequeueCount: 1, queueMessageId: copies.messageId }, deps, logger);
  assert.equal(second.status, 'delivered');
  assert.equal(sender.sends, 2);
});

/** Receives the next message, waiting (briefly) for a delayed one to become visible. */
async function receiveWhenVisible(queue: QueueClient) {
  for (let i = 0; i < 100; i++) {
    const got = await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 60 });
    if (got.receivedMessageItems.length > 0) return got.receivedMessageItems[0]!;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no message became visible');
}

test("the provider's Retry-After sets the copy's delay when longer than the backoff", async () => {
  const hinted = new RelayError('throttled', { reason: 'token_endpoint_throttled', kind: 'transient', retryAfterSeconds: 120 });
  const { deps } = await setup(scripted(hinted));
  const outcome = await relayQueueMessage({ to: 'a@example.net', text: 'x' }, { dequeueCount: 1, queueMessageId: 'q' }, deps, logger);
  assert.equal(outcome.status === 'retry-scheduled' && outcome.delaySeconds, 120);
  assert.ok(lines.some((line) => line.includes('relay.retry') && line.includes('retrying in 120 s')));
});

test('a copy at its maximum age is dead-lettered with the last reason, every attempt counted, nothing queued', async () => {
  const now = () => new Date('2026-12-01T10:00:00Z');
  const { queue, deadLetters, deps, envelopes } = await setup(scripted(throttled), { now });
  const copy = {
    attempts: 41,
    firstEnqueuedAt: '2026-11-30T09:59:59Z',
    ledgerKey: 'id:old',
    originalQueueMessageId: 'q-first',
    lastReason: 'smtp_throttled',
    lastError: 'throttled',
    message: { id: 'old', to: 'a@example.net', text: 'x' },
  } as const;
  // A copy the relay itself wrote (signed), as it comes back from the queue.
  const text = await sealForRetry(copy, envelopes);
  const outcome = await relayQueueMessage(JSON.parse(text), { dequeueCount: 1, queueMessageId: 'q-copy' }, deps, logger);
  assert.equal(outcome.status, 'dead-lettered');
  const [record] = deadLetters.written;
  assert.equal(record!.reason, 'smtp_throttled');
  assert.equal(record!.providerReply, throttled.providerReply);
  assert.equal(record!.attempts, 42);
  assert.equal(record!.finalAttempt, true);
  assert.equal(record!.firstEnqueuedAt, '2026-11-30T09:59:59.000Z');
  assert.equal(record!.queueMessageId, 'q-first', 'the id the application saw');
  assert.equal(record!.ledgerKey, 'id:old');
  assert.deepEqual(JSON.parse(record!.original), copy.message, 'the original is the application message, not the envelope');
  assert.equal((await queue.getProperties()).approximateMessagesCount, 0);
});

test('when the retry copy cannot be written the handler throws, so the host keeps the original', async () => {
  const { deps } = await setup(scripted(deferred));
  const broken = {
    ...deps,
    retries: {
      ...deps.retries!,
      queue: {
        enqueue: async () => {
          throw new Error('connect ECONNREFUSED 127.0.0.1:10001');
        },
      },
    },
  };
  await assert.rejects(
    relayQueueMessage({ id: 'keep-me', to: 'a@example.net', text: 'x' }, { dequeueCount: 1, queueMessageId: 'q' }, broken, logger),
    (error: unknown) => error instanceof RetryLaterError && error.failure.reason === 'smtp_transient_failure',
  );
  assert.ok(lines.some((line) => line.includes('relay.retry_copy_failed') && line.includes('ECONNREFUSED')));
  // The claim was released: the host's redelivery may send at once.
  const retried = await relayQueueMessage(
    { id: 'keep-me', to: 'a@example.net', text: 'x' },
    { dequeueCount: 2, queueMessageId: 'q' },
    { ...deps, sender: scripted(ok) },
    logger,
  );
  assert.equal(retried.status, 'delivered');
});

test("the host's last allowed delivery still dead-letters with the reason (safety net)", async () => {
  const { deadLetters, deps } = await setup(scripted(deferred));
  const outcome = await relayQueueMessage({ to: 'a@example.net', text: 'x' }, { dequeueCount: 5, queueMessageId: 'q' }, deps, logger);
  assert.equal(outcome.status, 'dead-lettered');
  assert.equal(deadLetters.written[0]!.reason, 'smtp_transient_failure');
  assert.equal(deadLetters.written[0]!.finalAttempt, true);
});

test('a delivered message that comes back (original not deleted, or a duplicate copy) is not sent again', async () => {
  const sender = scripted(ok);
  const { deps, ledger } = await setup(sender);
  const payload = { id: 'once', to: 'a@example.net', text: 'x' };
  assert.equal((await relayQueueMessage(payload, { dequeueCount: 1, queueMessageId: 'q1' }, deps, logger)).status, 'delivered');
  const again = await relayQueueMessage(payload, { dequeueCount: 2, queueMessageId: 'q1' }, deps, logger);
  assert.equal(again.status, 'duplicate');
  assert.equal(again.status === 'duplicate' && again.recorded.messageId, ok.messageId);
  assert.equal(again.status === 'duplicate' && again.recorded.smtpReply, ok.response);
  assert.equal(sender.sends, 1);
  assert.equal((await ledger.read('id:once'))?.state, 'sent');
  assert.ok(lines.some((line) => line.includes('relay.duplicate_suppressed') && line.includes(ok.messageId)));
});

test('a message without id is keyed by its first queue message id, carried through retry copies', async () => {
  const sender = scripted(deferred, ok);
  const { deps, queue } = await setup(sender, { retry: { firstDelaySeconds: 0, maxDelaySeconds: 0 } });
  const payload = { to: 'a@example.net', text: 'no id' };
  await relayQueueMessage(payload, { dequeueCount: 1, queueMessageId: 'q-no-id' }, deps, logger);
  const copy = await receiveWhenVisible(queue);
  assert.equal((await relayQueueMessage(JSON.parse(copy.messageText), { dequeueCount: 1, queueMessageId: copy.messageId }, deps, logger)).status, 'delivered');
  // The original comes back (its delete was lost): the ledger knows it by the same key.
  assert.equal((await relayQueueMessage(payload, { dequeueCount: 2, queueMessageId: 'q-no-id' }, deps, logger)).status, 'duplicate');
  assert.equal(sender.sends, 2);
});

test('a message another instance is sending is not sent: a copy comes back when that claim would expire', async () => {
  const { deps, ledger } = await setup(scripted(ok), { leaseSeconds: 300 });
  await ledger.claim('id:busy', { queueMessageId: 'other' });
  const outcome = await relayQueueMessage({ id: 'busy', to: 'a@example.net', text: 'x' }, { dequeueCount: 1, queueMessageId: 'q' }, deps, logger);
  assert.equal(outcome.status, 'retry-scheduled');
  assert.equal(outcome.status === 'retry-scheduled' && outcome.reason, 'delivery_in_progress');
  // The claim's remaining lease and a second's margin for clocks, not the (shorter) backoff.
  assert.ok(outcome.status === 'retry-scheduled' && outcome.delaySeconds >= 300 && outcome.delaySeconds <= 301);
});

test('a ledger that cannot record the send does not turn a delivered message into a retry', async () => {
  const sender = scripted(ok);
  const { deps, ledger } = await setup(sender);
  const failing = Object.assign(Object.create(Object.getPrototypeOf(ledger)), ledger, {
    markSent: async () => {
      throw new Error('503 ServerBusy');
    },
  });
  const outcome = await relayQueueMessage(
    { id: 'sent-unrecorded', to: 'a@example.net', text: 'x' },
    { dequeueCount: 1, queueMessageId: 'q' },
    { ...deps, ledger: failing },
    logger,
  );
  assert.equal(outcome.status, 'delivered');
  assert.ok(lines.some((line) => line.includes('relay.ledger_update_failed') && line.includes('503 ServerBusy')));
});

test('storage down when claiming: nothing is sent, the handler throws, the message stays queued', async () => {
  const sender = scripted(ok);
  const { deps } = await setup(sender);
  const dead = BlobServiceClient.fromConnectionString(
    azurite.connectionString.replace(/BlobEndpoint=http:\/\/127\.0\.0\.1:\d+/, 'BlobEndpoint=http://127.0.0.1:9'),
    { retryOptions: { maxTries: 1 } },
  );
  const unreachable = new BlobDeliveryLedger(dead.getContainerClient('x-ledger'), { leaseSeconds: 600 });
  const outcome = await relayQueueMessage(
    { id: 'no-storage', to: 'a@example.net', text: 'x' },
    { dequeueCount: 1, queueMessageId: 'q' },
    {
      ...deps,
      ledger: unreachable,
      retries: {
        ...deps.retries!,
        queue: {
          enqueue: async () => {
            throw new Error('queue down too');
          },
        },
      },
    },
    logger,
  ).catch((error: unknown) => error);
  assert.ok(outcome instanceof RetryLaterError);
  assert.equal(outcome.failure.reason, 'storage_unavailable');
  assert.equal(sender.sends, 0);
});

test('a forged retry envelope cannot smuggle an invalid message past validation', async () => {
  const { deadLetters, deps } = await setup(scripted(ok));
  const forged = {
    schema: RETRY_SCHEMA,
    attempts: 0,
    firstEnqueuedAt: new Date().toISOString(),
    lastReason: 'x',
    lastError: 'x',
    message: { to: 'a@example.net\r\nBcc: victim@example.org', text: 'x' },
  };
  const outcome = await relayQueueMessage(forged, { dequeueCount: 1, queueMessageId: 'q-forged' }, deps, logger);
  assert.equal(outcome.status, 'dead-lettered');
  assert.equal(deadLetters.written[0]!.reason, 'invalid_message');
});

test("a forged envelope cannot claim another message's ledger entry", async () => {
  const sender = scripted(ok);
  const { deps, ledger } = await setup(sender);
  const victim = await ledger.claim('id:victim', { queueMessageId: 'q-victim' });
  if (victim.outcome === 'claimed') await ledger.release(victim.claim, 'smtp_throttled');
  const forged = {
    schema: RETRY_SCHEMA,
    attempts: 1,
    firstEnqueuedAt: new Date().toISOString(),
    ledgerKey: 'id:victim',
    lastReason: 'x',
    lastError: 'x',
    message: { to: 'a@example.net', text: 'x' },
    signature: 'AAAA',
  };
  const outcome = await relayQueueMessage(forged, { dequeueCount: 1, queueMessageId: 'q-forged-2' }, deps, logger);
  // Not believed: read as an application message, which it is not.
  assert.equal(outcome.status, 'dead-lettered');
  assert.equal(outcome.status === 'dead-lettered' && outcome.reason, 'invalid_message');
  assert.equal(sender.sends, 0);
  assert.equal((await ledger.read('id:victim'))?.state, 'retry', "the victim's entry is untouched");
  assert.equal((await ledger.read('queue:q-forged-2'))?.state, 'dead-lettered');
});
