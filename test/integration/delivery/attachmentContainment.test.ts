/**
 * Claim-check attachments never leave their container, end to end. A marker blob
 * sits in each of the relay's other containers (delivery ledger, dead-letter
 * records, monitor state), in the Functions host's own (azure-webjobs-hosts,
 * azure-webjobs-secrets, where function keys live), in $root and in a look-alike
 * of the attachment container. Producers name them in every way that could reach
 * them; the queue runner (host semantics) hands each message to the relay as wired
 * for Azure (createRelay) on Azurite, with the real SMTP server behind it.
 *
 * Every such message must be dead-lettered as invalid_message at
 * $.attachments[0].blob, and no message the SMTP server received (its bytes and
 * the .eml it stored) may contain a marker. A control message naming a real blob
 * of the attachment container is delivered, and its marker is found: the scan
 * sees attachment bytes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { simpleParser } from 'mailparser';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { QueueRunner } from '../../../src/worker/queueRunner';
import { loadConfig } from '../../../src/settings';
import { createRelay } from '../../../src/app/relay';
import { silentLogger } from '../../../src/core/log';
import type { DeadLetterRecord } from '../../../src/delivery/deadLetters';

const NAME = 'contain';
const ATTACHMENTS = `${NAME}-files`;
const settingsFor = (stack: LocalStack) => ({
  ...stack.settings,
  RELAY_QUEUE_NAME: NAME,
  RELAY_DEADLETTER_QUEUE_NAME: `${NAME}-deadletter`,
  RELAY_DEADLETTER_CONTAINER: `${NAME}-deadletter`,
  RELAY_LEDGER_CONTAINER: `${NAME}-ledger`,
  RELAY_ATTACHMENT_CONTAINER: ATTACHMENTS,
  MONITOR_STATE_CONTAINER: `${NAME}-monitor`,
  RELAY_RETRY_FIRST_DELAY_SECONDS: '0',
  RELAY_RETRY_MAX_DELAY_SECONDS: '0',
});
/** Every container the relay's identity can read besides the attachment container. */
const OTHER_CONTAINERS = [
  `${NAME}-ledger`,
  `${NAME}-deadletter`,
  `${NAME}-monitor`,
  'azure-webjobs-hosts',
  'azure-webjobs-secrets',
  '$root',
  `${ATTACHMENTS}-private`,
];
const RUN = randomBytes(6).toString('hex');
const marker = (container: string) => `MARKER-${RUN}-${container}`;

/** Every way a name could try to reach blob `marker.txt` of `container` from the attachment container. */
function namesReaching(container: string, blobEndpoint: string): string[] {
  return [
    `\u2028/../../${container}/marker.txt`,
    `\u2029/../../${container}/marker.txt`,
    `legit/\u2028/../../../${container}/marker.txt`,
    `../${container}/marker.txt`,
    `./../${container}/marker.txt`,
    `%2e%2e/${container}/marker.txt`,
    `..%2f${container}%2fmarker.txt`,
    `..\\${container}\\marker.txt`,
    `/../${container}/marker.txt`,
    `${blobEndpoint}/${container}/marker.txt`,
    `../${container}/marker.txt?comp=list`,
  ];
}

/** The `id` inside a dead-letter record's original (queued as base64 of the JSON text). */
function idOf(record: DeadLetterRecord): string | undefined {
  try {
    return (JSON.parse(Buffer.from(record.original ?? '', 'base64').toString('utf8')) as { id?: string }).id;
  } catch {
    return undefined;
  }
}

let stack: LocalStack;
before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

test('no name reaches a blob outside the attachment container: each such message is dead-lettered invalid_message, no delivered byte holds a marker', async () => {
  const settings = settingsFor(stack);
  const connection = stack.settings.AzureWebJobsStorage;
  const service = BlobServiceClient.fromConnectionString(connection);
  for (const container of [...OTHER_CONTAINERS, ATTACHMENTS]) await service.getContainerClient(container).createIfNotExists();
  for (const container of OTHER_CONTAINERS) {
    await service
      .getContainerClient(container)
      .getBlockBlobClient('marker.txt')
      .uploadData(Buffer.from(marker(container)));
  }
  const control = `CONTROL-${RUN}`;
  await service.getContainerClient(ATTACHMENTS).getBlockBlobClient('legit/marker.txt').uploadData(Buffer.from(control));
  // Azurite's blob endpoint, as a producer would write an absolute URL.
  const blobEndpoint = /BlobEndpoint=([^;]+)/.exec(connection)![1]!.replace(/\/$/, '');

  const relay = createRelay(loadConfig(settings), silentLogger);
  const queue = new QueueClient(connection, NAME);
  const deadLetterQueue = new QueueClient(connection, `${NAME}-deadletter`);
  const runner = new QueueRunner({
    queue,
    poisonQueue: new QueueClient(connection, `${NAME}-poison`),
    settings: { batchSize: 16, maxDequeueCount: 5, visibilityTimeoutSeconds: 0, maxPollingIntervalMs: 100, messageEncoding: 'none' },
    handler: (payload, delivery) => relay.handleQueueMessage(payload, delivery, silentLogger),
    logger: silentLogger,
  });
  await runner.start();
  await runner.stop(); // stepped with pollOnce() below
  await deadLetterQueue.createIfNotExists();
  const receivedBefore = stack.smtpServer.received.length;

  try {
    const hostile = new Map<string, string>();
    for (const container of OTHER_CONTAINERS) {
      for (const blob of [...namesReaching(container, blobEndpoint), ...(container === '$root' ? ['\u2028/../../marker.txt', '../marker.txt'] : [])]) {
        const id = `hostile-${hostile.size}`;
        hostile.set(id, blob);
        // Base64 text, as the host may hand it over (and Azurite keeps control characters intact that way).
        await queue.sendMessage(
          Buffer.from(JSON.stringify({ id, to: 'victim@example.net', text: 'see attachment', attachments: [{ filename: 'x.txt', blob }] })).toString('base64'),
        );
      }
    }
    await queue.sendMessage(
      JSON.stringify({ id: 'control', to: 'victim@example.net', text: 'control', attachments: [{ filename: 'ok.txt', blob: 'legit/marker.txt' }] }),
    );
    // Bounded: a message retried without end must fail the test, not hang it.
    for (let poll = 0; poll < 40 && (await runner.pollOnce()) > 0; poll++);

    // Nothing anyone received holds a marker, and only the control message was delivered.
    const received = stack.smtpServer.received.slice(receivedBefore);
    let controlSeen = false;
    for (const message of received) {
      const stored = message.file ? readFileSync(message.file) : message.raw;
      assert.ok(stored.equals(message.raw), 'the .eml holds the received bytes');
      const parsed = await simpleParser(message.raw);
      const texts = [
        message.raw.toString('latin1'),
        parsed.text ?? '',
        String(parsed.html ?? ''),
        ...parsed.attachments.map((attachment) => attachment.content.toString('latin1')),
      ];
      for (const container of OTHER_CONTAINERS) assert.ok(!texts.some((text) => text.includes(marker(container))), `the marker of ${container} was delivered`);
      controlSeen ||= texts.some((text) => text.includes(control));
    }
    assert.ok(controlSeen, 'the control blob arrived, so a marker would have been seen');
    assert.equal(received.length, 1, 'only the control message is delivered');

    // Every hostile message dead-lettered once, with the reason and the precise path; none left queued.
    const records: DeadLetterRecord[] = [];
    for (;;) {
      const batch = await deadLetterQueue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 3600 });
      if (batch.receivedMessageItems.length === 0) break;
      records.push(...batch.receivedMessageItems.map((item) => JSON.parse(item.messageText) as DeadLetterRecord));
    }
    for (const [id, blob] of hostile) {
      const mine = records.filter((record) => idOf(record) === id);
      assert.equal(mine.length, 1, `${JSON.stringify(blob)}: one dead-letter record, got ${mine.length}`);
      assert.equal(mine[0]!.reason, 'invalid_message', `${JSON.stringify(blob)}: ${mine[0]!.reason} ${mine[0]!.description}`);
      assert.match(mine[0]!.description, /\$\.attachments\[0\]\.blob: must /, JSON.stringify(blob));
    }
    assert.equal((await queue.getProperties()).approximateMessagesCount, 0, 'nothing left to retry');
  } finally {
    await relay.close();
  }
});
