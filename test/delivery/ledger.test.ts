/**
 * The delivery ledger on real Azurite blobs: conditional create and If-Match
 * make exactly one of several concurrent claimants win, a sent entry is never
 * claimed again, a released one is, and a stale `sending` claim is taken over
 * only after its lease (the documented remaining window).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BlobServiceClient } from '@azure/storage-blob';
import { LocalAzurite } from '../../local/azurite';
import { BlobDeliveryLedger, ledgerBlobName } from '../../src/delivery/ledger';

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

function ledger(options: { leaseSeconds?: number; now?: () => Date } = {}) {
  const container = blobs.getContainerClient(`ledger-${++counter}`);
  return { container, ledger: new BlobDeliveryLedger(container, { leaseSeconds: options.leaseSeconds ?? 600, now: options.now }) };
}

const sent = { messageId: '<abc@example.com>', response: '250 2.6.0 <id> Queued mail for delivery', accepted: ['a@example.net'], rejected: [] };

test('the first claim wins; a sent entry is reported done with its Message-ID and reply, never claimed again', async () => {
  const { ledger: l, container } = ledger();
  const first = await l.claim('id:order-1', { queueMessageId: 'q1' });
  assert.equal(first.outcome, 'claimed');
  if (first.outcome !== 'claimed') return;
  await l.markSent(first.claim, sent);
  const again = await l.claim('id:order-1', { queueMessageId: 'q2' });
  assert.equal(again.outcome, 'done');
  assert.equal(again.outcome === 'done' && again.entry.messageId, '<abc@example.com>');
  assert.equal(again.outcome === 'done' && again.entry.smtpReply, sent.response);
  assert.equal(again.outcome === 'done' && again.entry.queueMessageId, 'q1');
  // Stored in the relay's storage account as one JSON blob per key.
  const stored = JSON.parse((await container.getBlockBlobClient(ledgerBlobName('id:order-1')).downloadToBuffer()).toString('utf8'));
  assert.equal(stored.state, 'sent');
  assert.equal(stored.key, 'id:order-1');
});

test('of 10 concurrent claims on one key exactly one wins, the others see it busy', async () => {
  const { ledger: l } = ledger();
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => l.claim('id:race', { queueMessageId: `q${i}` })));
  assert.equal(results.filter((result) => result.outcome === 'claimed').length, 1);
  assert.equal(results.filter((result) => result.outcome === 'busy').length, 9);
  for (const result of results) if (result.outcome === 'busy') assert.ok(result.retryAfterSeconds > 0 && result.retryAfterSeconds <= 600);
});

test('two instances (separate ledger objects) racing to take over a released entry: one wins', async () => {
  const { container } = ledger();
  const a = new BlobDeliveryLedger(container, { leaseSeconds: 600 });
  const b = new BlobDeliveryLedger(container, { leaseSeconds: 600 });
  const first = await a.claim('id:released', {});
  assert.equal(first.outcome, 'claimed');
  if (first.outcome === 'claimed') await a.release(first.claim, 'smtp_throttled');
  const results = await Promise.all([a.claim('id:released', {}), b.claim('id:released', {}), a.claim('id:released', {}), b.claim('id:released', {})]);
  assert.equal(results.filter((result) => result.outcome === 'claimed').length, 1);
  const winner = results.find((result) => result.outcome === 'claimed');
  assert.equal(winner?.outcome === 'claimed' && winner.previous?.state, 'retry');
  assert.equal(winner?.outcome === 'claimed' && winner.previous?.lastReason, 'smtp_throttled');
  assert.equal(winner?.outcome === 'claimed' && winner.claim.entry.claims, 2);
});

test('a stale sending claim (the holder died) is taken over only after its lease', async () => {
  let clock = new Date('2026-11-30T10:00:00Z');
  const { ledger: l } = ledger({ leaseSeconds: 600, now: () => clock });
  const dead = await l.claim('id:crashed', {});
  assert.equal(dead.outcome, 'claimed');
  clock = new Date('2026-11-30T10:09:00Z');
  const early = await l.claim('id:crashed', {});
  assert.equal(early.outcome, 'busy');
  assert.equal(early.outcome === 'busy' && early.retryAfterSeconds, 60);
  clock = new Date('2026-11-30T10:10:01Z');
  const late = await l.claim('id:crashed', {});
  assert.equal(late.outcome, 'claimed');
  assert.equal(late.outcome === 'claimed' && late.previous?.state, 'sending');
  // The dead holder's late write cannot overwrite the new claim.
  if (dead.outcome === 'claimed') await assert.rejects(l.markSent(dead.claim, sent), /changed by another instance/);
});

test('dead-lettered entries are done until replay reopens them; a sent entry cannot be reopened', async () => {
  const { ledger: l } = ledger();
  const claimed = await l.claim('id:dl', {});
  if (claimed.outcome !== 'claimed') assert.fail('not claimed');
  await l.markDeadLettered(claimed.claim, 'send_as_denied', 'record-1');
  const done = await l.claim('id:dl', {});
  assert.equal(done.outcome === 'done' && done.entry.deadLetterRecordId, 'record-1');
  assert.equal(await l.reopen('id:dl'), 'reopened');
  const replayed = await l.claim('id:dl', {});
  assert.equal(replayed.outcome, 'claimed');
  if (replayed.outcome === 'claimed') await l.markSent(replayed.claim, sent);
  assert.equal(await l.reopen('id:dl'), 'already-sent');
  assert.equal(await l.reopen('id:never-seen'), 'not-found');
});

test('keys with any characters map to valid, distinct blob names', async () => {
  const { ledger: l } = ledger();
  const keys = ['id:a/b/../c', 'id:with space', 'id:' + 'x'.repeat(200), 'queue:0d1b2c3a-uuid', 'id:ümlaut?#%'];
  for (const key of keys) {
    const result = await l.claim(key, {});
    assert.equal(result.outcome, 'claimed', key);
  }
  assert.equal(new Set(keys.map(ledgerBlobName)).size, keys.length);
  assert.equal((await l.read('id:with space'))?.key, 'id:with space');
});

test('storage that cannot be reached makes claim reject (the relay then keeps the message queued)', async () => {
  const dead = BlobServiceClient.fromConnectionString(
    azurite.connectionString.replace(/BlobEndpoint=http:\/\/127\.0\.0\.1:\d+/, 'BlobEndpoint=http://127.0.0.1:9'),
    { retryOptions: { maxTries: 1 } },
  );
  const l = new BlobDeliveryLedger(dead.getContainerClient('ledger-dead'), { leaseSeconds: 600 });
  await assert.rejects(l.claim('id:x', {}));
});
