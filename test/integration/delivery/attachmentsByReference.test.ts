/**
 * Attachments sent by reference through the relay as it is wired for Azure
 * (createRelay): the blob is read just before sending and arrives byte for
 * byte; a blob that does not exist dead-letters the message with its reason.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { simpleParser } from 'mailparser';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { DEVSTORE_ACCOUNT } from '../../../local/azurite';
import { StorageTap } from '../../support/storageTap';
import { loadConfig } from '../../../src/settings';
import { createRelay } from '../../../src/app/relay';
import { silentLogger } from '../../../src/core/log';
import type { DeadLetterRecord } from '../../../src/delivery/deadLetters';

let stack: LocalStack;
before(async () => {
  stack = await startLocalStack({ inMemory: true });
});
after(async () => {
  await stack?.close();
});

test('a blob attachment is fetched and delivered byte for byte; a missing blob is dead-lettered as attachment_not_found', async () => {
  const settings = { ...stack.settings, RELAY_LEDGER_CONTAINER: 'attach-ledger', RELAY_ATTACHMENT_CONTAINER: 'attach-files' };
  const relay = createRelay(loadConfig(settings), silentLogger);
  const container = BlobServiceClient.fromConnectionString(stack.settings.AzureWebJobsStorage).getContainerClient('attach-files');
  await container.createIfNotExists();
  const bytes = randomBytes(200_000); // far beyond what a queue message holds
  await container.getBlockBlobClient('reports/big.bin').uploadData(bytes);
  try {
    const before = stack.smtpServer.received.length;
    const delivered = await relay.handleQueueMessage(
      {
        id: 'by-reference-1',
        to: 'a@example.net',
        text: 'see attachment',
        attachments: [{ filename: 'big.bin', contentType: 'application/octet-stream', blob: 'reports/big.bin' }],
      },
      { dequeueCount: 1, queueMessageId: 'q-attach-1' },
      silentLogger,
    );
    assert.equal(delivered.status, 'delivered');
    assert.equal(stack.smtpServer.received.length, before + 1);
    const parsed = await simpleParser(stack.smtpServer.received.at(-1)!.raw);
    assert.ok(parsed.attachments[0]!.content.equals(bytes));

    const missing = await relay.handleQueueMessage(
      { id: 'by-reference-2', to: 'a@example.net', text: 'x', attachments: [{ filename: 'gone.pdf', blob: 'reports/gone.pdf' }] },
      { dequeueCount: 1, queueMessageId: 'q-attach-2' },
      silentLogger,
    );
    assert.equal(missing.status, 'dead-lettered');
    assert.equal(missing.status === 'dead-lettered' && missing.reason, 'attachment_not_found');
  } finally {
    await relay.close();
  }
});

test('at most 100 attachments: 100 blob references are delivered, 101 are dead-lettered invalid_message without a request to the attachment container', async () => {
  // The relay's storage traffic goes through a tap that records every request.
  const tap = await StorageTap.start(stack.azurite.blobPort);
  const connection = tap.connectionString(stack.settings.AzureWebJobsStorage);
  const settings = { ...stack.settings, AzureWebJobsStorage: connection, RELAY_LEDGER_CONTAINER: 'attach-ledger', RELAY_ATTACHMENT_CONTAINER: 'attach-files' };
  const relay = createRelay(loadConfig(settings), silentLogger);
  const container = BlobServiceClient.fromConnectionString(stack.settings.AzureWebJobsStorage).getContainerClient('attach-files');
  await container.createIfNotExists();
  await container.getBlockBlobClient('shared/logo.txt').uploadData(Buffer.from('one small file, referenced many times'));
  const references = (count: number) => Array.from({ length: count }, (_, index) => ({ filename: `f${index}.txt`, blob: 'shared/logo.txt' }));
  const attachmentRequests = () => tap.requestsUnder(DEVSTORE_ACCOUNT, 'attach-files').map((request) => request.method);
  try {
    const before = stack.smtpServer.received.length;
    const hundred = await relay.handleQueueMessage(
      { id: 'many-100', to: 'a@example.net', text: 'x', attachments: references(100) },
      { dequeueCount: 1, queueMessageId: 'q-many-100' },
      silentLogger,
    );
    assert.equal(hundred.status, 'delivered');
    const parsed = await simpleParser(stack.smtpServer.received.at(-1)!.raw);
    assert.equal(parsed.attachments.length, 100);
    assert.deepEqual(attachmentRequests().sort(), [...Array(100).fill('GET'), ...Array(100).fill('HEAD')], 'one size check and one download per attachment');

    tap.reset();
    const tooMany = await relay.handleQueueMessage(
      { id: 'many-101', to: 'a@example.net', text: 'x', attachments: references(101) },
      { dequeueCount: 1, queueMessageId: 'q-many-101' },
      silentLogger,
    );
    assert.equal(tooMany.status, 'dead-lettered');
    assert.equal(tooMany.status === 'dead-lettered' && tooMany.reason, 'invalid_message');
    assert.deepEqual(attachmentRequests(), [], 'no request to the attachment container');
    const deadLetters = new QueueClient(stack.settings.AzureWebJobsStorage, stack.settings.RELAY_DEADLETTER_QUEUE_NAME);
    const peeked = await deadLetters.peekMessages({ numberOfMessages: 32 });
    const record = peeked.peekedMessageItems
      .map((item) => JSON.parse(item.messageText) as DeadLetterRecord)
      .find((item) => tooMany.status === 'dead-lettered' && item.recordId === tooMany.record.recordId);
    assert.match(record?.description ?? '', /\$\.attachments: must NOT have more than 100 items/);
    assert.equal(stack.smtpServer.received.length, before + 1, 'only the message with 100 was sent');
  } finally {
    await relay.close();
    await tap.close();
  }
});
