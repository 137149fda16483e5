/**
 * The retry-envelope key on real Azurite blobs: instances racing to create it
 * end up with one key; a copy signed by one instance verifies in another; any
 * changed field (attempts, first-enqueue time, ledger key, first queue message
 * id, the message itself) breaks the signature; a key deleted and made anew by
 * another instance is picked up; an old key blob is touched so an age-based
 * lifecycle rule never deletes it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BlobServiceClient } from '@azure/storage-blob';
import { LocalAzurite } from '../../../local/azurite';
import { BlobEnvelopeKeys, ENVELOPE_KEY_BLOB } from '../../../src/delivery/envelopeKey';
import { openRetry, sealForRetry, type RetryFields } from '../../../src/delivery/retryEnvelope';

let azurite: LocalAzurite;
let blobs: BlobServiceClient;
let counter = 0;
before(async () => {
  azurite = await LocalAzurite.start();
  blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
});
after(async () => {
  await azurite?.stop();
});

const container = () => blobs.getContainerClient(`keys-${++counter}`);
const fields: RetryFields = {
  attempts: 2,
  firstEnqueuedAt: '2026-12-01T10:00:00.000Z',
  ledgerKey: 'queue:q-1',
  originalQueueMessageId: 'q-1',
  lastReason: 'smtp_throttled',
  lastError: '432 4.3.2',
  message: { to: 'a@example.net', text: 'x' },
};

test('instances racing to create the key get one key; a copy one signs, another verifies', async () => {
  const shared = container();
  const instances = Array.from({ length: 5 }, () => new BlobEnvelopeKeys(shared));
  const keys = await Promise.all(instances.map((instance) => instance.current()));
  for (const key of keys) assert.ok(key.equals(keys[0]!));
  assert.equal(keys[0]!.length, 32);
  const copy = await sealForRetry(fields, instances[0]!);
  const opened = await openRetry(JSON.parse(copy), instances[4]);
  assert.deepEqual(opened.message, fields.message);
  assert.equal(opened.envelope?.attempts, 2);
  assert.equal(opened.untrusted, undefined);
  // The text form (a host that hands over the string) verifies the same way.
  assert.equal((await openRetry(copy, instances[1])).envelope?.ledgerKey, 'queue:q-1');
});

test('changing any field of a signed copy makes it untrusted: read as the message it then is', async () => {
  const keys = new BlobEnvelopeKeys(container());
  const copy = JSON.parse(await sealForRetry(fields, keys)) as Record<string, unknown>;
  const changes: Array<Record<string, unknown>> = [
    { attempts: 0 },
    { firstEnqueuedAt: '2099-01-01T00:00:00.000Z' },
    { ledgerKey: 'queue:someone-else' },
    { originalQueueMessageId: 'someone-else' },
    { lastReason: 'internal_error' },
    { message: { to: 'mallory@example.org', text: 'x' } },
  ];
  for (const change of changes) {
    const altered = { ...copy, ...change };
    const opened = await openRetry(altered, keys);
    assert.equal(opened.envelope, undefined, JSON.stringify(change));
    assert.deepEqual(opened.message, altered, 'the whole payload is handed on as the (untrusted) message');
    assert.match(opened.untrusted ?? '', /signature is invalid/);
  }
  const { signature: _signature, ...unsigned } = copy;
  assert.match((await openRetry(unsigned, keys)).untrusted ?? '', /lacks the envelope's fields or signature/);
  // Not an envelope at all: untouched, no remark.
  assert.deepEqual(await openRetry({ to: 'a@example.net', text: 'x' }, keys), { message: { to: 'a@example.net', text: 'x' } });
});

test('a key deleted and made anew by another instance is picked up after a failed check (at most once a minute)', async () => {
  const shared = container();
  let clock = Date.now();
  const old = new BlobEnvelopeKeys(shared, { now: () => clock });
  await old.current();
  await shared.getBlockBlobClient(ENVELOPE_KEY_BLOB).delete();
  const fresh = new BlobEnvelopeKeys(shared);
  const copy = await sealForRetry(fields, fresh);
  // Within a minute of its last load the old instance does not re-read on every bad signature.
  assert.match((await openRetry(copy, old)).untrusted ?? '', /signature is invalid/);
  clock += 61_000;
  assert.equal((await openRetry(copy, old)).envelope?.attempts, 2);
});

test('a key blob older than a day is touched when loaded, so an age-based lifecycle rule keeps it', async () => {
  const shared = container();
  await new BlobEnvelopeKeys(shared).current();
  const blob = shared.getBlockBlobClient(ENVELOPE_KEY_BLOB);
  const before = (await blob.getProperties()).lastModified!;
  await new Promise((resolve) => setTimeout(resolve, 1100)); // Last-Modified has a resolution of one second
  const key = await new BlobEnvelopeKeys(shared, { now: () => Date.now() + 25 * 3_600_000 }).current();
  const after = await blob.getProperties();
  assert.ok(after.lastModified!.getTime() > before.getTime());
  assert.ok(after.metadata?.refreshed);
  assert.ok(key.equals(await new BlobEnvelopeKeys(shared).current()), 'the key itself is unchanged');
  // A younger blob is left alone.
  const touched = after.lastModified!.getTime();
  await new BlobEnvelopeKeys(shared).current();
  assert.equal((await blob.getProperties()).lastModified!.getTime(), touched);
});
