import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channel } from 'node:diagnostics_channel';
import { StorageRequestCounter, storageOperation, storagePorts } from '../../../scripts/storageOperations';

const roles = { 'relay-ledger': 'ledger', 'relay-attachments': 'attachment', 'relay-coordination': 'coordination', 'bench-small': 'relay queue' };

test('queue requests are named by their REST operation', () => {
  const cases: Array<[method: string, url: string, operation: string]> = [
    ['POST', '/devstoreaccount1/bench-small/messages?timeout=30', 'Put Message'],
    ['GET', '/devstoreaccount1/bench-small/messages?numofmessages=16&visibilitytimeout=600', 'Get Messages'],
    ['GET', '/devstoreaccount1/bench-small/messages?peekonly=true', 'Peek Messages'],
    ['DELETE', '/devstoreaccount1/bench-small/messages/be77?popreceipt=MDJ', 'Delete Message'],
    ['PUT', '/devstoreaccount1/bench-small/messages/be77?popreceipt=MDJ&visibilitytimeout=30', 'Update Message'],
    ['DELETE', '/devstoreaccount1/bench-small/messages', 'Clear Messages'],
    ['PUT', '/devstoreaccount1/bench-small?timeout=30', 'Create Queue'],
    ['GET', '/devstoreaccount1/bench-small?comp=metadata', 'Get Queue Metadata'],
  ];
  for (const [method, url, operation] of cases) {
    assert.deepEqual(storageOperation('queue', method, url, roles), { service: 'queue', target: 'relay queue', operation }, `${method} ${url}`);
  }
});

test('blob requests are named by their REST operation and what they touch', () => {
  const cases: Array<[method: string, url: string, target: string, operation: string]> = [
    ['PUT', '/devstoreaccount1/relay-ledger/entries/ab/cd.json', 'ledger', 'Put Blob'],
    ['GET', '/devstoreaccount1/relay-ledger/entries/ab/cd.json', 'ledger', 'Get Blob'],
    ['HEAD', '/devstoreaccount1/relay-attachments/bench/one-megabyte.bin', 'attachment', 'Get Blob Properties'],
    ['GET', '/devstoreaccount1/relay-attachments/bench%2Fone-megabyte.bin', 'attachment', 'Get Blob'],
    ['PUT', '/devstoreaccount1/relay-coordination/relay%40example.com/slot-1?comp=lease', 'connection slot', 'Lease Blob'],
    ['PUT', '/devstoreaccount1/relay-coordination/relay%40example.com/window.json', 'throttle window', 'Put Blob'],
    ['PUT', '/devstoreaccount1/relay-ledger?restype=container', 'ledger', 'Create Container'],
    ['GET', '/devstoreaccount1/relay-ledger?restype=container&comp=list', 'ledger', 'List Blobs'],
    ['PUT', '/devstoreaccount1/other/x.bin?comp=block&blockid=AA', 'other', 'Put Block'],
    ['PUT', '/devstoreaccount1/other/x.bin?comp=blocklist', 'other', 'Put Block List'],
    ['DELETE', '/devstoreaccount1/other/x.bin', 'other', 'Delete Blob'],
  ];
  for (const [method, url, target, operation] of cases) {
    assert.deepEqual(storageOperation('blob', method, url, roles), { service: 'blob', target, operation }, `${method} ${url}`);
  }
});

test('storagePorts reads the queue and blob ports from a connection string', () => {
  const connection = 'DefaultEndpointsProtocol=http;AccountName=a;AccountKey=k;BlobEndpoint=http://127.0.0.1:10000/a;QueueEndpoint=http://127.0.0.1:10001/a;';
  assert.deepEqual(storagePorts(connection), { queuePort: 10001, blobPort: 10000 });
});

/** What node:http publishes for each request it starts (only the parts the counter reads). */
function publishRequest(method: string, host: string, path: string, userAgent = 'azsdk-js'): void {
  const headers: Record<string, string> = { host, 'user-agent': userAgent };
  channel('http.client.request.start').publish({ request: { method, path, getHeader: (name: string) => headers[name] } });
}

test('the counter counts each request to the storage ports by who sent it, ignores other hosts, and resets', () => {
  const counter = new StorageRequestCounter({ queuePort: 10001, blobPort: 10000 }, roles, (agent) => (agent.startsWith('bench-host') ? 'host' : 'producer'));
  try {
    publishRequest('GET', '127.0.0.1:10001', '/devstoreaccount1/bench-small/messages?numofmessages=16', 'bench-host azsdk-js');
    publishRequest('DELETE', '127.0.0.1:10001', '/devstoreaccount1/bench-small/messages/1?popreceipt=x', 'bench-host azsdk-js');
    publishRequest('DELETE', '127.0.0.1:10001', '/devstoreaccount1/bench-small/messages/2?popreceipt=y', 'bench-host azsdk-js');
    publishRequest('POST', '127.0.0.1:10001', '/devstoreaccount1/bench-small/messages');
    publishRequest('PUT', '127.0.0.1:10000', '/devstoreaccount1/relay-ledger/entries/a.json');
    publishRequest('POST', '127.0.0.1:44321', '/tenant/oauth2/v2.0/token'); // the token endpoint: not storage
    assert.deepEqual(counter.snapshot(), [
      { actor: 'host', service: 'queue', target: 'relay queue', operation: 'Delete Message', count: 2 },
      { actor: 'host', service: 'queue', target: 'relay queue', operation: 'Get Messages', count: 1 },
      { actor: 'producer', service: 'queue', target: 'relay queue', operation: 'Put Message', count: 1 },
      { actor: 'producer', service: 'blob', target: 'ledger', operation: 'Put Blob', count: 1 },
    ]);
    counter.reset();
    assert.deepEqual(counter.snapshot(), []);
  } finally {
    counter.close();
  }
  publishRequest('PUT', '127.0.0.1:10000', '/devstoreaccount1/relay-ledger/entries/b.json');
  assert.deepEqual(counter.snapshot(), [], 'closed: counts nothing more');
});
