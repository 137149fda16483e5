/**
 * The handler's decision, one outcome per message: delivered, dead-lettered
 * (permanent, or retryable on its last attempt), or thrown for the queue to
 * retry. The sender here is a scripted stand-in so every branch is reached;
 * test/e2e shows the same paths on Azurite and the real SMTP server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { SendMailOptions } from 'nodemailer';
import { RelayError } from '../../../src/core/errors';
import { relayQueueMessage, RetryLaterError } from '../../../src/relay/handler';
import { queueHandler } from '../../../src/app/relay';
import type { DeadLetterInput, DeadLetterReceipt, MessageSender, SentMessage } from '../../../src/delivery/ports';
import type { Logger } from '../../../src/core/log';
import { registerSecret } from '../../../src/core/redact';
import type { RelayMessage, ReopenableStream } from '../../../src/message/types';
import { newDeliveryCounters } from '../../../src/core/metrics';

const mail = { user: 'relay@example.com', from: 'relay@example.com', allowedFrom: [], maxRecipients: 500 };
const config = { mail, queue: { maxDequeueCount: 5 } } as unknown as Parameters<typeof relayQueueMessage>[2]['config'];

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (message: string, props?: Record<string, unknown>) => lines.push(`${level} ${message} ${JSON.stringify(props ?? {})}`);
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}

function deadLetterSink(failWith?: Error) {
  const written: DeadLetterInput[] = [];
  return {
    written,
    async write(input: DeadLetterInput): Promise<DeadLetterReceipt> {
      if (failWith) throw failWith;
      written.push(input);
      return { recordId: `r${written.length}`, queueMessageId: `q${written.length}` };
    },
  };
}

function sender(result: SentMessage | RelayError): MessageSender & { sent: SendMailOptions[] } {
  const sent: SendMailOptions[] = [];
  return {
    sent,
    async send(options) {
      sent.push(options);
      if (result instanceof RelayError) throw result;
      return result;
    },
  };
}

const valid = JSON.stringify({ id: 'order-42', to: 'someone@example.net', subject: 'Hi', text: 'Hello' });
const ok: SentMessage = { messageId: '<x@example.com>', response: '250 2.0.0 OK', accepted: ['someone@example.net'], rejected: [] };

test('a valid message is delivered and logged with Message-ID, reply and recipients', async () => {
  const logger = recordingLogger();
  const smtp = sender(ok);
  const sink = deadLetterSink();
  const outcome = await relayQueueMessage(valid, { dequeueCount: 1, queueMessageId: 'm1' }, { config, sender: smtp, deadLetters: sink }, logger);
  assert.equal(outcome.status, 'delivered');
  assert.equal(smtp.sent.length, 1);
  assert.equal(sink.written.length, 0);
  const line = logger.lines.find((entry) => entry.includes('relay.delivered'));
  assert.ok(line?.includes('250 2.0.0 OK') && line.includes('<x@example.com>') && line.includes('someone@example.net'));
});

test('invalid JSON is dead-lettered at once with the original text intact and nothing sent', async () => {
  const smtp = sender(ok);
  const sink = deadLetterSink();
  const original = '{"to": "a@example.net", "subject": ';
  const outcome = await relayQueueMessage(original, { dequeueCount: 1 }, { config, sender: smtp, deadLetters: sink }, recordingLogger());
  assert.equal(outcome.status, 'dead-lettered');
  assert.equal(smtp.sent.length, 0);
  assert.equal(sink.written[0]!.reason, 'invalid_json');
  assert.equal(sink.written[0]!.original, original);
  assert.equal(sink.written[0]!.finalAttempt, false);
});

const permanentCases: Array<[string, RelayError]> = [
  [
    'send_as_denied',
    new RelayError('SendAs denied', {
      reason: 'send_as_denied',
      kind: 'permanent',
      providerReply: '550 5.7.60 SMTP; Client does not have permissions to send as this sender',
    }),
  ],
  [
    'recipients_rejected',
    new RelayError('all rejected', { reason: 'recipients_rejected', kind: 'permanent', providerReply: '550 5.1.10 RESOLVER.ADR.RecipientNotFound' }),
  ],
  [
    'message_too_large',
    new RelayError('too large', { reason: 'message_too_large', kind: 'permanent', providerReply: '552 5.3.4 Message size exceeds fixed maximum message size' }),
  ],
];
for (const [name, failure] of permanentCases) {
  test(`permanent failure ${name} is dead-lettered on the first attempt with the provider's reply`, async () => {
    const sink = deadLetterSink();
    const outcome = await relayQueueMessage(valid, { dequeueCount: 1 }, { config, sender: sender(failure), deadLetters: sink }, recordingLogger());
    assert.equal(outcome.status, 'dead-lettered');
    assert.equal(sink.written[0]!.reason, name);
    assert.equal(sink.written[0]!.providerReply, failure.providerReply);
    assert.equal(sink.written[0]!.original, valid);
    assert.equal(sink.written[0]!.messageKey, 'order-42');
    assert.equal(sink.written[0]!.attempts, 1);
  });
}

const retryable = [
  new RelayError('throttled', { reason: 'smtp_throttled', kind: 'transient', providerReply: '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded' }),
  new RelayError('bad secret', {
    reason: 'invalid_client_secret',
    kind: 'configuration',
    providerReply: 'invalid_client: AADSTS7000215: Invalid client secret provided.',
  }),
];
for (const failure of retryable) {
  test(`${failure.kind} failure ${failure.reason} throws for a retry before the last attempt, without dead-lettering`, async () => {
    const sink = deadLetterSink();
    await assert.rejects(
      relayQueueMessage(valid, { dequeueCount: 4 }, { config, sender: sender(failure), deadLetters: sink }, recordingLogger()),
      (error: unknown) => error instanceof RetryLaterError && error.failure.reason === failure.reason && error.message.includes(failure.reason),
    );
    assert.equal(sink.written.length, 0);
  });

  test(`${failure.kind} failure ${failure.reason} on the last allowed attempt is dead-lettered with its reason`, async () => {
    const sink = deadLetterSink();
    const outcome = await relayQueueMessage(valid, { dequeueCount: 5 }, { config, sender: sender(failure), deadLetters: sink }, recordingLogger());
    assert.equal(outcome.status, 'dead-lettered');
    assert.equal(sink.written[0]!.reason, failure.reason);
    assert.equal(sink.written[0]!.finalAttempt, true);
    assert.equal(sink.written[0]!.attempts, 5);
  });
}

test('an unexpected error is retried, and dead-lettered as internal_error on the last attempt', async () => {
  const boom: MessageSender = {
    send: async () => {
      throw new TypeError('boom');
    },
  };
  await assert.rejects(
    relayQueueMessage(valid, { dequeueCount: 1 }, { config, sender: boom, deadLetters: deadLetterSink() }, recordingLogger()),
    RetryLaterError,
  );
  const sink = deadLetterSink();
  const outcome = await relayQueueMessage(valid, { dequeueCount: 5 }, { config, sender: boom, deadLetters: sink }, recordingLogger());
  assert.equal(outcome.status, 'dead-lettered');
  assert.equal(sink.written[0]!.reason, 'internal_error');
});

test('when the dead-letter record cannot be written the message stays queued (the handler throws)', async () => {
  const failure = permanentCases[0]![1];
  const logger = recordingLogger();
  await assert.rejects(
    relayQueueMessage(
      valid,
      { dequeueCount: 1 },
      { config, sender: sender(failure), deadLetters: deadLetterSink(new Error('ECONNREFUSED 127.0.0.1:10001')) },
      logger,
    ),
    (error: unknown) => error instanceof RetryLaterError && error.failure.reason === 'storage_unavailable',
  );
  assert.ok(logger.lines.some((line) => line.includes('relay.deadletter_failed') && line.includes('send_as_denied')));
});

test('a token or secret inside a failure never reaches the log or the retry error', async () => {
  const secret = 'Zq8Q~not-a-real-secret-value-123456';
  registerSecret(secret);
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL291dGxvb2sub2ZmaWNlLmNvbSJ9.c2lnbmF0dXJl';
  const failure = new RelayError(`token ${jwt} with secret ${secret}`, { reason: 'smtp_throttled', kind: 'transient', providerReply: `Bearer ${jwt}` });
  const logger = recordingLogger();
  // Through the composition root's handler, as every entry point gets it (it logs through redaction).
  const error = await queueHandler({ config, sender: sender(failure), deadLetters: deadLetterSink() })(valid, { dequeueCount: 1 }, logger).catch(
    (e: unknown) => e as Error,
  );
  const everything = logger.lines.join('\n') + (error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : JSON.stringify(error));
  assert.ok(!everything.includes(secret), 'secret leaked');
  assert.ok(!everything.includes(jwt), 'token leaked');
});

test('delivery counters follow the outcomes: delivered, dead-lettered, retried and throttled', async () => {
  const counters = newDeliveryCounters();
  const deps = (smtp: MessageSender) => ({ config, sender: smtp, deadLetters: deadLetterSink(), counters });
  await relayQueueMessage(valid, { dequeueCount: 1 }, deps(sender(ok)), recordingLogger());
  await relayQueueMessage('not json', { dequeueCount: 1 }, deps(sender(ok)), recordingLogger());
  await assert.rejects(relayQueueMessage(valid, { dequeueCount: 1 }, deps(sender(retryable[0]!)), recordingLogger()));
  assert.deepEqual(counters, { delivered: 1, duplicatesSkipped: 0, retried: 1, deadLettered: 1, throttled: 1 });
});

test('the delivery line carries the outcome, attempt, duration and recipient count', async () => {
  const logger = recordingLogger();
  await relayQueueMessage(
    JSON.stringify({ to: ['a@example.net', 'b@example.net'], cc: 'c@example.net', text: 'x' }),
    { dequeueCount: 2 },
    { config, sender: sender(ok), deadLetters: deadLetterSink() },
    logger,
  );
  const line = logger.lines.find((entry) => entry.includes('relay.delivered'))!;
  const fields = JSON.parse(line.slice(line.indexOf('{')));
  assert.equal(fields.outcome, 'delivered');
  assert.equal(fields.attempt, 2);
  assert.equal(fields.recipients, 3);
  assert.equal(typeof fields.durationMs, 'number');
  assert.equal(fields.messageId, ok.messageId);
});

test('attachment streams a send did not read are closed (no blob download left open)', async () => {
  const content = Readable.from([Buffer.alloc(1000)], { objectMode: false }) as ReopenableStream;
  content.reopen = async () => content;
  const attachments = { resolve: async (message: RelayMessage) => ({ ...message, attachments: [{ filename: 'a.bin', content }] }) };
  // The send fails before reading the message, as when the rate limit hands it back to the queue.
  const throttled = new RelayError('the mailbox is throttled', { reason: 'smtp_throttled', kind: 'transient' });
  await assert.rejects(
    relayQueueMessage(valid, { dequeueCount: 1 }, { config, sender: sender(throttled), deadLetters: deadLetterSink(), attachments }, recordingLogger()),
    RetryLaterError,
  );
  assert.equal(content.destroyed, true);
});
