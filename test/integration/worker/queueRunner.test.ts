/**
 * The local queue runner must behave like the Functions host's queue trigger
 * (visibility timeout after a failure, dequeueCount, poison after the
 * maximum), or the local run would prove nothing. On real Azurite (reading
 * host.json: test/unit/worker/queueRunner.test.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { QueueClient } from '@azure/storage-queue';
import { LocalAzurite } from '../../../local/azurite';
import { QueueRunner, type HostQueueSettings } from '../../../src/worker/queueRunner';
import { silentLogger } from '../../../src/core/log';
import type { QueueDelivery } from '../../../src/delivery/ports';

let azurite: LocalAzurite;

before(async () => {
  azurite = await LocalAzurite.start();
});
after(async () => {
  await azurite?.stop();
});

let queueCounter = 0;
function queues() {
  const name = `runner-test-${++queueCounter}`;
  return {
    queue: new QueueClient(azurite.connectionString, name),
    poisonQueue: new QueueClient(azurite.connectionString, `${name}-poison`),
  };
}

const fastSettings: HostQueueSettings = { batchSize: 4, maxDequeueCount: 3, visibilityTimeoutSeconds: 0, maxPollingIntervalMs: 200, messageEncoding: 'none' };

test('a handled message is deleted; JSON text is handed over parsed, with its dequeue count', async () => {
  const { queue, poisonQueue } = queues();
  const seen: Array<{ payload: unknown; delivery: QueueDelivery }> = [];
  const runner = new QueueRunner({
    queue,
    poisonQueue,
    settings: fastSettings,
    logger: silentLogger,
    handler: async (payload, delivery) => void seen.push({ payload, delivery }),
  });
  await runner.start();
  await runner.stop();
  await queue.sendMessage('{"to":"a@example.net"}');
  await queue.sendMessage('not json');
  assert.equal(await runner.pollOnce(), 2);
  assert.deepEqual(seen.map((entry) => entry.payload).sort(), [{ to: 'a@example.net' }, 'not json'].sort());
  assert.ok(seen.every((entry) => entry.delivery.dequeueCount === 1 && entry.delivery.queueMessageId));
  assert.equal((await queue.getProperties()).approximateMessagesCount, 0);
});

test('a failing message comes back with a higher dequeue count and goes to <queue>-poison after the maximum', async () => {
  const { queue, poisonQueue } = queues();
  const counts: number[] = [];
  const runner = new QueueRunner({
    queue,
    poisonQueue,
    settings: fastSettings,
    logger: silentLogger,
    handler: async (_payload, delivery) => {
      counts.push(delivery.dequeueCount);
      throw new Error('transient');
    },
  });
  await runner.start();
  await runner.stop();
  await queue.sendMessage('{"n":1}');
  for (let i = 0; i < 3; i++) assert.equal(await runner.pollOnce(), 1);
  assert.deepEqual(counts, [1, 2, 3]);
  assert.equal(await runner.pollOnce(), 0, 'nothing left after the last attempt');
  const poisoned = await poisonQueue.receiveMessages();
  assert.equal(poisoned.receivedMessageItems[0]?.messageText, '{"n":1}');
});

test('after a failure the message stays invisible for the visibility timeout', async () => {
  const { queue, poisonQueue } = queues();
  const runner = new QueueRunner({
    queue,
    poisonQueue,
    settings: { ...fastSettings, visibilityTimeoutSeconds: 60 },
    logger: silentLogger,
    handler: async () => {
      throw new Error('x');
    },
  });
  await runner.start();
  await runner.stop();
  await queue.sendMessage('{}');
  assert.equal(await runner.pollOnce(), 1);
  assert.equal(await runner.pollOnce(), 0, 'hidden until the visibility timeout passes');
  assert.equal((await queue.getProperties()).approximateMessagesCount, 1, 'but still on the queue');
});

test('messageEncoding base64 decodes the text before handing it over', async () => {
  const { queue, poisonQueue } = queues();
  const seen: unknown[] = [];
  const runner = new QueueRunner({
    queue,
    poisonQueue,
    settings: { ...fastSettings, messageEncoding: 'base64' },
    logger: silentLogger,
    handler: async (payload) => void seen.push(payload),
  });
  await runner.start();
  await runner.stop();
  await queue.sendMessage(Buffer.from('{"subject":"hé"}').toString('base64'));
  await runner.pollOnce();
  assert.deepEqual(seen, [{ subject: 'hé' }]);
});

test('the running loop picks up a message sent while it waits', async () => {
  const { queue, poisonQueue } = queues();
  let resolveSeen: (payload: unknown) => void;
  const seen = new Promise((resolveFn) => (resolveSeen = resolveFn));
  const runner = new QueueRunner({ queue, poisonQueue, settings: fastSettings, logger: silentLogger, handler: async (payload) => resolveSeen(payload) });
  await runner.start();
  await queue.sendMessage('{"late":true}');
  assert.deepEqual(await seen, { late: true });
  await runner.stop();
});

test('the running loop fetches the next batch once no more than newBatchThreshold are in flight, as the host does', async () => {
  const { queue, poisonQueue } = queues();
  const blocked: Array<() => void> = [];
  let current = 0;
  let highest = 0;
  let finished = 0;
  const runner = new QueueRunner({
    queue,
    poisonQueue,
    logger: silentLogger,
    settings: { ...fastSettings, batchSize: 4, newBatchThreshold: 2 },
    handler: async () => {
      current++;
      highest = Math.max(highest, current);
      await new Promise<void>((release) => blocked.push(release));
      current--;
      finished++;
    },
  });
  await queue.createIfNotExists();
  for (let i = 0; i < 10; i++) await queue.sendMessage(`{"n":${i}}`);
  const until = async (condition: () => boolean) => {
    while (!condition()) await new Promise((tick) => setTimeout(tick, 10));
  };
  await runner.start();
  await until(() => blocked.length === 4);
  assert.equal(current, 4, 'one batch of batchSize');
  blocked.splice(0, 2).forEach((release) => release());
  await until(() => blocked.length === 6);
  assert.equal(current, 6, 'two still running plus the next batch of four');
  // Release until all ten have run: a batch may still be on its way from the
  // queue when nothing is blocked, so "nothing blocked" is not "done".
  await until(() => {
    blocked.splice(0).forEach((release) => release());
    return finished === 10;
  });
  await runner.stop();
  assert.equal(highest, 6, 'never more than batchSize + newBatchThreshold at once');
});
