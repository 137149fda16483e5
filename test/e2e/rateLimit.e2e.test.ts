/**
 * A burst through the real path (Azurite queue → handler → SMTP) against a
 * server that enforces a per-mailbox rate, scaled from Exchange Online's
 * 30 a minute to 5 a second so the test takes seconds: the relay's throttle
 * keeps every send under the limit, so the server never throttles and every
 * message is delivered.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { QueueClient } from '@azure/storage-queue';
import { startLocalStack, LOCAL_MAILBOX, type LocalStack } from '../../local/stack';
import { LocalSmtpServer } from '../../local/smtpServer';
import { QueueRunner } from '../../src/worker/queueRunner';
import { loadConfig, oauthOf } from '../../src/settings';
import { createRelayComponents } from '../../src/app/components';
import { relayQueueMessage } from '../../src/relay/handler';
import { silentLogger } from '../../src/core/log';
import { createMailSender } from '../../src/smtp';
import { createTokenProvider } from '../../src/token';
import { MailboxThrottle } from '../../src/throttle/mailboxThrottle';
import { throttledSender } from '../../src/throttle/throttledSender';

let stack: LocalStack;
let limited: LocalSmtpServer;
const RATE = { messages: 5, windowMs: 1000 };

before(async () => {
  stack = await startLocalStack({ inMemory: true });
  limited = await LocalSmtpServer.start({
    tls: { certPem: stack.certs.certPem, keyPem: stack.certs.keyPem },
    authorizedMailboxes: [LOCAL_MAILBOX],
    verifyToken: (token) => stack.tokenServer.verifyAccessToken(token),
    rateLimit: RATE,
    maxConnections: 3,
  });
});

after(async () => {
  await limited?.close();
  await stack?.close();
});

function relayWith(throttle: MailboxThrottle | undefined) {
  const config = loadConfig({ ...stack.settings, SMTP_PORT: String(limited.port), RELAY_QUEUE_NAME: `rate-${throttle ? 'on' : 'off'}` });
  const base = createRelayComponents(config, silentLogger); // storage clients and dead letters as in production
  const plain = createMailSender({
    smtp: config.smtp,
    user: config.mail.user,
    tokens: createTokenProvider(oauthOf(config.auth)!, { extraCa: config.smtp.extraCa }),
  });
  const sender = throttle ? throttledSender(plain, throttle) : plain;
  const connection = stack.settings.AzureWebJobsStorage;
  const queue = new QueueClient(connection, config.queue.queueName);
  const runner = new QueueRunner({
    queue,
    poisonQueue: new QueueClient(connection, `${config.queue.queueName}-poison`),
    settings: { batchSize: 32, maxDequeueCount: 5, visibilityTimeoutSeconds: 0, maxPollingIntervalMs: 100, messageEncoding: 'none' },
    handler: (payload, delivery) => relayQueueMessage(payload, delivery, { config, sender, deadLetters: base.deadLetters }, silentLogger),
    logger: silentLogger,
  });
  return {
    queue,
    runner,
    close: () => {
      sender.close();
      base.sender.close();
    },
  };
}

test('a burst of 20 messages against a 5-per-second server: zero throttling replies, all delivered', async () => {
  const throttle = new MailboxThrottle({ messagesPerWindow: RATE.messages, windowMs: RATE.windowMs, maxWaitMs: 30_000, backoffMs: 1000 });
  const { queue, runner, close } = relayWith(throttle);
  await runner.start();
  await runner.stop();
  const before = limited.received.length;
  for (let i = 0; i < 20; i++) await queue.sendMessage(JSON.stringify({ to: 'burst@example.net', subject: `burst ${i}`, text: 'x' }));
  while ((await runner.pollOnce()) > 0);
  assert.equal(limited.rateRejections, 0, 'the server never had to throttle');
  assert.equal(limited.received.length - before, 20, 'every message delivered');
  assert.equal(throttle.stats.throttledReplies, 0);
  assert.ok(throttle.stats.waited > 0, 'the relay itself held messages back');
  close();
});

test('without the throttle the same burst trips the server limit (the test can fail)', async () => {
  const { queue, runner, close } = relayWith(undefined);
  await runner.start();
  await runner.stop();
  const rejectionsBefore = limited.rateRejections;
  await new Promise((resolve) => setTimeout(resolve, RATE.windowMs)); // let the previous test's window pass
  for (let i = 0; i < 20; i++) await queue.sendMessage(JSON.stringify({ to: 'burst@example.net', subject: `raw ${i}`, text: 'x' }));
  await runner.pollOnce();
  assert.ok(limited.rateRejections > rejectionsBefore, 'an unthrottled burst is refused with 432 4.3.2');
  close();
});
