/**
 * The app-wide limits' coordination on Azurite: instances (here several
 * coordinators in one process, each with its own state, as separate instances
 * would have) share one window blob with ETag-conditional writes and N leased
 * slot blobs; and a coordination failure never lets a message out: through the
 * queue handler, with the coordination container answering 503, the message is
 * handed back to the queue as a retry and the SMTP server sees nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlobServiceClient } from '@azure/storage-blob';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { DEVSTORE_ACCOUNT } from '../../../local/azurite';
import { isRelayError, type RelayError } from '../../../src/core/errors';
import { SendingWindow } from '../../../src/throttle/sendingWindow';
import { ConnectionSlots } from '../../../src/throttle/connectionSlots';
import { mailboxKey } from '../../../src/throttle/mailboxKey';
import { RelayHarness } from '../../support/relayHarness';
import { StorageTap } from '../../support/storageTap';

let stack: LocalStack;
let blobs: BlobServiceClient;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  blobs = BlobServiceClient.fromConnectionString(stack.settings.AzureWebJobsStorage);
});
after(async () => {
  await stack?.close();
});

const failureOf = (promise: Promise<unknown>): Promise<RelayError> =>
  promise.then(
    () => assert.fail('expected a refusal'),
    (error: unknown) => {
      assert.ok(isRelayError(error), String(error));
      return error;
    },
  );

describe('the shared sending window', () => {
  it('admits exactly the rate across instances racing for it: the conditional writes lose no count', async () => {
    const container = blobs.getContainerClient('window-race');
    const prefix = mailboxKey('smtp.example.net', 'race@example.net');
    const instances = Array.from(
      { length: 8 },
      () => new SendingWindow(container, prefix, { messagesPerWindow: 3, windowMs: 60_000, recipientsPerDay: 0, dayMs: 86_400_000 }),
    );
    // Waiting only 5 s, far less than the minute the window takes to open: a send fits now or is handed back.
    const results = await Promise.allSettled(instances.map((window) => window.reserve(1, Date.now() + 5000)));
    const admitted = results.filter((result) => result.status === 'fulfilled').length;
    assert.equal(admitted, 3, 'three sends fit the window, whoever won the races');
    for (const result of results) {
      if (result.status === 'rejected') {
        const error = result.reason as RelayError;
        assert.equal(error.reason, 'smtp_throttled');
        assert.equal(error.kind, 'transient');
        assert.ok((error.retryAfterSeconds ?? 0) >= 60, `handed back until the window opens: ${error.retryAfterSeconds}`);
        assert.equal(error.providerReply, undefined, 'no server reply: the process is not paused as after a 432');
      }
    }
    assert.ok(instances.reduce((sum, window) => sum + window.stats.conflicts, 0) > 0, 'the instances did race (412s were retried)');
  });

  it('writes a send that fits the state it last wrote without reading first, and still sees what another instance wrote', async () => {
    const tap = await StorageTap.start(stack.azurite.blobPort);
    try {
      const container = BlobServiceClient.fromConnectionString(tap.connectionString(stack.settings.AzureWebJobsStorage)).getContainerClient('window-known');
      const options = { messagesPerWindow: 4, windowMs: 60_000, recipientsPerDay: 10, dayMs: 86_400_000 };
      const first = new SendingWindow(container, 'known', options);
      const second = new SendingWindow(container, 'known', options);
      const windowRequests = () => tap.requestsUnder(DEVSTORE_ACCOUNT, 'window-known').map((request) => request.method);
      await first.reserve(2, Date.now());
      tap.reset();
      await first.reserve(2, Date.now());
      assert.deepEqual(windowRequests(), ['PUT'], 'one conditional write, no read');
      // Another instance counts a send: the first one's next write fails its If-Match, it reads and counts on top.
      await second.reserve(2, Date.now());
      tap.reset();
      await first.reserve(2, Date.now());
      assert.deepEqual(windowRequests(), ['PUT', 'GET', 'PUT']);
      assert.equal(first.stats.conflicts, 0, 'a kept state that was not the newest is no lost race');
      // Four sends fill the window (of 60 s): the fifth, on the state it wrote itself, reads before it refuses.
      tap.reset();
      const refused = await failureOf(first.reserve(1, Date.now() + 5000));
      assert.equal(refused.reason, 'smtp_throttled');
      assert.deepEqual(windowRequests(), ['GET']);
      // And the recipients of all four sends are counted once each: 8 of 10, so 3 more do not fit today.
      const budget = await failureOf(new SendingWindow(container, 'known', { ...options, messagesPerWindow: 0 }).reserve(3, Date.now()));
      assert.equal(budget.reason, 'daily_limit');
      await new SendingWindow(container, 'known', { ...options, messagesPerWindow: 0 }).reserve(2, Date.now());
    } finally {
      await tap.close();
    }
  });

  it('keeps the daily recipient budget: a message that does not fit waits (daily_limit, transient) until enough ages out', async () => {
    const container = blobs.getContainerClient('window-daily');
    const options = { messagesPerWindow: 0, windowMs: 60_000, recipientsPerDay: 5, dayMs: 4_000 };
    const first = new SendingWindow(container, 'daily', options);
    const second = new SendingWindow(container, 'daily', options);
    await first.reserve(3, Date.now());
    await second.reserve(2, Date.now());
    const refused = await failureOf(first.reserve(1, Date.now()));
    assert.equal(refused.reason, 'daily_limit');
    assert.equal(refused.kind, 'transient');
    assert.equal(refused.diagnosis, 'daily_limit');
    assert.ok(refused.retryAfterSeconds! >= 4 && refused.retryAfterSeconds! <= 7, `waits for the "day" to pass: ${refused.retryAfterSeconds} s`);
    const tooMany = await failureOf(second.reserve(6, Date.now()));
    assert.equal(tooMany.kind, 'permanent', 'more recipients than a whole day allows can never be sent');
    await new Promise((resolve) => setTimeout(resolve, refused.retryAfterSeconds! * 1000));
    await first.reserve(5, Date.now()); // the budget reopened
  });

  it('refuses the send when storage cannot be reached (never "go ahead")', async () => {
    const unreachable = new BlobServiceClient('http://127.0.0.1:9/devstoreaccount1', undefined, { retryOptions: { maxTries: 1 } });
    const window = new SendingWindow(unreachable.getContainerClient('nowhere'), 'x', {
      messagesPerWindow: 30,
      windowMs: 60_000,
      recipientsPerDay: 0,
      dayMs: 86_400_000,
    });
    const refused = await failureOf(window.reserve(1, Date.now() + 10_000));
    assert.equal(refused.reason, 'storage_unavailable');
    assert.equal(refused.kind, 'transient');
  });
});

describe('the connection slots', () => {
  it('lease each slot to one instance at a time, and free it on release', async () => {
    const container = blobs.getContainerClient('slots');
    const a = new ConnectionSlots(container, 'mailbox', 2);
    const b = new ConnectionSlots(container, 'mailbox', 2);
    const first = await a.tryAcquire();
    const second = await b.tryAcquire();
    assert.ok(first && second);
    assert.notEqual(first.index, second.index);
    assert.equal(await a.tryAcquire(), undefined, 'both slots held: no third connection');
    await first.renew();
    await first.release();
    const again = await b.tryAcquire();
    assert.equal(again?.index, first.index, 'the released slot is free for another instance');
    await again.release();
    await second.release();
  });
});

describe('through the queue handler', () => {
  it('with the coordination container failing (503), the message goes back to the queue and nothing is sent', async () => {
    const tap = await StorageTap.start(stack.azurite.blobPort);
    const harness = await new RelayHarness(stack, {
      name: 'coordination-down',
      runtime: true,
      settings: {
        AzureWebJobsStorage: tap.connectionString(stack.settings.AzureWebJobsStorage),
        RELAY_LIMITS_SCOPE: 'app',
        RELAY_COORDINATION_CONTAINER: 'coordination-down',
        SMTP_RATE_LIMIT_PER_MINUTE: '30',
      },
    }).start();
    try {
      tap.fault = { account: DEVSTORE_ACCOUNT, container: 'coordination-down', status: 503 };
      const receivedBefore = stack.smtpServer.received.length;
      const outcome = await harness.handleDirect('down-1', { to: 'someone@example.net', subject: 'not past the limits', text: 'x' });
      assert.equal(outcome.status, 'retry-scheduled', JSON.stringify(outcome));
      assert.equal((outcome as { reason?: string }).reason, 'storage_unavailable');
      assert.equal(stack.smtpServer.received.length, receivedBefore, 'nothing was sent');
      assert.ok(
        tap.requests.some((request) => request.url.startsWith(`/${DEVSTORE_ACCOUNT}/coordination-down`)),
        'the relay did ask the coordination container',
      );

      tap.fault = undefined;
      const delivered = await harness.handleDirect('down-2', { to: 'someone@example.net', subject: 'storage back', text: 'x' });
      assert.equal(delivered.status, 'delivered', JSON.stringify(delivered));
    } finally {
      await harness.close();
      await tap.close();
    }
  });
});
