import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { QueueClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import { LocalAzurite } from '../../../local/azurite';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { tempDir } from '../../support/localHelpers';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Small retry budget: against a dead emulator the SDK's default policy would back off for minutes.
const retryOptions = { maxTries: 2, retryDelayInMs: 50, maxRetryDelayInMs: 200 };

describe('LocalAzurite', () => {
  let azurite: LocalAzurite;

  before(async () => {
    azurite = await LocalAzurite.start();
  });
  after(() => azurite.stop());

  it('exposes a connection string with loopback queue and blob endpoints', () => {
    assert.match(azurite.connectionString, /AccountName=devstoreaccount1;/);
    assert.ok(azurite.connectionString.includes(`QueueEndpoint=http://127.0.0.1:${azurite.queuePort}/devstoreaccount1;`));
    assert.ok(azurite.connectionString.includes(`BlobEndpoint=http://127.0.0.1:${azurite.blobPort}/devstoreaccount1;`));
  });

  it('lets a QueueClient create a queue, send, receive and delete a message', async () => {
    const queue = new QueueClient(azurite.connectionString, 'outbound-mail', { retryOptions });
    await queue.createIfNotExists();
    const text = Buffer.from(JSON.stringify({ to: 'a@fabrikam.example' })).toString('base64');
    await queue.sendMessage(text);

    const first = await queue.receiveMessages({ visibilityTimeout: 1 });
    assert.equal(first.receivedMessageItems.length, 1);
    const item = first.receivedMessageItems[0]!;
    assert.equal(item.messageText, text);
    assert.equal(item.dequeueCount, 1);
    await queue.deleteMessage(item.messageId, item.popReceipt);
    const after = await queue.receiveMessages();
    assert.equal(after.receivedMessageItems.length, 0);
  });

  it('serves blobs too', async () => {
    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString, { retryOptions });
    const container = blobs.getContainerClient('outbound-mail-deadletter');
    await container.createIfNotExists();
    await container.getBlockBlobClient('probe.json').upload('{}', 2);
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat()) names.push(blob.name);
    assert.deepEqual(names, ['probe.json']);
  });

  it('keeps queue data in a persistent location across restarts', async () => {
    const location = await tempDir('relay-azurite-');
    const first = await LocalAzurite.start({ location });
    try {
      const queue = new QueueClient(first.connectionString, 'persisted', { retryOptions });
      await queue.createIfNotExists();
      await queue.sendMessage('kept');
    } finally {
      await first.stop();
    }
    const second = await LocalAzurite.start({ location });
    try {
      const queue = new QueueClient(second.connectionString, 'persisted', { retryOptions });
      const peeked = await queue.peekMessages();
      assert.equal(peeked.peekedMessageItems[0]?.messageText, 'kept');
    } finally {
      await second.stop();
    }
  });

  it('dies with its parent even when the parent is killed outright', async () => {
    const script = `
      const { LocalAzurite } = require(${JSON.stringify(require.resolve('../../../local/azurite'))});
      LocalAzurite.start().then((a) => console.log(JSON.stringify(a.pids)));
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(parent.stdout, 'data')) as [Buffer];
    const pids = JSON.parse(line.toString()) as number[];
    assert.equal(pids.length, 2);
    assert.ok(pids.every(isAlive));
    parent.kill('SIGKILL');
    await once(parent, 'exit');
    for (let i = 0; i < 100 && pids.some(isAlive); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(pids.filter(isAlive), [], 'no emulator process outlives its parent');
  });

  it('reports a clear error when a requested port is taken', async () => {
    await assert.rejects(LocalAzurite.start({ queuePort: azurite.queuePort }), /already in use/);
  });
});
