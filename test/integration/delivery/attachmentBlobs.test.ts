/** Claim-check attachments on real Azurite blobs: streamed whole, or a precise reason. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buffer } from 'node:stream/consumers';
import { Readable } from 'node:stream';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import nodemailer from 'nodemailer';
import { simpleParser } from 'mailparser';
import { DEVSTORE_ACCOUNT, LocalAzurite } from '../../../local/azurite';
import { AttachmentBlobs, closeAttachmentStreams } from '../../../src/delivery/attachmentBlobs';
import { toMailOptions } from '../../../src/message/compose';
import { parseQueueMessage } from '../../../src/message/validate';
import type { RelayMessage } from '../../../src/message/types';
import { RelayError } from '../../../src/core/errors';
import type { MailSettings } from '../../../src/settings';
import { StorageTap } from '../../support/storageTap';

const mail: MailSettings = { user: 'relay@example.com', from: 'relay@example.com', allowedFrom: [], maxRecipients: 500 };
let azurite: LocalAzurite;
let container: ContainerClient;
let tap: StorageTap;
/** The attachment container seen through the tap, which records every request. */
let tapped: ContainerClient;

before(async () => {
  azurite = await LocalAzurite.start();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('outbound-mail-attachments');
  await container.createIfNotExists();
  tap = await StorageTap.start(azurite.blobPort);
  tapped = BlobServiceClient.fromConnectionString(tap.connectionString(azurite.connectionString)).getContainerClient('outbound-mail-attachments');
});
after(async () => {
  await tap?.close();
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
    assert.deepEqual(
      resolved.attachments.map((attachment) => attachment.filename),
      ['small.txt', 'big.pdf'],
    );
    assert.ok(Buffer.isBuffer(resolved.attachments[0]!.content), 'inline attachments stay in memory');
    const streamed = resolved.attachments[1]!.content;
    assert.ok(streamed instanceof Readable);
    assert.ok((await buffer(streamed)).equals(bytes));
    assert.equal(resolved.attachments[1]!.contentType, 'application/pdf');
    assert.ok(!('blob' in resolved.attachments[1]!));
  });

  it('closeAttachmentStreams ends the downloads of a message that will not be sent', async () => {
    await container.getBlockBlobClient('unsent.bin').uploadData(Buffer.alloc(256 * 1024, 3));
    const resolved = await new AttachmentBlobs(container, 2 ** 20).resolve(message([{ filename: 'u.bin', blob: 'unsent.bin' }]));
    const stream = resolved.attachments[0]!.content as Readable;
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

describe('claim-check attachments never leave their container', () => {
  it('a name that would leave the container is refused as invalid_message before any request, even when validation was skipped', async () => {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    await service.getContainerClient('outbound-mail-ledger').createIfNotExists();
    await service.getContainerClient('outbound-mail-ledger').getBlockBlobClient('x').uploadData(Buffer.from('ledger entry'));
    for (const blob of [
      '\u2028/../../outbound-mail-ledger/x',
      '\u2029/../../outbound-mail-ledger/x',
      '../outbound-mail-ledger/x',
      'a/./../../outbound-mail-ledger/x',
      '%2e%2e/outbound-mail-ledger/x',
      'x?comp=list',
    ]) {
      tap.reset();
      // Built by hand: AttachmentBlobs must not rely on the message having been validated.
      const raw: RelayMessage = {
        from: { address: 'r@example.com' },
        to: [{ address: 'a@example.net' }],
        cc: [],
        bcc: [],
        replyTo: [],
        headers: {},
        text: 'x',
        attachments: [{ filename: 'x', blob }],
      };
      await assert.rejects(new AttachmentBlobs(tapped, 2 ** 20).resolve(raw), (error: unknown) => {
        assert.ok(error instanceof RelayError, String(error));
        assert.equal(error.reason, 'invalid_message', JSON.stringify(blob));
        assert.equal(error.kind, 'permanent');
        return true;
      });
      assert.deepEqual(tap.requests, [], `no request for ${JSON.stringify(blob)}`);
    }
  });

  it('one bad name in a message stops it before any of its blobs is requested', async () => {
    await container.getBlockBlobClient('fine.bin').uploadData(Buffer.from('fine'));
    tap.reset();
    const raw: RelayMessage = {
      from: { address: 'r@example.com' },
      to: [{ address: 'a@example.net' }],
      cc: [],
      bcc: [],
      replyTo: [],
      headers: {},
      text: 'x',
      attachments: [
        { filename: 'a', blob: 'fine.bin' },
        { filename: 'b', blob: '../outbound-mail-ledger/x' },
      ],
    };
    await assert.rejects(
      new AttachmentBlobs(tapped, 2 ** 20).resolve(raw),
      (error: unknown) => error instanceof RelayError && error.reason === 'invalid_message',
    );
    assert.deepEqual(tap.requests, []);
  });
});

describe('a message with many blob attachments holds one download open at a time', () => {
  it('resolving reads only sizes; sending downloads the blobs one after the other, byte for byte', async () => {
    const names = ['many/one.bin', 'many/two.bin', 'many/three.bin'];
    // Larger than loopback socket buffers, so a download nobody reads stays open.
    const contents = names.map((_, index) => Buffer.alloc(6 * 2 ** 20, index + 1));
    for (const [index, name] of names.entries()) await container.getBlockBlobClient(name).uploadData(contents[index]!);
    tap.reset();
    const resolved = await new AttachmentBlobs(tapped, 25 * 2 ** 20).resolve(message(names.map((blob, index) => ({ filename: `f${index}.bin`, blob }))));
    assert.deepEqual(
      tap.requestsUnder(DEVSTORE_ACCOUNT, 'outbound-mail-attachments').map((request) => request.method),
      ['HEAD', 'HEAD', 'HEAD'],
      'sizes only, no download yet',
    );

    const transport = nodemailer.createTransport({ streamTransport: true, buffer: true });
    const sent = await transport.sendMail(toMailOptions(resolved, mail));
    assert.equal(tap.requests.filter((request) => request.method === 'GET').length, 3);
    assert.equal(tap.peakOpenDownloads, 1, 'never two downloads open at once');
    const parsed = await simpleParser(sent.message);
    assert.deepEqual(
      parsed.attachments.map((attachment) => attachment.content.equals(contents[Number(attachment.filename!.slice(1, 2))]!)),
      [true, true, true],
    );
  });

  it('a blob replaced after its size was checked is not sent with other bytes: the read fails as transient storage_unavailable', async () => {
    await container.getBlockBlobClient('replaced.bin').uploadData(Buffer.alloc(10, 1));
    const resolved = await new AttachmentBlobs(container, 2 ** 20).resolve(message([{ filename: 'r.bin', blob: 'replaced.bin' }]));
    await container.getBlockBlobClient('replaced.bin').uploadData(Buffer.alloc(5 * 2 ** 20, 2));
    await assert.rejects(buffer(resolved.attachments[0]!.content as Readable), (error: unknown) => {
      assert.ok(error instanceof RelayError, String(error));
      assert.equal(error.reason, 'storage_unavailable');
      assert.equal(error.kind, 'transient');
      return true;
    });
  });
});
