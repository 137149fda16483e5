/**
 * The delivery ledger on real Azurite blobs: conditional create and If-Match
 * make exactly one of several concurrent claimants win, a sent entry is never
 * claimed again, a released one is, and a stale `sending` claim is taken over
 * only after its lease (the documented remaining window); a renewal keeps a
 * live claim, a renewal after a takeover fails; another digest is a conflict;
 * the entry, not the caller, keeps the attempt count and first-enqueue time.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BlobServiceClient } from '@azure/storage-blob';
import { LocalAzurite } from '../../../local/azurite';
import { BlobDeliveryLedger, ledgerBlobName } from '../../../src/delivery/ledger';

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

test('renewing keeps a claim past its lease; a renewal after a takeover fails, and the final write needs the newest ETag', async () => {
  let clock = new Date('2026-11-30T10:00:00Z');
  const { ledger: l } = ledger({ leaseSeconds: 60, now: () => clock });
  const held = await l.claim('id:slow', {});
  if (held.outcome !== 'claimed') return assert.fail('not claimed');
  for (let i = 0; i < 5; i++) {
    clock = new Date(clock.getTime() + 20_000);
    await l.renew(held.claim);
  }
  // 120 s after the claim, 20 s after the last renewal: still held.
  clock = new Date(clock.getTime() + 20_000);
  const meanwhile = await l.claim('id:slow', {});
  assert.equal(meanwhile.outcome, 'busy');
  assert.equal(meanwhile.outcome === 'busy' && meanwhile.retryAfterSeconds, 40);
  // No renewal for a whole lease: taken over; the old holder can neither renew nor record.
  clock = new Date(clock.getTime() + 41_000);
  const taken = await l.claim('id:slow', {});
  assert.equal(taken.outcome, 'claimed');
  await assert.rejects(l.renew(held.claim), /changed by another instance/);
  await assert.rejects(l.markSent(held.claim, sent), /changed by another instance/);
  if (taken.outcome === 'claimed') {
    await l.renew(taken.claim);
    await l.markSent(taken.claim, sent);
  }
  assert.equal((await l.read('id:slow'))?.state, 'sent');
});

test('a claim with another content digest is a conflict in every state; the entry is left as it is', async () => {
  const { ledger: l } = ledger();
  const digest = 'rm1:sha256:' + 'a'.repeat(64);
  const other = 'rm1:sha256:' + 'b'.repeat(64);
  const first = await l.claim('id:reused', { digest, plannedMessageId: '<m@example.com>' });
  if (first.outcome !== 'claimed') return assert.fail('not claimed');
  assert.equal((await l.claim('id:reused', { digest: other })).outcome, 'conflict', 'sending');
  await l.release(first.claim, 'smtp_throttled');
  const retry = await l.claim('id:reused', { digest: other });
  assert.equal(retry.outcome, 'conflict', 'retry');
  assert.equal(retry.outcome === 'conflict' && retry.entry.plannedMessageId, '<m@example.com>');
  const again = await l.claim('id:reused', { digest });
  if (again.outcome !== 'claimed') return assert.fail('the same digest claims it');
  await l.markSent(again.claim, sent);
  assert.equal((await l.claim('id:reused', { digest: other })).outcome, 'conflict', 'sent');
  assert.equal((await l.claim('id:reused', { digest })).outcome, 'done');
  // An entry of another digest version cannot be compared: taken as the same message.
  assert.equal((await l.claim('id:reused', { digest: 'rm2:sha256:' + 'c'.repeat(64) })).outcome, 'done');
  const entry = await l.read('id:reused');
  assert.equal(entry?.digest, digest);
  assert.equal(entry?.claims, 2);
});

test('the entry keeps the highest attempt count and the first first-enqueue time; replay starts both afresh', async () => {
  const { ledger: l } = ledger();
  const first = await l.claim('id:counted', { attempt: 1, firstEnqueuedAt: '2026-11-30T10:00:00.000Z' });
  if (first.outcome !== 'claimed') return assert.fail('not claimed');
  await l.release(first.claim, 'smtp_throttled');
  const second = await l.claim('id:counted', { attempt: 5, firstEnqueuedAt: '2026-11-30T11:00:00.000Z' });
  if (second.outcome !== 'claimed') return assert.fail('not claimed');
  assert.equal(second.claim.entry.attempts, 5);
  assert.equal(second.claim.entry.firstEnqueuedAt, '2026-11-30T10:00:00.000Z');
  await l.release(second.claim, 'smtp_throttled');
  // An old copy that says attempt 2 and a later first-enqueue time changes neither.
  const old = await l.claim('id:counted', { attempt: 2, firstEnqueuedAt: '2099-01-01T00:00:00.000Z' });
  if (old.outcome !== 'claimed') return assert.fail('not claimed');
  assert.equal(old.claim.entry.attempts, 6);
  assert.equal(old.claim.entry.firstEnqueuedAt, '2026-11-30T10:00:00.000Z');
  await l.markDeadLettered(old.claim, 'smtp_throttled', 'record-9');
  assert.equal(await l.reopen('id:counted'), 'reopened');
  const replayed = await l.read('id:counted');
  assert.equal(replayed?.attempts, 0);
  assert.ok(Date.parse(replayed.firstEnqueuedAt!) > Date.parse('2026-12-01T00:00:00Z'));
});
