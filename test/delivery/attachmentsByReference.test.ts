/**
 * Attachments sent by reference through the relay as it is wired for Azure
 * (createRelay): the blob is read just before sending and arrives byte for
 * byte; a blob that does not exist dead-letters the message with its reason.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import { simpleParser } from 'mailparser';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { loadConfig } from '../../src/config';
import { createRelay } from '../../src/runtime';
import { silentLogger } from '../../src/log';

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
  const container = BlobServiceClient.fromConnectionString(stack.settings.AzureWebJobsStorage!).getContainerClient('attach-files');
  await container.createIfNotExists();
  const bytes = randomBytes(200_000); // far beyond what a queue message holds
  await container.getBlockBlobClient('reports/big.bin').uploadData(bytes);
  try {
    const before = stack.smtpServer.received.length;
    const delivered = await relay.handleQueueMessage(
      { id: 'by-reference-1', to: 'a@example.net', text: 'see attachment', attachments: [{ filename: 'big.bin', contentType: 'application/octet-stream', blob: 'reports/big.bin' }] },
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
