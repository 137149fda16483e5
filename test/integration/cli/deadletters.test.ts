/**
 * `oauth2-smtp-relay deadletters list | show | replay | purge` on Azurite, with
 * a settings file that holds the storage settings only (no OAUTH2_*, no SMTP_*,
 * no MAIL_*): filters, the --json shapes, a record that overflowed into a blob,
 * purge refusing without --yes when stdin is no terminal and asking when it is
 * one, the ledger keeping a purged message from going out, progress on stderr.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalStack, type LocalStack } from '../../../local/stack';
import { main } from '../../../src/app/cli';
import type { CliIo } from '../../../src/cli/main';
import { loadQueueConfig } from '../../../src/settings';
import { createStorageClients } from '../../../src/transport/storage';
import { DeadLetterWriter, MAX_INLINE_RECORD_BYTES, type DeadLetterRecord } from '../../../src/delivery/deadLetters';
import type { DeadLetterInput } from '../../../src/delivery/ports';
import { ENVELOPE_KEY_BLOB } from '../../../src/delivery/envelopeKey';
import { runCommand } from '../../support/command';
import { HARNESS_HEADER, headerValue, RelayHarness } from '../../support/relayHarness';

const NAME = 'dlcli';
const DAY_MS = 86_400_000;
let stack: LocalStack;
let harness: RelayHarness;
let settingsFile: string;
let storageOnly: Record<string, string>;

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  harness = await new RelayHarness(stack, { name: NAME }).start();
  storageOnly = {
    AzureWebJobsStorage: stack.settings.AzureWebJobsStorage,
    RELAY_QUEUE_NAME: NAME,
    RELAY_DEADLETTER_QUEUE_NAME: `${NAME}-deadletter`,
    RELAY_DEADLETTER_CONTAINER: `${NAME}-deadletter`,
    RELAY_LEDGER_CONTAINER: `${NAME}-ledger`,
  };
  settingsFile = join(stack.dir, 'storage-only.settings.json');
  writeFileSync(settingsFile, JSON.stringify({ IsEncrypted: false, Values: storageOnly }));
});

after(async () => {
  await harness?.close();
  await stack?.close();
});

interface Run {
  code: number;
  out: string;
  err: string;
}

async function cli(args: string[], io: Partial<CliIo> = {}): Promise<Run> {
  let out = '';
  let err = '';
  const code = await main(args, { env: {}, out: (text) => (out += text), err: (text) => (err += text), ...io });
  return { code, out, err };
}

async function records(): Promise<DeadLetterRecord[]> {
  const peeked = await harness.deadLetterQueue.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.map((item) => JSON.parse(item.messageText) as DeadLetterRecord);
}

/** Records as the relay writes them, dead-lettered `daysAgo` days ago. */
function writerAt(daysAgo: number, queue = `${NAME}-deadletter`): DeadLetterWriter {
  return new DeadLetterWriter(
    createStorageClients(loadQueueConfig(storageOnly).connection),
    queue,
    `${NAME}-deadletter`,
    () => new Date(Date.now() - daysAgo * DAY_MS),
  );
}

function input(reason: DeadLetterInput['reason'], original: string, messageKey?: string): DeadLetterInput {
  return { reason, kind: 'permanent', description: `dead-lettered for ${reason}`, original, messageKey, attempts: 1, finalAttempt: false };
}

function deliveries(key: string): number {
  return stack.smtpServer.received.filter((message) => headerValue(message.raw, HARNESS_HEADER) === key).length;
}

test('list, show and purge: filters, --json shapes, a record kept in a blob, purge by reason and age', async () => {
  const old = writerAt(10);
  const oldA = await old.write(input('sender_not_allowed', '{"id":"old-a","to":"a@example.net","text":"a"}', 'old-a'));
  const oldBig = await old.write(
    input('sender_not_allowed', JSON.stringify({ id: 'old-big', to: 'b@example.net', text: 'x'.repeat(MAX_INLINE_RECORD_BYTES) }), 'old-big'),
  );
  const oldOther = await old.write(input('invalid_message', '{"to":"c@example.net","text":"c","priority":"high"}'));
  const fresh = await writerAt(0).write(input('sender_not_allowed', '{"id":"fresh-d","to":"d@example.net","text":"d"}', 'fresh-d'));
  assert.ok(oldBig.recordBlob, 'the large record went to a blob');

  // list: all, by reason, since a time.
  const all = await cli(['deadletters', 'list', '--settings', settingsFile]);
  assert.equal(all.code, 0, all.err);
  assert.match(all.out, /^list: 4 examined, 4 listed$/m);
  assert.ok(all.out.includes(`${oldA.recordId}  `) && all.out.includes('id old-a'), all.out);
  const byReason = await cli(['deadletters', 'list', '--settings', settingsFile, '--reason', 'invalid_message', '--json']);
  const listed = JSON.parse(byReason.out);
  assert.deepEqual(Object.keys(listed).sort(), ['examined', 'records', 'unreadable']);
  assert.deepEqual(
    listed.records.map((record: DeadLetterRecord) => record.recordId),
    [oldOther.recordId],
  );
  assert.equal(listed.records[0].reason, 'invalid_message');
  assert.equal(listed.records[0].original, undefined, 'a list never holds the originals');
  const recent = JSON.parse((await cli(['deadletters', 'list', '--settings', settingsFile, '--since', '24h', '--json'])).out);
  assert.deepEqual(
    recent.records.map((record: DeadLetterRecord) => record.recordId),
    [fresh.recordId],
  );
  const sinceIso = JSON.parse(
    (await cli(['deadletters', 'list', '--settings', settingsFile, '--since', new Date(Date.now() - 11 * DAY_MS).toISOString(), '--json'])).out,
  );
  assert.equal(sinceIso.records.length, 4);
  assert.equal(sinceIso.records[3].recordId, fresh.recordId, 'oldest first');
  const twoReasons = JSON.parse(
    (
      await cli([
        'deadletters',
        'list',
        '--settings',
        settingsFile,
        '--reason',
        'invalid_message',
        '--reason',
        'sender_not_allowed',
        '--since',
        '30d',
        '--json',
      ])
    ).out,
  );
  assert.equal(twoReasons.records.length, 4);

  // show: the whole record with its original, from the blob for the large one.
  const shown = await cli(['deadletters', 'show', oldA.recordId, '--settings', settingsFile]);
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.out, /^reason +sender_not_allowed$/m);
  assert.match(shown.out, /^original:\n\{"id":"old-a"/m);
  const big = JSON.parse((await cli(['deadletters', 'show', oldBig.recordId, '--settings', settingsFile, '--json'])).out) as DeadLetterRecord;
  assert.equal(big.recordId, oldBig.recordId);
  assert.equal(JSON.parse(big.original!).id, 'old-big', 'the original is read from the blob');
  const missing = await cli(['deadletters', 'show', '00000000-0000-0000-0000-000000000000', '--settings', settingsFile]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no record "00000000-0000-0000-0000-000000000000"/);
  assert.equal((await records()).length, 4, 'list and show leave every record in place');

  // purge: older than 7 days with this reason only; the large record's blob goes with it.
  const purged = await cli(['deadletters', 'purge', '--reason', 'sender_not_allowed', '--older-than', '7d', '--yes', '--settings', settingsFile, '--json']);
  assert.equal(purged.code, 0, purged.err);
  const report = JSON.parse(purged.out);
  assert.equal(report.examined, 4);
  assert.deepEqual(report.counts, { purged: 2, 'would-purge': 0, failed: 0, kept: 2, unreadable: 0 });
  assert.deepEqual(report.items.map((item: { recordId: string }) => item.recordId).sort(), [oldA.recordId, oldBig.recordId].sort());
  assert.deepEqual((await records()).map((record) => record.recordId).sort(), [oldOther.recordId, fresh.recordId].sort());
  const [container, ...name] = oldBig.recordBlob.split('/');
  const blobs = createStorageClients(loadQueueConfig(storageOnly).connection).blobs;
  assert.equal(await blobs.getContainerClient(container!).getBlockBlobClient(name.join('/')).exists(), false, "the record's blob is deleted too");

  // Clean up for the next tests.
  await harness.deadLetterQueue.clearMessages();
});

test('purge without --yes: refused with the hint when stdin is no terminal (exit 2), asks on a terminal', async () => {
  const old = writerAt(10);
  const first = await old.write(input('invalid_message', '{"to":"e@example.net"}'));
  const args = ['deadletters', 'purge', '--reason', 'invalid_message', '--older-than', '7d', '--settings', settingsFile];

  // The package command in its own process: stdin is a pipe.
  const piped = await runCommand(args);
  assert.equal(piped.status, 2, piped.stderr);
  assert.match(piped.stderr, /stdin is not a terminal, so nothing was deleted\. Run again with --yes/);
  assert.ok(piped.stderr.includes(first.recordId), 'it shows what would be deleted');
  assert.equal((await records()).length, 1);

  const questions: string[] = [];
  const declined = await cli(args, { stdinIsTTY: true, ask: async (question) => (questions.push(question), 'n') });
  assert.equal(declined.code, 1);
  assert.match(questions[0]!, /Delete these 1 dead-letter records for good\? \[y\/N\]/);
  assert.equal((await records()).length, 1, 'declined: nothing deleted');

  // A record that arrives between the question and the answer is not deleted unasked.
  const confirmed = await cli(args, {
    stdinIsTTY: true,
    ask: async () => {
      await old.write(input('invalid_message', '{"to":"f@example.net"}'));
      return 'yes';
    },
  });
  assert.equal(confirmed.code, 0, confirmed.err);
  assert.match(confirmed.out, /^purge: 2 examined, 1 purged, 1 kept$/m);
  assert.deepEqual(
    (await records()).map((record) => record.original),
    ['{"to":"f@example.net"}'],
  );
  await harness.deadLetterQueue.clearMessages();
});

test('purge usage: a reason and an age are required, durations are checked', async () => {
  for (const args of [
    ['--older-than', '7d'],
    ['--reason', 'x'],
    ['--reason', 'x', '--older-than', '7 days'],
    ['--reason', 'x', '--older-than', '-1d'],
  ]) {
    const result = await cli(['deadletters', 'purge', ...args, '--settings', settingsFile]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.err}`);
  }
  assert.equal((await cli(['deadletters', 'list', '--since', 'yesterday', '--settings', settingsFile])).code, 2);
  assert.equal((await cli(['deadletters', 'frobnicate', '--settings', settingsFile])).code, 2);
});

test('a purged message stays dead-lettered in the ledger: the same message queued again is not sent', async () => {
  stack.smtpServer.failNext('mail', { code: 550, message: '5.7.60 SMTP; Client does not have permissions to send as this sender' });
  const message = { id: 'purge-me', to: 'g@example.net', subject: 'G', text: 'g' };
  await harness.enqueue('g', message);
  await harness.drain(10_000);
  assert.equal((await records()).length, 1);
  const purged = await cli(['deadletters', 'purge', '--reason', 'send_as_denied', '--older-than', '0m', '--yes', '--settings', settingsFile]);
  assert.match(purged.out, /1 purged/);
  assert.equal((await harness.ledger.read('id:purge-me'))?.state, 'dead-lettered');
  await harness.enqueue('g', message);
  await harness.drain(10_000);
  assert.equal(deliveries('g'), 0, 'not sent');
  assert.equal((await records()).length, 0, 'and not dead-lettered again');
});

test('deadletters replay (and replay) run with the storage settings alone and deliver once', async () => {
  stack.smtpServer.failNext('mail', { code: 550, message: '5.7.60 SMTP; Client does not have permissions to send as this sender' }, 2);
  await harness.enqueue('h', { id: 'replay-h', to: 'h@example.net', subject: 'H', text: 'h' });
  await harness.enqueue('i', { to: 'i@example.net', subject: 'I without id', text: 'i' });
  await harness.drain(10_000);
  assert.equal((await records()).length, 2);

  const dry = await cli(['replay', '--settings', settingsFile, '--dry-run']);
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /replay: 2 examined, 2 would-replay/);
  const run = await cli(['deadletters', 'replay', '--settings', settingsFile, '--reason', 'send_as_denied']);
  assert.equal(run.code, 0, run.err);
  assert.match(run.out, /replay: 2 examined, 2 replayed/);
  await harness.drain(10_000);
  assert.equal(deliveries('h'), 1);
  assert.equal(deliveries('i'), 1);
  assert.equal((await records()).length, 0);

  const poison = await cli(['deadletters', 'replay', '--from-poison', '--settings', settingsFile]);
  assert.equal(poison.code, 0, poison.err);
  assert.match(poison.out, /replay from poison: 0 examined/);
});

test('a record naming a blob outside the dead-letter container: show, replay and purge never read or delete it', async () => {
  // The ledger container holds the retry-envelope key; a record (not the relay's) pointing there must not reveal it.
  await harness.envelopes.current();
  const forged = {
    schema: 'oauth2-smtp-relay/dead-letter/v1',
    recordId: 'forged-0000',
    deadLetteredAt: new Date(Date.now() - 10 * DAY_MS).toISOString(),
    reason: 'invalid_message',
    kind: 'permanent',
    description: 'forged',
    attempts: 1,
    finalAttempt: false,
    recordBlob: `${NAME}-ledger/${ENVELOPE_KEY_BLOB}`,
  };
  await harness.deadLetterQueue.sendMessage(JSON.stringify(forged));
  const shown = await cli(['deadletters', 'show', 'forged-0000', '--settings', settingsFile]);
  assert.equal(shown.code, 1);
  assert.match(shown.err, /record "forged-0000" cannot be read: .*outside the dead-letter container/);
  assert.ok(!(shown.out + shown.err).includes('HMAC-SHA256'), 'the key blob is not printed');
  const replayed = await cli(['replay', '--settings', settingsFile]);
  assert.match(replayed.out, /unreadable .*outside the dead-letter container/);
  const purged = await cli(['deadletters', 'purge', '--reason', 'invalid_message', '--older-than', '7d', '--yes', '--settings', settingsFile]);
  assert.match(purged.out, /purged .*blob .* left: not in the dead-letter container/);
  const ledgerContainer = createStorageClients(loadQueueConfig(storageOnly).connection).blobs.getContainerClient(`${NAME}-ledger`);
  assert.equal(await ledgerContainer.getBlockBlobClient(ENVELOPE_KEY_BLOB).exists(), true, 'the key blob is still there');
});

test('long runs report progress on stderr and end with counts on stdout', async () => {
  const queue = `${NAME}-many`;
  const writer = writerAt(1, queue);
  for (let i = 0; i < 205; i++) await writer.write(input('invalid_message', `{"n":${i}}`));
  const settings = join(stack.dir, 'many.settings.json');
  writeFileSync(settings, JSON.stringify({ Values: { ...storageOnly, RELAY_DEADLETTER_QUEUE_NAME: queue } }));
  const listed = await cli(['deadletters', 'list', '--settings', settings]);
  assert.equal(listed.code, 0, listed.err);
  assert.equal(listed.err, 'list: 100 records examined so far\nlist: 200 records examined so far\n');
  assert.match(listed.out, /^list: 205 examined, 205 listed$/m);
  const replayed = await cli(['replay', '--dry-run', '--settings', settings]);
  assert.match(replayed.err, /replay: 200 records examined so far/);
  assert.match(replayed.out, /replay: 205 examined, 205 would-replay/);
});
