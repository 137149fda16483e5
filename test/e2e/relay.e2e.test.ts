/**
 * End to end on real components: a message put on an Azurite queue, taken by
 * the queue runner (host semantics), relayed by the same handler as the queue
 * function, with a token from the local Entra-shaped HTTPS endpoint (through
 * @azure/identity, unchanged), over STARTTLS + XOAUTH2 to the local SMTP
 * server, which verifies every token and stores what it accepts as .eml.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { QueueClient } from '@azure/storage-queue';
import { BlobServiceClient } from '@azure/storage-blob';
import { simpleParser } from 'mailparser';
import { startLocalStack, LOCAL_MAILBOX, type LocalStack } from '../../local/stack';
import { LocalSmtpServer } from '../../local/smtpServer';
import { QueueRunner, type HostQueueSettings } from '../../src/worker/queueRunner';
import { loadConfig } from '../../src/settings';
import { createRelay, type Relay } from '../../src/app/relay';
import { stableMessageId } from '../../src/message/compose';
import type { Logger } from '../../src/core/log';
import type { DeadLetterRecord } from '../../src/delivery/deadLetters';

let stack: LocalStack;
const logLines: string[] = [];
const logger: Logger = {
  info: (message, props) => logLines.push(`info ${message} ${JSON.stringify(props ?? {})}`),
  warn: (message, props) => logLines.push(`warn ${message} ${JSON.stringify(props ?? {})}`),
  error: (message, props) => logLines.push(`error ${message} ${JSON.stringify(props ?? {})}`),
};

before(async () => {
  stack = await startLocalStack({ inMemory: true });
});

after(async () => {
  await stack?.close();
});

const MAX_ATTEMPTS = 3;
let counter = 0;

interface Harness {
  relay: Relay;
  queue: QueueClient;
  deadLetterQueue: QueueClient;
  runner: QueueRunner;
  /** Enqueue one message text as an application would. */
  enqueue(text: string): Promise<void>;
  deadLetters(): Promise<DeadLetterRecord[]>;
  close(): Promise<void>;
}

/** A relay of its own (own queues, token cache and SMTP pool) so each test's counts are its own. */
async function harness(overrides: Record<string, string> = {}, runnerSettings: Partial<HostQueueSettings> = {}): Promise<Harness> {
  const name = `e2e-${++counter}`;
  const settings = {
    ...stack.settings,
    RELAY_QUEUE_NAME: name,
    RELAY_DEADLETTER_QUEUE_NAME: `${name}-deadletter`,
    RELAY_DEADLETTER_CONTAINER: `${name}-deadletter`,
    RELAY_MAX_DEQUEUE_COUNT: String(MAX_ATTEMPTS),
    // Retry copies visible again at once, so retries are stepped by pollOnce() (backoff itself: test/unit/delivery).
    RELAY_RETRY_FIRST_DELAY_SECONDS: '0',
    RELAY_RETRY_MAX_DELAY_SECONDS: '0',
    RELAY_LEDGER_CONTAINER: `${name}-ledger`,
    ...overrides,
  };
  const relay = createRelay(loadConfig(settings), logger);
  const connection = stack.settings.AzureWebJobsStorage;
  const queue = new QueueClient(connection, name);
  const deadLetterQueue = new QueueClient(connection, `${name}-deadletter`);
  const runner = new QueueRunner({
    queue,
    poisonQueue: new QueueClient(connection, `${name}-poison`),
    // visibilityTimeout 0: a failed message is visible again at once, so retries are stepped by pollOnce().
    settings: {
      batchSize: 4,
      maxDequeueCount: MAX_ATTEMPTS,
      visibilityTimeoutSeconds: 0,
      maxPollingIntervalMs: 100,
      messageEncoding: 'none',
      ...runnerSettings,
    },
    handler: (payload, delivery) => relay.handleQueueMessage(payload, delivery, logger),
    logger,
  });
  await runner.start();
  await runner.stop(); // stepped by pollOnce() below
  return {
    relay,
    queue,
    deadLetterQueue,
    runner,
    enqueue: async (text) => void (await queue.sendMessage(text)),
    async deadLetters() {
      await deadLetterQueue.createIfNotExists();
      const received = await deadLetterQueue.peekMessages({ numberOfMessages: 32 });
      return received.peekedMessageItems.map((item) => JSON.parse(item.messageText) as DeadLetterRecord);
    },
    close: () => relay.close(),
  };
}

async function queueLength(queue: QueueClient): Promise<number> {
  return (await queue.getProperties()).approximateMessagesCount ?? 0;
}

const PDF = Buffer.from('%PDF-1.7\n% not really a pdf, but bytes to compare\n', 'utf8');
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

test('a queued message is delivered with the right envelope, headers, body and attachments', async () => {
  const h = await harness();
  const message = {
    id: 'order-4711',
    to: ['Zoë Ångström <zoe@example.net>', { name: 'Billing', address: 'billing@example.org' }],
    cc: 'copy@example.org',
    bcc: 'hidden@example.org',
    replyTo: 'support@example.com',
    subject: 'Facture n° 42 — reçue',
    text: 'Plain body ✓',
    html: '<p>HTML body <img src="cid:logo"></p>',
    headers: { 'X-Ticket': '4711' },
    attachments: [
      { filename: 'invoice.pdf', contentType: 'application/pdf', content: PDF.toString('base64') },
      { filename: 'logo.png', contentType: 'image/png', content: PNG.toString('base64'), contentId: 'logo' },
    ],
  };
  const before = stack.smtpServer.received.length;
  await h.enqueue(JSON.stringify(message));
  assert.equal(await h.runner.pollOnce(), 1);

  assert.equal(stack.smtpServer.received.length, before + 1);
  const received = stack.smtpServer.received.at(-1)!;
  assert.equal(received.user, LOCAL_MAILBOX, 'authenticated as the authorized mailbox');
  assert.equal(received.envelope.mailFrom, LOCAL_MAILBOX);
  assert.deepEqual([...received.envelope.rcptTo].sort(), ['billing@example.org', 'copy@example.org', 'hidden@example.org', 'zoe@example.net']);

  assert.ok(received.file, 'stored as an .eml file');
  const parsed = await simpleParser(readFileSync(received.file));
  assert.equal(parsed.subject, message.subject);
  assert.equal(parsed.from?.value[0]!.address, LOCAL_MAILBOX);
  const to = Array.isArray(parsed.to) ? parsed.to : [parsed.to!];
  assert.deepEqual(
    to.flatMap((group) => group.value.map((entry) => `${entry.name}|${entry.address}`)),
    ['Zoë Ångström|zoe@example.net', 'Billing|billing@example.org'],
  );
  assert.equal(parsed.headers.get('x-ticket'), '4711');
  assert.equal(parsed.headers.get('bcc'), undefined, 'Bcc recipients appear in no header');
  assert.equal(parsed.messageId, stableMessageId('order-4711', LOCAL_MAILBOX));
  assert.equal(parsed.text?.trim(), 'Plain body ✓');
  assert.match(String(parsed.html), /HTML body/);
  const pdf = parsed.attachments.find((attachment) => attachment.filename === 'invoice.pdf');
  assert.ok(pdf && pdf.content.equals(PDF), 'PDF attachment intact');
  const logo = parsed.attachments.find((attachment) => attachment.filename === 'logo.png');
  assert.ok(logo && logo.content.equals(PNG) && logo.contentId === '<logo>', 'inline image with its content id');

  assert.equal(await queueLength(h.queue), 0, 'removed from the queue');
  assert.deepEqual(await h.deadLetters(), []);
  assert.ok(logLines.some((line) => line.includes('relay.delivered') && line.includes(parsed.messageId!)));
  await h.close();
});

test('one token and one SMTP connection serve many messages', async () => {
  const h = await harness({}, { batchSize: 1 });
  const tokensBefore = stack.tokenServer.tokenRequests;
  const connectionsBefore = stack.smtpServer.connectionsOpened;
  const receivedBefore = stack.smtpServer.received.length;
  for (let i = 0; i < 12; i++) await h.enqueue(JSON.stringify({ to: 'many@example.net', subject: `n${i}`, text: 'x' }));
  while ((await h.runner.pollOnce()) > 0);
  assert.equal(stack.smtpServer.received.length - receivedBefore, 12);
  assert.equal(stack.tokenServer.tokenRequests - tokensBefore, 1, 'token fetched once');
  assert.equal(stack.smtpServer.connectionsOpened - connectionsBefore, 1, 'connection reused');
  await h.close();
});

test('concurrent messages share the token and stay within the pool size', async () => {
  const h = await harness({ SMTP_POOL_SIZE: '2' }, { batchSize: 8 });
  const tokensBefore = stack.tokenServer.tokenRequests;
  const connectionsBefore = stack.smtpServer.connectionsOpened;
  for (let i = 0; i < 8; i++) await h.enqueue(JSON.stringify({ to: 'burst@example.net', subject: `b${i}`, text: 'x' }));
  assert.equal(await h.runner.pollOnce(), 8);
  assert.equal(stack.tokenServer.tokenRequests - tokensBefore, 1, 'one request in flight for all');
  assert.ok(stack.smtpServer.connectionsOpened - connectionsBefore <= 2, 'never more connections than the pool size');
  await h.close();
});

test('a token rejected by the SMTP server (535 5.7.3) is refreshed once and the message delivered', async () => {
  const h = await harness();
  const tokensBefore = stack.tokenServer.tokenRequests;
  const receivedBefore = stack.smtpServer.received.length;
  stack.smtpServer.failNext('auth', { code: 535, message: '5.7.3 Authentication unsuccessful' });
  await h.enqueue(JSON.stringify({ to: 'retry-token@example.net', subject: 's', text: 'x' }));
  assert.equal(await h.runner.pollOnce(), 1);
  assert.equal(stack.smtpServer.received.length - receivedBefore, 1, 'delivered in the same attempt');
  assert.equal(stack.tokenServer.tokenRequests - tokensBefore, 2, 'exactly one refresh');
  assert.deepEqual(await h.deadLetters(), []);
  await h.close();
});

test('a permanent failure is dead-lettered at once with its reason, the reply and the original intact', async () => {
  const h = await harness();
  const receivedBefore = stack.smtpServer.received.length;
  stack.smtpServer.failNext('mail', { code: 550, message: '5.7.60 SMTP; Client does not have permissions to send as this sender' });
  const original = JSON.stringify({ id: 'perm-1', to: 'x@example.net', subject: 'perm', text: 'x' });
  await h.enqueue(original);
  assert.equal(await h.runner.pollOnce(), 1);
  assert.equal(stack.smtpServer.received.length, receivedBefore, 'nothing delivered');
  assert.equal(await queueLength(h.queue), 0, 'not retried');
  const [record, ...rest] = await h.deadLetters();
  assert.equal(rest.length, 0);
  assert.equal(record!.reason, 'send_as_denied');
  assert.equal(record!.kind, 'permanent');
  assert.match(record!.providerReply ?? '', /550 5\.7\.60/);
  assert.ok(record!.remedy && record!.remedy.length > 0);
  assert.equal(record!.original, original);
  assert.equal(record!.messageKey, 'perm-1');
  assert.equal(record!.attempts, 1);
  assert.ok(record!.deadLetteredAt && record!.firstEnqueuedAt && record!.queueMessageId);
  await h.close();
});

test('invalid input is dead-lettered with every problem listed, never sent', async () => {
  const h = await harness();
  const original = JSON.stringify({ to: [], subject: 'bad\r\nBcc: victim@example.net', text: 'x', colour: 'red' });
  await h.enqueue(original);
  await h.enqueue('this is not json');
  assert.equal(await h.runner.pollOnce(), 2);
  const records = await h.deadLetters();
  const byOriginal = new Map(records.map((record) => [record.original, record]));
  assert.equal(byOriginal.get('this is not json')?.reason, 'invalid_json');
  const invalid = byOriginal.get(original);
  assert.equal(invalid?.reason, 'invalid_message');
  for (const field of ['to', 'subject', 'colour']) assert.match(invalid.description, new RegExp(field));
  await h.close();
});

test('a transient failure is retried by the queue and then delivered', async () => {
  const h = await harness();
  const receivedBefore = stack.smtpServer.received.length;
  stack.smtpServer.failNext('data', { code: 451, message: '4.3.0 Mail server temporarily rejected message' });
  await h.enqueue(JSON.stringify({ to: 'later@example.net', subject: 'transient', text: 'x' }));
  assert.equal(await h.runner.pollOnce(), 1, 'first attempt fails');
  assert.equal(stack.smtpServer.received.length, receivedBefore);
  assert.equal(await queueLength(h.queue), 1, 'still queued for retry');
  assert.equal(await h.runner.pollOnce(), 1, 'second attempt');
  assert.equal(stack.smtpServer.received.length - receivedBefore, 1);
  assert.equal(await queueLength(h.queue), 0);
  assert.deepEqual(await h.deadLetters(), []);
  assert.ok(logLines.some((line) => line.includes('relay.retry') && line.includes('451')));
  await h.close();
});

test('a server that offers no AUTH is refused: nothing sent, dead-lettered with the reason on the last attempt', async () => {
  const noAuth = await LocalSmtpServer.start({
    tls: { certPem: stack.certs.certPem, keyPem: stack.certs.keyPem },
    authorizedMailboxes: [LOCAL_MAILBOX],
    verifyToken: (token) => stack.tokenServer.verifyAccessToken(token),
    offerAuth: false,
  });
  try {
    // A setup problem is retried until the maximum age; with 2 s that is a few attempts.
    const h = await harness({ SMTP_PORT: String(noAuth.port), RELAY_RETRY_MAX_AGE_SECONDS: '2' });
    await h.enqueue(JSON.stringify({ to: 'x@example.net', subject: 'no auth', text: 'x' }));
    let attempts = 0;
    while ((await h.deadLetters()).length === 0 && attempts < 200) {
      attempts += await h.runner.pollOnce();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(noAuth.received.length, 0, 'never sent unauthenticated');
    const [record] = await h.deadLetters();
    assert.equal(record!.reason, 'smtp_auth_not_offered');
    assert.equal(record!.finalAttempt, true);
    assert.equal(record!.attempts, attempts, 'every attempt counted across retry copies');
    assert.ok(attempts >= 2, 'retried before giving up');
    assert.equal(await queueLength(h.queue), 0);
    await h.close();
  } finally {
    await noAuth.close();
  }
});

test('base64-encoded queue text (the Functions default) is accepted like plain JSON', async () => {
  const h = await harness();
  const receivedBefore = stack.smtpServer.received.length;
  await h.enqueue(Buffer.from(JSON.stringify({ to: 'b64@example.net', subject: 'base64', text: 'x' })).toString('base64'));
  assert.equal(await h.runner.pollOnce(), 1);
  assert.equal(stack.smtpServer.received.length - receivedBefore, 1);
  await h.close();
});

test('a dead-letter record too large for a queue message is kept whole in a blob', async () => {
  const h = await harness();
  const original = JSON.stringify({ to: 'x@example.net', subject: 'big', text: 'y'.repeat(60_000), unknownField: true });
  await h.enqueue(original);
  assert.equal(await h.runner.pollOnce(), 1);
  const [record] = await h.deadLetters();
  assert.equal(record!.reason, 'invalid_message');
  assert.equal(record!.original, undefined);
  assert.ok(record!.recordBlob);
  const [container, ...path] = record!.recordBlob.split('/');
  const blob = BlobServiceClient.fromConnectionString(stack.settings.AzureWebJobsStorage).getContainerClient(container!).getBlobClient(path.join('/'));
  const full = JSON.parse((await blob.downloadToBuffer()).toString('utf8')) as DeadLetterRecord;
  assert.equal(full.original, original);
  assert.equal(full.recordId, record!.recordId);
  await h.close();
});

test('no client secret or access token appears in any log line or dead-letter record', async () => {
  const h = await harness();
  stack.smtpServer.failNext('auth', { code: 535, message: '5.7.3 Authentication unsuccessful' }, 2);
  await h.enqueue(JSON.stringify({ to: 'x@example.net', subject: 'leak check', text: 'x' }));
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) await h.runner.pollOnce();
  const records = JSON.stringify(await h.deadLetters());
  const everything = logLines.join('\n') + records;
  assert.ok(!everything.includes(stack.clientSecret), 'client secret leaked');
  assert.doesNotMatch(everything, /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/, 'a JWT leaked');
  await h.close();
});
