/** Claim-check attachments on real Azurite blobs: streamed whole, or a precise reason. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buffer } from 'node:stream/consumers';
import { Readable } from 'node:stream';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { LocalAzurite } from '../../local/azurite';
import { AttachmentBlobs, closeAttachmentStreams } from '../../src/message/attachmentBlobs';
import { parseQueueMessage } from '../../src/message/validate';
import { RelayError } from '../../src/errors';
import type { MailSettings } from '../../src/config';

const mail: MailSettings = { user: 'relay@example.com', from: 'relay@example.com', allowedFrom: [], maxRecipients: 500 };
let azurite: LocalAzurite;
let container: ContainerClient;

before(async () => {
  azurite = await LocalAzurite.start();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('outbound-mail-attachments');
  await container.createIfNotExists();
});
after(async () => {
  await azurite?.stop();
});

const message = (attachments: unknown[]) => parseQueueMessage({ to: 'a@example.net', text: 'x', attachments }, mail);

describe('claim-check attachments', () => {
  it('streams a blob attachment byte for byte, keeping inline ones and their order', async () => {
    const bytes = Buffer.alloc(1024 * 1024, 7);
    await container.getBlockBlobClient('reports/2026/big.pdf').uploadData(bytes);
    const resolved = await new AttachmentBlobs(container, 25 * 2 ** 20).resolve(
      message([
        { filename: 'small.txt', content: Buffer.from('hi').toString('base64') },
        { filename: 'big.pdf', contentType: 'application/pdf', blob: 'reports/2026/big.pdf' },
      ]),
    );
    assert.deepEqual(resolved.attachments.map((attachment) => attachment.filename), ['small.txt', 'big.pdf']);
    assert.ok(Buffer.isBuffer(resolved.attachments[0].content), 'inline attachments stay in memory');
    const streamed = resolved.attachments[1].content;
    assert.ok(streamed instanceof Readable);
    assert.ok((await buffer(streamed)).equals(bytes));
    assert.equal(resolved.attachments[1].contentType, 'application/pdf');
    assert.ok(!('blob' in resolved.attachments[1]));
  });

  it('closeAttachmentStreams ends the downloads of a message that will not be sent', async () => {
    await container.getBlockBlobClient('unsent.bin').uploadData(Buffer.alloc(256 * 1024, 3));
    const resolved = await new AttachmentBlobs(container, 2 ** 20).resolve(message([{ filename: 'u.bin', blob: 'unsent.bin' }]));
    const stream = resolved.attachments[0].content as Readable;
    assert.equal(stream.destroyed, false);
    closeAttachmentStreams(resolved);
    assert.equal(stream.destroyed, true);
  });

  it('a missing blob is a permanent failure naming the blob', async () => {
    await assert.rejects(new AttachmentBlobs(container, 2 ** 20).resolve(message([{ filename: 'x.pdf', blob: 'nope.pdf' }])), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.equal(error.reason, 'attachment_not_found');
      assert.equal(error.kind, 'permanent');
      assert.match(error.message, /nope\.pdf/);
      return true;
    });
  });

  it('attachments over the size limit are refused before their bytes are read', async () => {
    await container.getBlockBlobClient('two-mb.bin').uploadData(Buffer.alloc(2 * 2 ** 20));
    await assert.rejects(new AttachmentBlobs(container, 2 ** 20).resolve(message([{ filename: 'b.bin', blob: 'two-mb.bin' }])), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.equal(error.reason, 'message_too_large');
      assert.equal(error.kind, 'permanent');
      return true;
    });
  });

  it('storage that cannot be reached is transient, so the message is retried', async () => {
    const unreachable = BlobServiceClient.fromConnectionString(
      azurite.connectionString.replace(/BlobEndpoint=http:\/\/127\.0\.0\.1:\d+/, 'BlobEndpoint=http://127.0.0.1:9'),
      { retryOptions: { maxTries: 1 } },
    ).getContainerClient('outbound-mail-attachments');
    await assert.rejects(new AttachmentBlobs(unreachable, 2 ** 20).resolve(message([{ filename: 'x', blob: 'x' }])), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.equal(error.reason, 'storage_unavailable');
      assert.equal(error.kind, 'transient');
      return true;
    });
  });
});

describe('the contract for blob attachments', () => {
  const problems = (attachments: unknown[]) => {
    try {
      message(attachments);
      return [];
    } catch (error) {
      return ((error as { problems?: Array<{ path: string; problem: string }> }).problems ?? []).map((item) => `${item.path} ${item.problem}`);
    }
  };
  it('needs exactly one of content and blob', () => {
    assert.match(problems([{ filename: 'a', content: 'aGk=', blob: 'a' }]).join('\n'), /exactly one of "content".*"blob"/);
    assert.match(problems([{ filename: 'a' }]).join('\n'), /exactly one of "content".*"blob"/);
  });
  it('refuses blob names that climb out of the container or carry control characters', () => {
    for (const blob of ['/etc/passwd', '../secret', 'a/../b', 'a\\b', 'line\nbreak', '']) {
      assert.ok(problems([{ filename: 'a', blob }]).length > 0, JSON.stringify(blob));
    }
    assert.deepEqual(problems([{ filename: 'a', blob: 'orders/2026/11/invoice 42.pdf' }]), []);
  });
});
