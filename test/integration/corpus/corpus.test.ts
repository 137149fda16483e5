/**
 * Every corpus entry through the whole relay (Azurite queue, the host-like
 * runner, the relay, the local SMTP server): each must end delivered correctly
 * (checked on the parsed .eml) or dead-lettered once with its precise reason,
 * and the relay never crashes, hangs or sends an injected header.
 * Then the size edges: 10,000 recipients and a queue message at the 64 KiB limit.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { simpleParser } from 'mailparser';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import type { DeadLetterRecord } from '../../../src/delivery/deadLetters';
import { RelayHarness, HARNESS_HEADER, harnessKeyOfRecord, headerValue } from '../../support/relayHarness';
import { CORPUS, EVIL, assertAsciiHeaders, type CorpusEntry } from '../../support/hostileCorpus';

let stack: LocalStack;
let harness: RelayHarness;
/** Raw entries have no harness header: their records are found by their original text. */
const keyByOriginal = new Map<string, string>();
const keyOf = (record: DeadLetterRecord) => harnessKeyOfRecord(record) ?? keyByOriginal.get(record.original ?? '');

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  harness = await new RelayHarness(stack, { name: 'corpus', settings: { RELAY_RETRY_MAX_AGE_SECONDS: '5' } }).start();
});
after(async () => {
  await harness?.close();
  await stack?.close();
});

async function run(key: string, entry: CorpusEntry) {
  if (entry.message) {
    await harness.enqueue(key, entry.message);
  } else {
    const text = entry.text!;
    keyByOriginal.set(text, key);
    // The runner hands JSON over parsed, as the host does: a JSON string's original is its content.
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'string') keyByOriginal.set(parsed, key);
    } catch {
      // not JSON: kept as it is
    }
    await harness.enqueueText(key, text);
  }
  await harness.drain(30_000);
  const result = await harness.reconcile(keyOf);
  assert.deepEqual(result.lost, [], result.summary);
  assert.deepEqual(result.duplicated, [], result.summary);
  assert.equal(result.queued, 0, 'nothing left: the relay neither hung nor kept retrying');
  assert.equal(result.poisoned, 0, 'never crashed into the poison queue');
  return result;
}

function receivedFor(key: string) {
  return stack.smtpServer.received.filter((message) => headerValue(message.raw, HARNESS_HEADER) === key);
}

CORPUS.forEach((entry, index) => {
  test(`corpus: ${entry.name} → ${entry.expect.outcome === 'delivered' ? 'delivered correctly' : `dead-lettered (${entry.expect.reason})`}`, async () => {
    const key = `corpus-${index}`;
    const result = await run(key, entry);
    if (entry.expect.outcome === 'dead-lettered') {
      assert.equal(result.deliveries.get(key) ?? 0, 0, 'nothing sent');
      const records = result.deadLetters.get(key) ?? [];
      assert.equal(records.length, 1, result.summary);
      const [record] = records;
      assert.equal(record!.reason, entry.expect.reason, record!.description);
      assert.match(record!.description, entry.expect.problem);
      assert.equal(record!.kind, 'permanent');
      assert.equal(record!.attempts, 1, 'dead-lettered at once, not retried');
      assert.ok(record!.remedy, 'the record says what to do');
    } else {
      const received = receivedFor(key);
      assert.equal(received.length, 1, result.summary);
      const parsed = await simpleParser(received[0]!.raw);
      entry.expect.check(parsed, received[0]!.raw, received[0]!.envelope);
      assertAsciiHeaders(received[0]!.raw, entry.utf8Headers);
    }
  });
});

test('no message the SMTP server received carries an injected recipient or header', () => {
  for (const message of stack.smtpServer.received) {
    assert.ok(!message.envelope.rcptTo.includes(EVIL));
    assert.ok(!message.raw.toString('utf8').includes(EVIL));
  }
});

test('10,000 recipients (too big for any queue message, handed over directly): dead-lettered as too_many_recipients, the record kept whole in a blob', async () => {
  const to = Array.from({ length: 10_000 }, (_, n) => `user${n}@example.net`);
  const message = { id: 'ten-thousand', to, subject: 'everyone', text: 'x', headers: { [HARNESS_HEADER]: 'corpus-10k' } };
  const outcome = await harness.handleDirect('corpus-10k', message);
  assert.equal(outcome.status, 'dead-lettered');
  const result = await harness.reconcile(keyOf);
  const [record] = result.deadLetters.get('corpus-10k') ?? [];
  assert.equal(record?.reason, 'too_many_recipients');
  assert.match(record.description, /10000 recipients/);
  assert.ok(record.recordBlob, 'the record did not fit a queue message and was stored as a blob');
  assert.deepEqual(JSON.parse(record.original!).to, to, 'the original is kept whole');
  assert.equal(result.deliveries.get('corpus-10k') ?? 0, 0);
});

/** A valid message whose queue text is exactly `bytes` long. */
function messageOfSize(key: string, bytes: number, extra: Record<string, unknown> = {}): { text: string; body: string } {
  const shell = (body: string) => JSON.stringify({ id: key, to: 'a@example.net', subject: '64 KiB', text: body, headers: { [HARNESS_HEADER]: key }, ...extra });
  const body = 'ü'.repeat(100) + 'x'.repeat(bytes - Buffer.byteLength(shell('ü'.repeat(100))));
  const text = shell(body);
  assert.equal(Buffer.byteLength(text), bytes);
  return { text, body };
}

test('a queue message at the 64 KiB limit is delivered with its body intact', async () => {
  const { text, body } = messageOfSize('corpus-64k', 65_536);
  await harness.enqueueText('corpus-64k', text);
  await harness.drain(30_000);
  const result = await harness.reconcile(keyOf);
  assert.equal(result.deliveries.get('corpus-64k'), 1);
  const parsed = await simpleParser(receivedFor('corpus-64k')[0]!.raw);
  assert.equal(parsed.text?.replace(/\n$/, ''), body);
});

test('a queue message at the 64 KiB limit that fails permanently: one dead-letter record, stored as a blob, original intact', async () => {
  const { text } = messageOfSize('corpus-64k-dl', 65_536);
  stack.smtpServer.failNext('data', { code: 554, message: '5.6.0 Corrupt message content' });
  await harness.enqueueText('corpus-64k-dl', text);
  await harness.drain(30_000);
  const result = await harness.reconcile(keyOf);
  const [record] = result.deadLetters.get('corpus-64k-dl') ?? [];
  assert.equal(record?.reason, 'smtp_permanent_failure');
  assert.ok(record.recordBlob);
  assert.deepEqual(JSON.parse(record.original!), JSON.parse(text));
});

test('a queue message at the 64 KiB limit that fails transiently: its retry copy cannot fit, so the queue keeps the original and retries it; delivered once', async () => {
  const { text } = messageOfSize('corpus-64k-retry', 65_536);
  stack.smtpServer.failNext('data', { code: 451, message: '4.3.0 try again later' });
  await harness.enqueueText('corpus-64k-retry', text);
  await harness.drain(30_000);
  const result = await harness.reconcile(keyOf);
  assert.equal(result.deliveries.get('corpus-64k-retry'), 1);
  assert.equal(result.deadLetters.get('corpus-64k-retry'), undefined);
});
